package crdt

import (
	"math"
	"testing"
)

// TestDots: the one rule that reads a vote value as dots.
func TestDots(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    Value
		dots float64
		ok   bool
	}{
		{"null withdraws", Null(), 0, true},
		{"false withdraws", Bool(false), 0, true},
		{"true is one", Bool(true), 1, true},
		{"zero withdraws", Number(0), 0, true},
		{"whole number", Number(3), 3, true},
		{"the most", Number(MaxDots), MaxDots, true},
		{"past the most", Number(MaxDots + 1), 0, false},
		{"negative", Number(-2), 0, false},
		{"fraction", Number(2.5), 0, false},
		{"huge", Number(math.MaxFloat64), 0, false},
		{"a reaction", String("🎉"), 0, false},
		{"a number as a string", String("3"), 0, false},
		{"empty string", String(""), 0, false},
	} {
		dots, ok := Dots(tc.v)
		if dots != tc.dots || ok != tc.ok {
			t.Errorf("%s: Dots(%s) = %g, %v; want %g, %v", tc.name, tc.v, dots, ok, tc.dots, tc.ok)
		}
	}
}

// TestTallyUsesDots: a string vote counts as a voter and gives no dots.
func TestTallyUsesDots(t *testing.T) {
	d := NewDoc()
	var e ElementID
	e[15] = 1
	tx := d.Begin(1, 1000)
	if err := tx.Create(e, "note"); err != nil {
		t.Fatal(err)
	}
	for voter, v := range map[string]Value{"ana": Number(2), "bo": String("🎉"), "cy": Bool(true), "di": Number(-7)} {
		if err := tx.Vote(e, "vote", voter, v); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := tx.Commit(); !ok {
		t.Fatal("empty change")
	}
	voters, sum := d.Tally(e, "vote")
	if voters != 4 || sum != 3 {
		t.Fatalf("Tally = %d voters, %g dots; want 4, 3", voters, sum)
	}
}
