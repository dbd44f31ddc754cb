package crdt

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// stepLoad loads data with a SnapshotLoader in steps of the given budgets
// (cycled), as the web page does, and counts the steps.
func stepLoad(t testing.TB, data []byte, budgets ...int) (*Doc, int, error) {
	l := NewSnapshotLoader(data)
	for steps := 1; ; steps++ {
		done, err := l.Step(budgets[(steps-1)%len(budgets)])
		if done || err != nil {
			if err == nil && l.Doc() == nil {
				t.Fatal("done without an error, but no doc")
			}
			return l.Doc(), steps, err
		}
		if steps > 64*len(data)+64 { // a byte of input inflates to far fewer than 64 bytes here
			t.Fatalf("no progress after %d steps", steps)
		}
	}
}

// A load in steps gives the very doc a load in one call gives, for every
// budget, both snapshot formats and boards with texts, votes, moves and
// held changes; and it takes more steps for smaller budgets.
func TestSnapshotLoaderSteps(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Logf("seed %d", seed)
			s := newSim(t, seed, 3)
			s.run(300)
			rng := rand.New(rand.NewPCG(seed, 7))
			for _, d := range []*Doc{s.reps[0].doc, s.reps[1].doc} {
				for _, data := range [][]byte{d.Snapshot(), d.SnapshotRaw()} {
					whole, err := LoadSnapshot(data)
					if err != nil {
						t.Fatal(err)
					}
					want := whole.Snapshot()
					prevSteps := 0
					for _, budget := range []int{1 << 30, 4096, 64, 1} {
						got, steps, err := stepLoad(t, data, budget)
						if err != nil {
							t.Fatalf("budget %d: %v", budget, err)
						}
						if !bytes.Equal(got.Snapshot(), want) {
							t.Fatalf("budget %d: the doc differs from LoadSnapshot's", budget)
						}
						mixed, _, err := stepLoad(t, data, budget, 1+rng.IntN(300))
						if err != nil || !bytes.Equal(mixed.Snapshot(), want) {
							t.Fatalf("budgets %d and random: the doc differs from LoadSnapshot's (%v)", budget, err)
						}
						if steps < prevSteps {
							t.Fatalf("budget %d took %d steps, a larger one %d", budget, steps, prevSteps)
						}
						prevSteps = steps
					}
					if prevSteps < 10 {
						t.Fatalf("a budget of 1 byte loaded in %d steps", prevSteps)
					}
				}
			}
		})
	}
}

// Corrupt snapshots fail in steps with LoadSnapshot's error, and a loader
// says the same again after its error.
func TestSnapshotLoaderErrors(t *testing.T) {
	const seed = 11
	t.Logf("seed %d", seed)
	s := newSim(t, seed, 3)
	s.run(200)
	rng := rand.New(rand.NewPCG(seed, 3))
	failed := 0
	for _, base := range [][]byte{s.reps[0].doc.SnapshotRaw(), s.reps[1].doc.Snapshot()} {
		for range 300 {
			data := bytes.Clone(base)
			switch rng.IntN(3) {
			case 0:
				data[2+rng.IntN(len(data)-2)] ^= byte(1 + rng.IntN(255))
			case 1:
				data = data[:2+rng.IntN(len(data)-2)]
			default:
				data = append(data, byte(rng.IntN(256)))
			}
			_, werr := LoadSnapshot(data)
			l := NewSnapshotLoader(data)
			var err error
			for done := false; !done; {
				done, err = l.Step(1 + rng.IntN(200))
			}
			if fmt.Sprint(err) != fmt.Sprint(werr) {
				t.Fatalf("in steps: %v; in one call: %v", err, werr)
			}
			if err != nil {
				failed++
				if l.Doc() != nil {
					t.Fatal("a doc after an error")
				}
				if done, again := l.Step(1); !done || fmt.Sprint(again) != fmt.Sprint(err) {
					t.Fatalf("after the error: done %v, %v", done, again)
				}
			}
		}
	}
	if failed < 300 {
		t.Fatalf("only %d of 600 corruptions failed to load", failed)
	}
}
