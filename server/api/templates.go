package api

import (
	"context"
	"fmt"
	"sort"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/storage"
	"github.com/google/uuid"
)

// Templates for asynchronous sessions (POST /v1/boards {"template"}):
// each is a set of actions made into the new board's first change, so a
// board starts with its frames, prompts and mindmap instead of empty.

// boardTemplate is one template: its elements, and whether it opens dot voting.
type boardTemplate struct {
	Doc     string
	Voting  int // dots each, when the board starts with voting open (0: not)
	Actions func() []action
}

func note(x, y float64, color, text string) action {
	return action{Op: "create", Kind: "note", Text: str(text), Props: map[string]crdt.Value{
		"x": crdt.Number(x), "y": crdt.Number(y), "w": crdt.Number(200), "h": crdt.Number(200), "color": crdt.String(color)}}
}

func frame(x, y, w, h float64, title string) action {
	return action{Op: "create", Kind: "frame", Element: crdt.ElementID(uuid.New()).String(), Text: str(title), Props: map[string]crdt.Value{
		"x": crdt.Number(x), "y": crdt.Number(y), "w": crdt.Number(w), "h": crdt.Number(h)}}
}

func heading(x, y float64, text string) action {
	return action{Op: "create", Kind: "text", Text: str(text), Props: map[string]crdt.Value{
		"x": crdt.Number(x), "y": crdt.Number(y), "w": crdt.Number(900), "h": crdt.Number(60), "fontSize": crdt.Number(40)}}
}

// columns makes titled frames side by side, each with a prompt note.
func columns(title string, cols [][2]string) []action {
	out := []action{heading(0, -120, title)}
	for i, c := range cols {
		f := frame(float64(i)*520, 0, 480, 900, c[0])
		out = append(out, f)
		n := note(float64(i)*520+40, 80, "yellow", c[1])
		p := f.Element
		n.Parent = &p
		out = append(out, n)
	}
	return out
}

var templates = map[string]boardTemplate{
	"brainstorm": {Doc: "brainstorm with dot voting: ideas in, three dots each", Voting: 3, Actions: func() []action {
		return append(columns("Brainstorm", [][2]string{{"Ideas", "Add one idea per sticky note"}}),
			note(560, 80, "blue", "Vote with your dots on the ideas you like most"))
	}},
	"retro": {Doc: "retrospective: went well, to improve, actions", Actions: func() []action {
		return columns("Retrospective", [][2]string{{"Went well", "What should we keep doing?"}, {"To improve", "What got in the way?"}, {"Actions", "Who does what next?"}})
	}},
	"swot": {Doc: "SWOT analysis in four quadrants", Actions: func() []action {
		out := []action{heading(0, -120, "SWOT")}
		for i, q := range [][2]string{{"Strengths", "green"}, {"Weaknesses", "pink"}, {"Opportunities", "blue"}, {"Threats", "orange"}} {
			x, y := float64(i%2)*620, float64(i/2)*620
			f := frame(x, y, 580, 580, q[0])
			n := note(x+40, y+80, q[1], "Add a sticky note")
			p := f.Element
			n.Parent = &p
			out = append(out, f, n)
		}
		return out
	}},
	"mindmap": {Doc: "a mindmap: a central topic and three branches", Actions: func() []action {
		root := crdt.ElementID(uuid.New()).String()
		out := []action{{Op: "create", Kind: "mindmap", Element: root, Text: str("Central topic"), Props: map[string]crdt.Value{"x": crdt.Number(0), "y": crdt.Number(0)}}}
		for _, b := range []string{"Branch one", "Branch two", "Branch three"} {
			out = append(out, action{Op: "create", Kind: "mindmap", Text: str(b), Parent: &root})
		}
		return out
	}},
	"kanban": {Doc: "kanban: to do, doing, done", Actions: func() []action {
		return columns("Kanban", [][2]string{{"To do", "A task per sticky note"}, {"Doing", "Move notes here as work starts"}, {"Done", "…and here when it is done"}})
	}},
}

// templateNames lists the templates, for errors and docs.
func templateNames() []string {
	out := make([]string, 0, len(templates))
	for k := range templates {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// templateChange makes a template's first change for a new board, under
// a replica id claimed for its owner, as an op-log entry.
func (srv *Server) templateChange(ctx context.Context, id storage.BoardID, owner string, t boardTemplate) (storage.Record, error) {
	rep, err := srv.newReplica(ctx, id, owner)
	if err != nil {
		return storage.Record{}, fmt.Errorf("no replica id for the template: %w", err)
	}
	doc := crdt.NewDoc()
	now := srv.cfg.Now().UnixMilli()
	tx := doc.Begin(rep, now)
	for i, a := range t.Actions() {
		if _, err := apply(doc, &tx, a, owner, owner); err != nil {
			tx.Commit()
			return storage.Record{}, fmt.Errorf("template action %d: %v", i+1, err)
		}
	}
	ch, _ := tx.Commit()
	if err := doc.CheckSchema(&ch); err != nil {
		return storage.Record{}, err
	}
	return storage.Record{Replica: uint64(rep), Start: ch.Start, End: ch.End(), Accepted: now, Author: owner, Data: ch.AppendBinary(nil)}, nil
}
