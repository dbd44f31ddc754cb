package activity

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/corkboard/corkboard/crdt"
)

// seed makes a board that existed before the member's last visit.
func seed(t testing.TB) *testBoard {
	b := newBoard(t)
	b.as("ana", note("n1", "Idea one"))
	b.as("ana", note("n2", "Idea two"))
	b.as("ana", note("n3", "Idea three"))
	b.as("ana", note("gone", "Deleted before"))
	b.as("ana", del("gone"))
	b.as("bob", comment("c0", "n2", "bob", "Old thread"))
	b.as("bob", set("c0", "resolved", crdt.Bool(true)))
	b.as("ana", func(tx *crdt.Tx) error { return createText(tx, "m1", "mindmap", "Topic") })
	b.as("ana", func(tx *crdt.Tx) error {
		if err := createText(tx, "m2", "mindmap", "Sub"); err != nil {
			return err
		}
		return tx.Move(el("m2"), el("m1"), "a0")
	})
	return b
}

func TestSinceEveryAction(t *testing.T) {
	b := seed(t)
	mark := b.mark()
	bob := b.user("bob")
	b.as("bob", setText(bob.doc, "n1", "Idea one, improved"))
	b.as("cem", set("n2", "x", crdt.Number(300)))
	b.as("cem", move("m2", "", "a5")) // out of the mindmap: a tree move
	b.as("ana", del("n3"))
	b.as("ana", restore("gone"))
	b.as("bob", note("n4", "Brand new"))
	b.as("ana", comment("c1", "n1", "ana", "Nice, @bob what do you think?"))
	b.as("bob", reply("r1", "c1", "a0", "bob", "Agreed"))
	b.as("cem", set("c1", "resolved", crdt.Bool(true)))
	b.as("ana", set("c0", "resolved", crdt.Bool(false)))
	b.as("ana", vote("n1", "ana", 2))
	b.as("cem", react("n1", "cem", "🎉"))

	got := b.since(mark)
	want := []brief{
		{"n1", Edited, "bob", 1},
		{"n1", Voted, "ana,cem", 2},
		{"n2", Moved, "cem", 1},
		{"m2", Moved, "cem", 1},
		{"n3", Deleted, "ana", 1},
		{"gone", Restored, "ana", 1},
		{"n4", Added, "bob", 1},
		{"c1", Commented, "ana", 1},
		{"c1", Resolved, "cem", 1},
		{"r1", Replied, "bob", 1},
		{"c0", Reopened, "ana", 1},
	}
	if g := briefs(got); !reflect.DeepEqual(g, want) {
		t.Fatalf("events:\n got %+v\nwant %+v", g, want)
	}
	byKey := map[string]Event{}
	for _, ev := range got {
		byKey[nameOf(ev.Element)+" "+string(ev.Action)] = ev
	}
	if ev := byKey["n1 edited"]; ev.Text != "Idea one, improved" || ev.Kind != "note" {
		t.Errorf("edit event text %q kind %q", ev.Text, ev.Kind)
	}
	c1 := byKey["c1 commented"]
	if c1.Kind != "comment" || c1.Target != el("n1").String() || c1.TargetText != "Idea one, improved" {
		t.Errorf("comment target %q (%q)", c1.Target, c1.TargetText)
	}
	if !slices.Equal(c1.Mentions, []string{"bob"}) {
		t.Errorf("mentions without names: %q", c1.Mentions)
	}
	if r1 := byKey["r1 replied"]; r1.Target != el("c1").String() || r1.Text != "Agreed" {
		t.Errorf("reply target %q text %q", r1.Target, r1.Text)
	}
	// What a comment and a reply are about: the note their thread is
	// pinned to, not the thread's first comment.
	for _, k := range []string{"c1 commented", "c1 resolved", "r1 replied"} {
		if ev := byKey[k]; ev.On != el("n1").String() || ev.OnText != "Idea one, improved" {
			t.Errorf("%s: on %q (%q), want n1", k, ev.On, ev.OnText)
		}
	}
	// At is the latest acceptance time of the folded changes.
	if v := byKey["n1 voted"]; v.At != b.log[len(b.log)-1].Accepted {
		t.Errorf("vote event at %d, want the last change's %d", v.At, b.log[len(b.log)-1].Accepted)
	}
	// The JSON form the REST API serves.
	j, err := json.Marshal(byKey["n4 added"])
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(j, &back); err != nil {
		t.Fatal(err)
	}
	if back["element"] != el("n4").String() || back["action"] != "added" || back["text"] != "Brand new" ||
		back["kind"] != "note" || back["count"] != 1.0 {
		t.Errorf("JSON %s", j)
	}
	if _, ok := back["mentions"]; ok {
		t.Errorf("empty mentions should be omitted: %s", j)
	}
}

