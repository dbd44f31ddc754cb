package activity

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/corkboard/corkboard/crdt"
)

// Idea is one element of the summary export: its text, its votes, its
// reactions and the comment threads pinned to it.
type Idea struct {
	Element   string         `json:"element"`
	Kind      string         `json:"kind"`
	Text      string         `json:"text"`
	Votes     int            `json:"votes"`               // dots given, all voters together
	Voters    int            `json:"voters"`              // people with a live vote
	Reactions map[string]int `json:"reactions,omitempty"` // reaction → number of people
	Comments  []Comment      `json:"comments,omitempty"`  // threads pinned to the idea
	By        string         `json:"by,omitempty"`        // user id of who proposed it (created it)
	ByName    string         `json:"byName,omitempty"`    // their display name, when known
}

// Comment is one comment with its replies.
type Comment struct {
	ID         string    `json:"id"`
	Author     string    `json:"author"`               // user id
	AuthorName string    `json:"authorName,omitempty"` // display name, when known
	Text       string    `json:"text"`
	Resolved   bool      `json:"resolved,omitempty"`
	Replies    []Comment `json:"replies,omitempty"`
}

// Outline is one mindmap node and its subtopics, in sibling order.
type Outline struct {
	Element  string    `json:"element"`
	Text     string    `json:"text"`
	Children []Outline `json:"children,omitempty"`
}

// Participant is one person who took part, with what they did.
type Participant struct {
	User     string `json:"user"`
	Name     string `json:"name"`
	Changes  int    `json:"changes"`  // changes sent, over the whole history
	Votes    int    `json:"votes"`    // dots they have on the board now
	Comments int    `json:"comments"` // comments they wrote that are still on the board
}

// Summary is the export of a board at the end of a brainstorm.
type Summary struct {
	Board        string        `json:"board"` // the board's name; Summarize leaves it empty for the caller
	Ideas        []Idea        `json:"ideas"` // ranked by votes desc, then voters, then text
	Mindmaps     []Outline     `json:"mindmaps"`
	Comments     []Comment     `json:"comments,omitempty"` // threads pinned to no idea (to a point, a frame...)
	Participants []Participant `json:"participants"`
	// Generated is the Accepted time (unix ms) of the latest change: the
	// summary describes the board as of then. Summarize reads no clock;
	// a caller that wants "now" overwrites it.
	Generated int64 `json:"generated"`
	// Set by the caller from the board's settings: the time zone the
	// renderings tell times in (the owner's; UTC when empty), the
	// deadline (unix ms; 0: none) and the dot voting.
	TZ       string      `json:"tz,omitempty"`
	Deadline int64       `json:"deadline,omitempty"`
	Voting   *VotingInfo `json:"voting,omitempty"`
	// Picture is the board's picture for the HTML rendering (Picture's
	// SVG), set by a caller that wants one; never in the JSON.
	Picture []byte `json:"-"`
}

// VotingInfo is a board's dot voting, as the summary tells it.
type VotingInfo struct {
	State     string `json:"state"` // open or closed
	Dots      int    `json:"dots"`  // per person; 0: no limit
	Anonymous bool   `json:"anonymous"`
	Opened    int64  `json:"opened"`
	Closed    int64  `json:"closed,omitempty"`
}

