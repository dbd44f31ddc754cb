package activity

import (
	"cmp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Mentions finds @name mentions in text, matching against the given display
// names (case-insensitive; names may contain spaces, longest match wins);
// returns the matched names as spelled in names, each once, in order of
// first mention. "@" counts only at the start of the text or after a
// character that is not a letter or digit (so "ana@example.com" mentions
// nobody), and a name must end at the end of the text or before a character
// that is not a letter or digit ("@Ana," and "@Ana's" mention Ana, "@Anaïs"
// does not).
//
// With names nil, a mention is "@" followed by a word of letters, digits,
// "_", "-" and "." (not ending in "."), returned without the "@".
//
// Rejected: splitting the text into "@word" tokens and looking the words up.
// Display names hold spaces ("Ana Lima"), and a member named "Ana" and one
// named "Ana Lima" must be told apart by the longest match.
func Mentions(text string, names []string) []string {
	if names == nil {
		return wordMentions(text)
	}
	type cand struct {
		name  string
		runes int
	}
	cands := make([]cand, 0, len(names))
	for _, n := range names {
		if t := strings.TrimSpace(n); t != "" && utf8.ValidString(t) {
			cands = append(cands, cand{n, utf8.RuneCountInString(t)})
		}
	}
	// Longest first, so the first match is the longest.
	slices.SortStableFunc(cands, func(a, b cand) int { return cmp.Compare(b.runes, a.runes) })
	var out []string
	prev := rune(-1)
	for i, r := range text {
		if r != '@' || isWordRune(prev) {
			prev = r
			continue
		}
		prev = r
		rest := text[i+1:]
		for _, c := range cands {
			if end, ok := hasPrefixFold(rest, strings.TrimSpace(c.name)); ok {
				next, _ := utf8.DecodeRuneInString(rest[end:])
				if end < len(rest) && isWordRune(next) {
					continue
				}
				if !slices.Contains(out, c.name) {
					out = append(out, c.name)
				}
				break
			}
		}
	}
	return out
}

// hasPrefixFold reports whether s starts with prefix, compared rune by rune
// with Unicode case folding; end is the byte length of the match in s.
func hasPrefixFold(s, prefix string) (end int, ok bool) {
	for _, pr := range prefix {
		if end >= len(s) {
			return 0, false
		}
		sr, size := utf8.DecodeRuneInString(s[end:])
		if sr != pr && !strings.EqualFold(string(sr), string(pr)) {
			return 0, false
		}
		end += size
	}
	return end, true
}

func isWordRune(r rune) bool {
	return r >= 0 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_')
}

func wordMentions(text string) []string {
	var out []string
	prev := rune(-1)
	for i, r := range text {
		if r != '@' || isWordRune(prev) {
			prev = r
			continue
		}
		prev = r
		rest := text[i+1:]
		end := strings.IndexFunc(rest, func(r rune) bool { return !isWordRune(r) && r != '-' && r != '.' })
		if end < 0 {
			end = len(rest)
		}
		w := strings.TrimRight(rest[:end], ".")
		if w != "" && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

// displayNames returns the distinct display names of a names map, sorted.
func displayNames(names map[string]string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Mentioned returns, for each user mentioned in the events (made by
// SinceNames with the same names), the events that mention them, in event
// order: whom to notify of what. An author mentioning themselves is left
// out.
func Mentioned(events []Event, names map[string]string) map[string][]Event {
	out := map[string][]Event{}
	for _, ev := range events {
		for _, id := range sortedKeys(names) {
			if !slices.Contains(ev.Mentions, names[id]) || slices.Contains(ev.By, id) {
				continue
			}
			out[id] = append(out[id], ev)
		}
	}
	return out
}