func TestSinceFolding(t *testing.T) {
	b := seed(t)
	mark := b.mark()
	// Added then edited and moved by others: one "added", creator first.
	b.as("bob", note("n5", "Draft"))
	b.as("cem", setText(b.user("cem").doc, "n5", "Final"))
	b.as("ana", set("n5", "y", crdt.Number(40)))
	b.as("cem", set("n5", "color", crdt.String("pink")))
	// Added then deleted: nothing.
	b.as("bob", note("n6", "Oops"))
	b.as("bob", del("n6"))
	// Edited twice by one person, in two changes: one event, count 2.
	b.as("ana", appendText(b.user("ana").doc, "n1", "!"))
	b.as("ana", appendText(b.user("ana").doc, "n1", "!"))
	// Deleted and restored: the two cancel out, the edit in between stays.
	b.as("bob", del("n2"))
	b.as("cem", restore("n2"))
	b.as("cem", appendText(b.user("cem").doc, "n2", " (kept)"))
	// Edited, then deleted: only "deleted".
	b.as("bob", appendText(b.user("bob").doc, "n3", "?"))
	b.as("ana", del("n3"))
	// A vote given and withdrawn: nothing. A reaction changed twice: one.
	b.as("bob", vote("n1", "bob", 1))
	b.as("bob", vote("n1", "bob", 0))
	b.as("cem", react("n2", "cem", "👍"))
	b.as("cem", react("n2", "cem", "❤️"))
	// Resolved and reopened: nothing.
	b.as("bob", comment("c2", "n1", "bob", "Question"))
	mark2 := b.mark()
	b.as("ana", set("c2", "resolved", crdt.Bool(true)))
	b.as("bob", set("c2", "resolved", crdt.Bool(false)))
	// The parent of a mindmap node deleted: the child's edit is hidden.
	b.as("cem", appendText(b.user("cem").doc, "m2", " edited"))
	b.as("ana", del("m1"))

	// In the order each element was first touched in the window.
	want := []brief{
		{"n5", Added, "bob,cem,ana", 4},
		{"n1", Edited, "ana", 2},
		{"n2", Edited, "cem", 1},
		{"n2", Voted, "cem", 2},
		{"n3", Deleted, "ana", 1},
		{"c2", Commented, "bob", 1},
		{"m1", Deleted, "ana", 1},
	}
	got := b.since(mark)
	if g := briefs(got); !reflect.DeepEqual(g, want) {
		t.Fatalf("events:\n got %+v\nwant %+v", g, want)
	}
	if got[0].Text != "Final" {
		t.Errorf("added note previews %q, want its current text", got[5].Text)
	}
	// From the second mark, c2's resolve and reopen still cancel out.
	for _, ev := range b.since(mark2) {
		if nameOf(ev.Element) == "c2" {
			t.Errorf("resolve+reopen left %+v", ev)
		}
	}
	// Passing a change twice changes nothing.
	twice := append(slices.Clone(b.log[mark:]), b.log[mark:]...)
	if g := briefs(Since(b.server, twice)); !reflect.DeepEqual(g, want) {
		t.Errorf("duplicated window:\n got %+v\nwant %+v", g, want)
	}
}