// Summarize builds the summary export of the board whose current state is
// doc; changes is the whole history (for participants and for the order of
// comment threads), names maps user ids to display names.
//
// An idea is a visible note, shape, text or image with text, a vote, a
// reaction or a comment; any other visible element (a mindmap node, a
// frame, a connector...) is an idea only when it got votes, reactions or
// comments, so that the outline of a mindmap is not repeated as a list of
// ideas. Hidden elements (deleted, or under a deleted parent) are left out.
func Summarize(doc *crdt.Doc, changes []Change, names map[string]string) Summary {
	s := Summary{Ideas: []Idea{}, Mindmaps: []Outline{}, Participants: []Participant{}}
	// From the history: who created each element and when (log order).
	type origin struct {
		by  string
		seq int
	}
	created := map[crdt.ElementID]origin{}
	type partAcc struct {
		p   Participant
		seq int
	}
	parts := map[string]*partAcc{}
	part := func(user string, seq int) *partAcc {
		p := parts[user]
		if p == nil {
			p = &partAcc{p: Participant{User: user, Name: displayName(names, user)}, seq: seq}
			parts[user] = p
		}
		return p
	}
	for i := range changes {
		c := &changes[i]
		part(c.Author, i).p.Changes += 1 + c.More
		s.Generated = max(s.Generated, c.Accepted)
		for j := range c.Ops {
			if op := &c.Ops[j]; op.Type == crdt.OpCreate {
				if _, ok := created[op.Element]; !ok {
					created[op.Element] = origin{c.Author, i}
				}
			}
		}
	}
	authorOf := func(id crdt.ElementID) string {
		if v, ok := doc.Get(id, "author"); ok && v.AsString() != "" {
			return v.AsString()
		}
		return created[id].by
	}

	var comment func(id crdt.ElementID) Comment
	comment = func(id crdt.ElementID) Comment {
		author := authorOf(id)
		c := Comment{ID: id.String(), Author: author, AuthorName: names[author], Text: elementText(doc, id)}
		if v, ok := doc.Get(id, "resolved"); ok {
			c.Resolved = v.AsBool()
		}
		for _, r := range doc.Children(id) {
			if doc.Kind(r) == "comment" && visible(doc, r) {
				c.Replies = append(c.Replies, comment(r))
			}
		}
		return c
	}

	all := doc.Elements()
	// Comment threads, oldest first, by the element they are pinned to.
	var threads []crdt.ElementID
	for _, id := range all {
		if doc.Kind(id) != "comment" || !visible(doc, id) {
			continue
		}
		if p, _ := doc.Parent(id); p != crdt.Root && doc.Kind(p) == "comment" {
			continue // a reply
		}
		threads = append(threads, id)
	}
	slices.SortStableFunc(threads, func(a, b crdt.ElementID) int {
		oa, okA := created[a]
		ob, okB := created[b]
		switch {
		case okA && okB:
			return cmp.Compare(oa.seq, ob.seq)
		case okA:
			return -1
		case okB:
			return 1
		}
		return 0 // both unknown: ascending id, as Elements gave them
	})
	pinned := map[crdt.ElementID][]Comment{}
	var unpinned []Comment // threads pinned to a point, or to an id that is no element
	for _, th := range threads {
		var target crdt.ElementID
		if v, ok := doc.Get(th, "target"); ok {
			target, _ = crdt.ParseElementID(v.AsString())
		}
		switch {
		case target == crdt.Root || !doc.Exists(target):
			unpinned = append(unpinned, comment(th))
		case visible(doc, target):
			pinned[target] = append(pinned[target], comment(th))
		}
		// Pinned to a hidden element: hidden with it.
	}

	for _, id := range all {
		kind := doc.Kind(id)
		if kind == "comment" || !visible(doc, id) {
			continue
		}
		voters, sum := doc.Tally(id, "vote")
		idea := Idea{Element: id.String(), Kind: kind, Text: elementText(doc, id),
			Votes: int(math.Round(sum)), Voters: voters, Comments: pinned[id]}
		if by := authorOf(id); by != "" {
			idea.By, idea.ByName = by, displayName(names, by)
		}
		for _, v := range doc.Votes(id, "react") {
			if idea.Reactions == nil {
				idea.Reactions = map[string]int{}
			}
			r := v.Value.AsString()
			if r == "" {
				r = v.Value.String()
			}
			idea.Reactions[r]++
		}
		for _, v := range doc.Votes(id, "vote") {
			n, _ := crdt.Dots(v.Value)
			part(v.Voter, len(changes)).p.Votes += int(n)
		}
		engaged := voters > 0 || len(idea.Reactions) > 0 || len(idea.Comments) > 0
		switch kind {
		case "note", "shape", "text", "image":
			engaged = engaged || idea.Text != ""
		}
		if engaged {
			s.Ideas = append(s.Ideas, idea)
		}
	}
	slices.SortStableFunc(s.Ideas, func(a, b Idea) int {
		return cmp.Or(cmp.Compare(b.Votes, a.Votes), cmp.Compare(b.Voters, a.Voters),
			strings.Compare(a.Text, b.Text), strings.Compare(a.Element, b.Element))
	})
	s.Comments = unpinned

	// Comments per person: those the summary shows.
	var countComments func(cs []Comment)
	countComments = func(cs []Comment) {
		for _, c := range cs {
			part(c.Author, len(changes)).p.Comments++
			countComments(c.Replies)
		}
	}
	for _, idea := range s.Ideas {
		countComments(idea.Comments)
	}
	countComments(s.Comments)

	s.Mindmaps = mindmaps(doc)

	ps := make([]*partAcc, 0, len(parts))
	for _, p := range parts {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b *partAcc) int { return cmp.Or(cmp.Compare(a.seq, b.seq), strings.Compare(a.p.User, b.p.User)) })
	for _, p := range ps {
		s.Participants = append(s.Participants, p.p)
	}
	return s
}

