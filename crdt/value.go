package crdt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// ValueKind says what a Value holds.
type ValueKind uint8

// Kinds of Value.
const (
	KindNull ValueKind = iota
	KindBool
	KindNumber
	KindString
	KindJSON // an array or object, held as compact canonical JSON text
)

// Value is a property value: null, a boolean, a float64 number, a string, or
// an arbitrary JSON array/object (positions, points of a stroke, styles).
// Values are replaced whole; the CRDT never looks inside a JSON value.
//
// Numbers and strings are held unboxed so that a board of a million numeric
// properties costs no allocation per value. The zero Value is null.
type Value struct {
	str  string // KindString: the string; KindJSON: canonical JSON text
	num  float64
	kind ValueKind
}

// Null, Bool, Number, String build Values.
func Null() Value { return Value{} }
func Bool(b bool) Value {
	v := Value{kind: KindBool}
	if b {
		v.num = 1
	}
	return v
}
func Number(f float64) Value { return Value{kind: KindNumber, num: f} }
func String(s string) Value  { return Value{kind: KindString, str: s} }

// JSONValue builds a Value from JSON text. Scalars become their own kinds;
// arrays and objects are compacted into canonical form (object keys sorted).
func JSONValue(text []byte) (Value, error) {
	var x any
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	if err := dec.Decode(&x); err != nil {
		return Value{}, fmt.Errorf("crdt: value: %v: %w", err, ErrMalformed)
	}
	if dec.More() {
		return Value{}, malformed("value: trailing data after JSON")
	}
	return valueFromAny(x)
}

func valueFromAny(x any) (Value, error) {
	switch t := x.(type) {
	case nil:
		return Null(), nil
	case bool:
		return Bool(t), nil
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil || math.IsInf(f, 0) {
			return Value{}, malformed("value: number %s out of range", t)
		}
		return Number(f), nil
	case float64:
		return Number(t), nil
	case string:
		return String(t), nil
	default:
		// json.Marshal sorts map keys, which makes the text canonical.
		b, err := json.Marshal(t)
		if err != nil {
			return Value{}, malformed("value: %v", err)
		}
		return Value{kind: KindJSON, str: string(b)}, nil
	}
}

// Kind returns what v holds.
func (v Value) Kind() ValueKind { return v.kind }

// IsNull reports whether v is null.
func (v Value) IsNull() bool { return v.kind == KindNull }

// AsBool returns the boolean (false unless KindBool and true).
func (v Value) AsBool() bool { return v.kind == KindBool && v.num != 0 }

// AsNumber returns the number (0 unless KindNumber).
func (v Value) AsNumber() float64 {
	if v.kind != KindNumber {
		return 0
	}
	return v.num
}

// AsString returns the string (empty unless KindString).
func (v Value) AsString() string {
	if v.kind != KindString {
		return ""
	}
	return v.str
}

// Equal reports whether two values are the same (NaN never occurs: JSON has
// none and the decoders refuse it).
func (v Value) Equal(w Value) bool {
	return v.kind == w.kind && v.num == w.num && v.str == w.str
}

// MarshalJSON renders the value as JSON.
func (v Value) MarshalJSON() ([]byte, error) { return v.AppendJSON(nil), nil }

// AppendJSON appends the JSON form of v.
func (v Value) AppendJSON(b []byte) []byte {
	switch v.kind {
	case KindBool:
		return strconv.AppendBool(b, v.num != 0)
	case KindNumber:
		return strconv.AppendFloat(b, v.num, 'g', -1, 64)
	case KindString:
		s, _ := json.Marshal(v.str)
		return append(b, s...)
	case KindJSON:
		return append(b, v.str...)
	}
	return append(b, "null"...)
}

// UnmarshalJSON parses any JSON value.
func (v *Value) UnmarshalJSON(b []byte) error {
	x, err := JSONValue(b)
	if err != nil {
		return err
	}
	*v = x
	return nil
}

// String renders v as JSON, for debugging and tests.
func (v Value) String() string { return string(v.AppendJSON(nil)) }

func (v Value) valid() error {
	switch v.kind {
	case KindNull:
		if v.num != 0 || v.str != "" {
			return malformed("value: null with payload")
		}
	case KindBool:
		if (v.num != 0 && v.num != 1) || v.str != "" {
			return malformed("value: bad bool")
		}
	case KindNumber:
		if math.IsNaN(v.num) || math.IsInf(v.num, 0) || v.str != "" {
			return malformed("value: number is not finite")
		}
	case KindString:
		if !utf8.ValidString(v.str) || v.num != 0 {
			return malformed("value: string is not UTF-8")
		}
	case KindJSON:
		if v.num != 0 || !json.Valid([]byte(v.str)) || len(v.str) == 0 || (v.str[0] != '[' && v.str[0] != '{') {
			return malformed("value: bad JSON payload")
		}
	default:
		return malformed("value: unknown kind %d", v.kind)
	}
	return nil
}