func TestSinceWithdrawnBaselineVote(t *testing.T) {
	b := seed(t)
	b.as("bob", vote("n1", "bob", 3))
	mark := b.mark()
	b.as("bob", vote("n1", "bob", 0))
	if evs := b.since(mark); len(evs) != 0 {
		t.Fatalf("a withdrawal is not a vote: %+v", evs)
	}
	if voters, _ := b.server.Tally(el("n1"), "vote"); voters != 0 {
		t.Fatalf("tally after withdrawal: %d voters", voters)
	}
}

// Two people edit one note offline; the server gets their changes late and
// interleaved. Both are named, in the order their changes arrived.
func TestSinceOfflineConcurrent(t *testing.T) {
	b := seed(t)
	b.pull(b.user("bob"))
	b.pull(b.user("cem"))
	mark := b.mark()
	b.offline["bob"], b.offline["cem"] = true, true
	b.as("cem", appendText(b.user("cem").doc, "n1", " plus C"))
	b.as("bob", appendText(b.user("bob").doc, "n1", " plus B"))
	b.as("bob", set("n1", "x", crdt.Number(10)))
	b.deliver("bob")
	b.deliver("cem")
	got := b.since(mark)
	want := []brief{{"n1", Edited, "bob,cem", 2}, {"n1", Moved, "bob", 1}}
	if g := briefs(got); !reflect.DeepEqual(g, want) {
		t.Fatalf("events:\n got %+v\nwant %+v", g, want)
	}
	if txt := b.server.Text(el("n1"), "text"); got[0].Text != txt || len(txt) != len("Idea one plus C plus B") {
		t.Errorf("preview %q, board text %q", got[0].Text, txt)
	}
}

func TestSinceMentionsWithNames(t *testing.T) {
	b := seed(t)
	names := map[string]string{"ana": "Ana Lima", "bob": "Bob", "cem": "Cem Öz"}
	b.as("cem", comment("c3", "n1", "cem", "cc @ana lima and @BOB, not @zed"))
	mark := b.mark()
	first := SinceNames(b.server, b.log[mark-1:mark], names)
	if len(first) != 1 || !slices.Equal(first[0].Mentions, []string{"Ana Lima", "Bob"}) {
		t.Fatalf("new comment mentions: %+v", first)
	}
	// An edit that types a new mention: only the new one is reported.
	cem := b.user("cem")
	for _, r := range " @Cem Öz" {
		b.as("cem", appendText(cem.doc, "c3", string(r)))
	}
	evs := SinceNames(b.server, b.log[mark:], names)
	if len(evs) != 1 || evs[0].Action != Edited || !slices.Equal(evs[0].Mentions, []string{"Cem Öz"}) {
		t.Fatalf("edited comment: %+v", evs)
	}
	if evs[0].Count != utf8.RuneCountInString(" @Cem Öz") { // one change per rune typed
		t.Errorf("count %d", evs[0].Count)
	}
}

func TestSinceSkipsUnknownElements(t *testing.T) {
	b := seed(t)
	other := crdt.NewDoc() // a board that never saw these changes
	if evs := Since(other, b.log); len(evs) != 0 {
		t.Fatalf("events for elements the board lacks: %+v", evs)
	}
	if evs := Since(b.server, nil); len(evs) != 0 {
		t.Fatalf("empty window: %+v", evs)
	}
}