// mindmaps walks the board's tree and returns an outline for every mindmap
// node whose parent is not a mindmap node (the board or a frame), in tree
// order.
func mindmaps(d *crdt.Doc) []Outline {
	out := []Outline{}
	var outline func(id crdt.ElementID) Outline
	outline = func(id crdt.ElementID) Outline {
		o := Outline{Element: id.String(), Text: elementText(d, id)}
		for _, c := range d.Children(id) {
			if d.Kind(c) == "mindmap" && !d.IsDeleted(c) {
				o.Children = append(o.Children, outline(c))
			}
		}
		return o
	}
	var walk func(p crdt.ElementID)
	walk = func(p crdt.ElementID) {
		for _, c := range d.Children(p) {
			if d.IsDeleted(c) || !d.Exists(c) {
				continue
			}
			switch d.Kind(c) {
			case "mindmap":
				out = append(out, outline(c))
			case "comment":
			default:
				walk(c)
			}
		}
	}
	walk(crdt.Root)
	return out
}

func displayName(names map[string]string, user string) string {
	if n := names[user]; n != "" {
		return n
	}
	if user == "" {
		return "Anonymous"
	}
	return user
}

// JSON returns the summary as indented JSON.
func (s Summary) JSON() []byte {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		panic(err) // only strings, ints and bools: cannot fail
	}
	return append(b, '\n')
}

// Markdown renders the summary as a CommonMark document: the board's name
// as the title, the ranked ideas as a numbered list with their comment
// threads nested under them, each mindmap as a nested list, other comment
// threads, and a table of participants. User text is escaped so that it
// reads as typed: no heading, list, link, emphasis or HTML can come out of
// a sticky note.
func (s Summary) Markdown() string {
	var b strings.Builder
	title := s.Board
	if title == "" {
		title = "Board summary"
	}
	fmt.Fprintf(&b, "# %s\n\n", mdEscape(title))
	for _, line := range s.facts() {
		b.WriteString(mdEscape(line) + "  \n")
	}
	if len(s.facts()) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("## Ideas\n\n")
	if len(s.Ideas) == 0 {
		b.WriteString("No ideas yet.\n\n")
	}
	for i, idea := range s.Ideas {
		marker := strconv.Itoa(i+1) + ". "
		text := mdEscape(idea.Text)
		if text == "" {
			text = "_(" + mdEscape(kindNoun(idea.Kind, 1)) + " without text)_"
		} else {
			text = "**" + text + "**"
		}
		fmt.Fprintf(&b, "%s%s", marker, text)
		if idea.ByName != "" {
			fmt.Fprintf(&b, " — proposed by %s", mdEscape(idea.ByName))
		}
		fmt.Fprintf(&b, " — %s", voteWords(idea.Votes, idea.Voters))
		if len(idea.Reactions) > 0 {
			var rs []string
			for _, r := range sortedKeys(idea.Reactions) {
				rs = append(rs, mdEscape(r)+" "+strconv.Itoa(idea.Reactions[r]))
			}
			fmt.Fprintf(&b, "; reactions: %s", strings.Join(rs, ", "))
		}
		b.WriteString("\n")
		writeComments(&b, idea.Comments, len(marker))
	}
	if len(s.Ideas) > 0 {
		b.WriteString("\n")
	}
	if len(s.Mindmaps) > 0 {
		b.WriteString("## Mindmaps\n\n")
		for _, m := range s.Mindmaps {
			writeOutline(&b, m, 0)
			b.WriteString("\n")
		}
	}
	if len(s.Comments) > 0 {
		b.WriteString("## Other comments\n\n")
		writeComments(&b, s.Comments, 0)
		b.WriteString("\n")
	}
	b.WriteString("## Participants\n\n")
	if len(s.Participants) == 0 {
		b.WriteString("Nobody yet.\n")
		return b.String()
	}
	b.WriteString("| Person | Changes | Dots | Comments |\n| --- | ---: | ---: | ---: |\n")
	for _, p := range s.Participants {
		fmt.Fprintf(&b, "| %s | %d | %d | %d |\n", mdEscape(p.Name), p.Changes, p.Votes, p.Comments)
	}
	return b.String()
}

