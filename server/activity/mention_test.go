package activity

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMentions(t *testing.T) {
	names := []string{"Ana", "Ana Lima", "Bob", "Cem Öz", "Dee-Dee", "  "}
	cases := []struct {
		text string
		want []string
	}{
		{"hi @Ana", []string{"Ana"}},
		{"hi @ana lima, see this", []string{"Ana Lima"}},  // longest match wins
		{"hi @Ana Limas", []string{"Ana"}},                // "Ana Lima" must end at a word boundary
		{"@ANA LIMA: ok", []string{"Ana Lima"}},           // case-insensitive, start of text
		{"(@bob) and @Bob's and @bob.", []string{"Bob"}},  // punctuation around, each name once
		{"@Cem öz!", []string{"Cem Öz"}},                  // non-ASCII case folding
		{"@Dee-Dee and @Ana", []string{"Dee-Dee", "Ana"}}, // in order of first mention
		{"mail ana@example.com or bob@x", nil},            // "@" inside a word is no mention
		{"@Zed and @ and @@Bob", []string{"Bob"}},         // unknown names; "@@Bob" still names Bob
		{"@Anaïs is not Ana", nil},                        // a longer word is not the name
		{"@Bob\n@Ana\tLima", []string{"Bob", "Ana"}},      // a tab is not the name's space
		{"", nil},
	}
	for _, c := range cases {
		if got := Mentions(c.text, names); !slices.Equal(got, c.want) {
			t.Errorf("Mentions(%q) = %q, want %q", c.text, got, c.want)
		}
	}
	if got := Mentions("@Ana", nil); !slices.Equal(got, []string{"Ana"}) {
		t.Errorf("no names: %q", got)
	}
	if got := Mentions("@Ana", []string{}); got != nil {
		t.Errorf("empty name list matches nothing, got %q", got)
	}
}

func TestWordMentions(t *testing.T) {
	got := Mentions("ping @ana.lima, @bob-2 and @cem. also x@y and @", nil)
	if want := []string{"ana.lima", "bob-2", "cem"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func FuzzMentions(f *testing.F) {
	f.Add("hi @Ana Lima and @bob", "Ana Lima", "Bob")
	f.Add("@@@", "@", "")
	f.Add("\xff@\xfe", "\xfe", "Ö")
	f.Fuzz(func(t *testing.T, text, n1, n2 string) {
		names := []string{n1, n2}
		got := Mentions(text, names)
		for i, m := range got {
			if !slices.Contains(names, m) {
				t.Fatalf("returned %q, not one of the names", m)
			}
			if slices.Contains(got[i+1:], m) {
				t.Fatalf("returned %q twice", m)
			}
			if !strings.Contains(text, "@") {
				t.Fatalf("mention %q without an @", m)
			}
		}
		for _, w := range Mentions(text, nil) {
			if w == "" || !utf8.ValidString(w) && utf8.ValidString(text) || !strings.Contains(text, "@"+w) {
				t.Fatalf("word mention %q not in %q", w, text)
			}
		}
	})
}

func TestMentioned(t *testing.T) {
	b := seed(t)
	names := map[string]string{"ana": "Ana Lima", "bob": "Bob", "cem": "Cem"}
	mark := b.mark()
	b.as("cem", comment("c5", "n1", "cem", "@bob @Ana Lima look, says @cem"))
	b.as("ana", reply("c5r", "c5", "a0", "ana", "@Bob yes"))
	b.as("ana", note("n9", "@bob in a note is no mention"))
	got := Mentioned(SinceNames(b.server, b.log[mark:], names), names)
	summary := map[string][]string{}
	for id, evs := range got {
		for _, ev := range evs {
			summary[id] = append(summary[id], nameOf(ev.Element)+" "+string(ev.Action))
		}
	}
	want := map[string][]string{"bob": {"c5 commented", "c5r replied"}, "ana": {"c5 commented"}}
	if !reflect.DeepEqual(summary, want) {
		t.Errorf("mentioned: got %v, want %v", summary, want)
	}
}
