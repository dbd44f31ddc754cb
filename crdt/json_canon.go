package crdt

// plainCanonicalJSON reports whether s is an array or object in the plain
// subset of canonical JSON, which it then certainly is: what JSONValue
// would turn s into is s itself, and s is valid JSON. The subset: no
// whitespace; strings of printable ASCII with no escape and none of the
// characters encoding/json writes escaped (<, > and &); numbers as JSON
// writes them (kept verbatim: JSONValue reads them as json.Number); object
// keys in strictly ascending byte order; nesting at most 64 deep. False
// says nothing: s may still be canonical (an escape, a non-ASCII
// character), and the full check (JSONValue, a decode and a re-encode)
// decides.
//
// It exists for loading: a snapshot or change holds JSON values (a
// stroke's points, a connector's ends) that the reader must confirm are
// canonical, and the decode into interface values and re-encode of
// encoding/json took a third of loading a board of strokes and connectors
// in the browser's WebAssembly. Rejected: trusting a snapshot's values
// unchecked (a snapshot is input like any other: a value with two
// encodings would let replicas diverge), and a complete hand-written
// canonical check (escapes, UTF-8, encoding/json's exact escaping rules:
// one more thing to keep in step with encoding/json, for values the web
// client and nodes do not write).
func plainCanonicalJSON(s string) bool {
	if len(s) == 0 || (s[0] != '[' && s[0] != '{') {
		return false
	}
	p := canonScan{s: s}
	return p.value(0) && p.i == len(s)
}

// canonScan is the cursor of plainCanonicalJSON.
type canonScan struct {
	s string
	i int
}

const plainCanonMaxDepth = 64

func (p *canonScan) value(depth int) bool {
	if p.i >= len(p.s) {
		return false
	}
	switch c := p.s[p.i]; {
	case c == '[':
		if depth >= plainCanonMaxDepth {
			return false
		}
		p.i++
		if p.i < len(p.s) && p.s[p.i] == ']' {
			p.i++
			return true
		}
		for {
			if !p.value(depth + 1) {
				return false
			}
			if p.i >= len(p.s) {
				return false
			}
			switch p.s[p.i] {
			case ',':
				p.i++
			case ']':
				p.i++
				return true
			default:
				return false
			}
		}
	case c == '{':
		if depth >= plainCanonMaxDepth {
			return false
		}
		p.i++
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return true
		}
		prev, first := "", true
		for {
			k, ok := p.str()
			if !ok || (!first && k <= prev) {
				return false
			}
			prev, first = k, false
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return false
			}
			p.i++
			if !p.value(depth + 1) {
				return false
			}
			if p.i >= len(p.s) {
				return false
			}
			switch p.s[p.i] {
			case ',':
				p.i++
			case '}':
				p.i++
				return true
			default:
				return false
			}
		}
	case c == '"':
		_, ok := p.str()
		return ok
	case c == 't':
		return p.lit("true")
	case c == 'f':
		return p.lit("false")
	case c == 'n':
		return p.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.num()
	}
	return false
}

func (p *canonScan) lit(w string) bool {
	if len(p.s)-p.i < len(w) || p.s[p.i:p.i+len(w)] != w {
		return false
	}
	p.i += len(w)
	return true
}

// str reads a string of the plain subset and returns its content.
func (p *canonScan) str() (string, bool) {
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return "", false
	}
	start := p.i + 1
	for j := start; j < len(p.s); j++ {
		c := p.s[j]
		if c == '"' {
			p.i = j + 1
			return p.s[start:j], true
		}
		if c < 0x20 || c > 0x7e || c == '\\' || c == '<' || c == '>' || c == '&' {
			return "", false
		}
	}
	return "", false
}

// num reads a number in JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *canonScan) num() bool {
	s, i := p.s, p.i
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if digits() == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	p.i = i
	return true
}