// when tells a time in the summary's time zone.
func (s Summary) when(ms int64) string {
	loc := time.UTC
	if s.TZ != "" {
		if l, err := time.LoadLocation(s.TZ); err == nil {
			loc = l
		}
	}
	return time.UnixMilli(ms).In(loc).Format("Mon 2 Jan 2006, 15:04 MST")
}

// facts are the summary's opening lines: as of when, the voting's rules
// and dates, the deadline.
func (s Summary) facts() []string {
	var out []string
	if s.Generated > 0 {
		out = append(out, "As of "+s.when(s.Generated)+".")
	}
	if v := s.Voting; v != nil {
		rule := "any number of dots each"
		if v.Dots > 0 {
			rule = plural(v.Dots, "dot", "dots") + " each"
		}
		if v.Anonymous {
			rule += ", anonymous until closed"
		}
		line := "Dot voting (" + rule + "): opened " + s.when(v.Opened)
		if v.State == "closed" && v.Closed > 0 {
			line += ", closed " + s.when(v.Closed)
		} else {
			line += ", still open"
		}
		out = append(out, line+".")
	}
	if s.Deadline > 0 {
		out = append(out, "Deadline: "+s.when(s.Deadline)+".")
	}
	return out
}

// voteWords tells an idea's votes in the words of the board's dot
// voting, as the web client's badge does ("3 dots from 2 people").
func voteWords(votes, voters int) string {
	if voters == 0 {
		return "no dots"
	}
	return fmt.Sprintf("%s from %s", plural(votes, "dot", "dots"), plural(voters, "person", "people"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func writeComments(b *strings.Builder, cs []Comment, indent int) {
	for _, c := range cs {
		who := c.AuthorName
		if who == "" {
			who = displayName(nil, c.Author)
		}
		fmt.Fprintf(b, "%s- **%s:** %s", strings.Repeat(" ", indent), mdEscape(who), mdEscape(c.Text))
		if c.Resolved {
			b.WriteString(" _(resolved)_")
		}
		b.WriteString("\n")
		writeComments(b, c.Replies, indent+2)
	}
}

func writeOutline(b *strings.Builder, o Outline, depth int) {
	text := mdEscape(o.Text)
	if text == "" {
		text = "_(untitled)_"
	}
	fmt.Fprintf(b, "%s- %s\n", strings.Repeat("  ", depth), text)
	for _, c := range o.Children {
		writeOutline(b, c, depth+1)
	}
}

// mdEscape makes user text literal in CommonMark, on one line: whitespace
// runs become one space, inline markup characters get a backslash (any
// ASCII punctuation may be escaped in CommonMark), and a leading character
// that would start a block (heading, list, quote, thematic break, ordered
// list "1.") is escaped too. Invalid UTF-8 becomes U+FFFD.
//
// Rejected: wrapping user text in code spans. They survive any content
// only with a variable fence, and would render every sticky note in a
// monospace font.
func mdEscape(s string) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '|', '~', '&', '#', '!':
			b.WriteByte('\\')
		case '-', '+', '=':
			if i == 0 {
				b.WriteByte('\\')
			}
		case '.', ')':
			if i > 0 && allDigits(s[:i]) {
				b.WriteByte('\\')
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