func TestSinceExceptOwnChanges(t *testing.T) {
	b := seed(t)
	mark := b.mark()
	b.as("ana", note("n7", "Mine"))
	b.as("bob", appendText(b.user("bob").doc, "n7", ", edited by Bob"))
	b.as("ana", vote("n1", "ana", 1))
	b.as("bob", note("n8", "Bob's"))
	b.as("ana", del("n8"))
	// Her own changes are no news to her: filtered out before Since, not
	// after, so that the folding sees the window as she does (a note she
	// added and someone else edited is "edited" for her).
	var others []Change
	for _, c := range b.log[mark:] {
		if c.Author != "ana" {
			others = append(others, c)
		}
	}
	got := Since(b.server, others)
	// For Ana: Bob edited her note; Bob's note she deleted is gone; her
	// own vote is no news.
	want := []brief{{"n7", Edited, "bob", 1}}
	if g := briefs(got); !reflect.DeepEqual(g, want) {
		t.Fatalf("events for ana:\n got %+v\nwant %+v", g, want)
	}
	if all := Since(b.server, b.log[mark:]); len(all) != 2 {
		t.Fatalf("events for everyone: %+v", all)
	}
}

// Everything that happens to an element added in the window, deletion and
// restoration and hiding under a frame included, folds into "added" while
// it is on the board, and disappears with it.
func TestSinceAddedLifecycle(t *testing.T) {
	b := seed(t)
	mark := b.mark()
	b.as("ana", note("n10", "Phoenix"))
	b.as("bob", del("n10"))
	b.as("cem", restore("n10"))
	b.as("ana", func(tx *crdt.Tx) error { return tx.Create(el("fr"), "frame") })
	b.as("ana", move("n10", "fr", "a0"))
	want := []brief{{"n10", Added, "ana,bob,cem", 4}, {"fr", Added, "ana", 1}}
	if g := briefs(b.since(mark)); !reflect.DeepEqual(g, want) {
		t.Fatalf("events:\n got %+v\nwant %+v", g, want)
	}
	b.as("bob", del("fr")) // the note is hidden inside the deleted frame
	if g := b.since(mark); len(g) != 0 {
		t.Fatalf("events after the frame was deleted: %+v", briefs(g))
	}
	// For someone who saw the frame and note before, the frame's deletion
	// is the one event; the note goes with it.
	if g := briefs(b.since(b.mark() - 1)); !reflect.DeepEqual(g, []brief{{"fr", Deleted, "bob", 1}}) {
		t.Fatalf("events of the last change: %+v", g)
	}
}

// Every comment and reply of a window names the element its thread is
// pinned to (target, on) with a preview of its text: the text was read
// whole, and folded, once per comment event. A note of a few megabytes
// with thousands of comments and replies in the window made each /changes
// read, and each member's e-mail at every notifier pass, read those
// megabytes thousands of times. A preview is made once per element and
// fold.
func TestCommentTargetPreviewedOncePerFold(t *testing.T) {
	b := newBoard(t)
	b.as("ana", note("big", strings.Repeat("word ", 2000)))
	mark := b.mark()
	b.as("bob", comment("thread", "big", "bob", "A thread"))
	const n = 40
	for i := range n {
		b.as("cem", comment(fmt.Sprintf("c%d", i), "big", "cem", "Me too"))
		b.as("dan", reply(fmt.Sprintf("r%d", i), "thread", "a0", "dan", "And me"))
	}
	reads := map[crdt.ElementID]int{}
	restore := setTextRead(func(id crdt.ElementID) { reads[id]++ })
	defer restore()
	evs := b.since(mark)
	if len(evs) != 2*n+1 {
		t.Fatalf("%d events, want %d", len(evs), 2*n+1)
	}
	for _, ev := range evs {
		if ev.On != el("big").String() || !strings.HasPrefix(ev.OnText, "word word") {
			t.Fatalf("%s: on %q (%q), want the note", ev.Element, ev.On, ev.OnText)
		}
	}
	if reads[el("big")] > 1 || reads[el("thread")] > 1 {
		t.Errorf("the note's text was read %d times and the thread's %d for one fold, want once each", reads[el("big")], reads[el("thread")])
	}
}

// setTextRead makes f told of each element text read for a preview.
func setTextRead(f func(crdt.ElementID)) (restore func()) {
	old := textRead
	textRead = f
	return func() { textRead = old }
}
