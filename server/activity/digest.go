package activity

import (
	"fmt"
	"html/template"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Digest is the content of one digest e-mail: what happened on a board in
// a period, for one recipient. Subject, Text and HTML render it; the
// caller (the mailer) owns the envelope.
type Digest struct {
	Board     string            // the board's name
	BoardURL  string            // link to the board
	Recipient string            // display name of the reader, for the greeting ("" for none)
	Names     map[string]string // user id → display name
	Events    []Event           // from Since
	From, To  time.Time         // the period covered
	Loc       *time.Location    // the recipient's time zone (nil: UTC)
	// ForYou are the events of Events that mention the reader or answer
	// their threads: told first, under their own heading.
	ForYou []Event
	// Notices are news of the board itself, told before everything
	// ("Dot voting opened: 3 dots each.").
	Notices []string
	// KeptFrom, when not zero, says that changes the reader was not told
	// of are no longer kept (the node's history retention dropped them):
	// it is the acceptance time of the oldest change kept, from which
	// Events tell what happened. The digest says so.
	KeptFrom time.Time
}

// digestLine is one line of the digest: one person, one action.
type digestLine struct {
	Verb     string   // "added 2 notes and 1 shape"
	Previews []string // quoted texts, at most maxPreviews
	More     int      // previews left out
	On       string   // for comments: what they are on
	At       string   // time of the latest change to these elements (anyone's), in Loc
}

type digestPerson struct {
	Name  string
	Lines []digestLine
}

// digestModel is the digest's content, shared by Text and HTML so the two
// cannot say different things.
type digestModel struct {
	Board, BoardURL, Greeting, Period string
	KeptFrom                          string // KeptFrom, in the reader's time zone ("" for none)
	Notices                           []string
	ForYou                            []digestPerson // mentions and answers, first
	People                            []digestPerson // everything else
}

const maxPreviews = 3

// maxPeople is the most people a digest lists, in its two parts together;
// it counts the others (others). A person's paragraph is at most a line
// per action (ten), each with at most four texts of 120 runes (three
// previews and what a comment is on), some 80 KB of the outbox's JSON at
// worst ("&" is "&amp;" in the HTML part, "\u0026amp;" in JSON): thirty
// make some 2.5 MB, within the 4 MiB the outbox takes in an item. Every
// person listed, two hundred guests of a public board made the e-mail
// too big to send, and the notifier's pass over the board failed there
// every time, so that nobody on the board was told anything again.
const maxPeople = 30

// The most runes of a board's name and of a person's name a subject
// holds (Subject): at four bytes a rune, 320 + 3 × 160, with the words
// around them, is under 900 bytes.
const (
	subjectBoardLen = 80
	subjectNameLen  = 40
)

// personAction collects one person's events of one action.
type personAction struct {
	action Action
	events []Event
}

func (d Digest) loc() *time.Location {
	if d.Loc == nil {
		return time.UTC
	}
	return d.Loc
}

func (d Digest) name(user string) string { return displayName(d.Names, user) }

// people groups the events by person (in order of first appearance), then
// by action (in the order of the Action constants). The creator of an
// added element (By[0]) is credited "added"; whoever else worked on it in
// the window is credited "edited", as that is what they did.
func (d Digest) people() ([]string, map[string][]*personAction) { return d.peopleOf(d.Events) }

// rest are the events not told in ForYou.
func (d Digest) rest() []Event {
	if len(d.ForYou) == 0 {
		return d.Events
	}
	var out []Event
	for _, e := range d.Events {
		if !slices.ContainsFunc(d.ForYou, func(f Event) bool { return f.Element == e.Element && f.Action == e.Action }) {
			out = append(out, e)
		}
	}
	return out
}

func (d Digest) peopleOf(events []Event) ([]string, map[string][]*personAction) {
	var order []string
	acts := map[string][]*personAction{}
	credit := func(user string, a Action, ev Event) {
		if _, ok := acts[user]; !ok {
			order = append(order, user)
		}
		for _, pa := range acts[user] {
			if pa.action == a {
				if !slices.ContainsFunc(pa.events, func(e Event) bool { return e.Element == ev.Element }) {
					pa.events = append(pa.events, ev)
				}
				return
			}
		}
		acts[user] = append(acts[user], &personAction{a, []Event{ev}})
	}
	for _, ev := range events {
		for i, user := range ev.By {
			a := ev.Action
			if i > 0 && a == Added {
				a = Edited
			}
			credit(user, a, ev)
		}
	}
	for _, u := range order {
		slices.SortStableFunc(acts[u], func(a, b *personAction) int { return actionRank[a.action] - actionRank[b.action] })
	}
	return order, acts
}

func (d Digest) model() digestModel {
	loc := d.loc()
	m := digestModel{Board: oneLine(d.Board), BoardURL: d.BoardURL}
	if m.Board == "" {
		m.Board = "your board"
	}
	if r := oneLine(d.Recipient); r != "" {
		m.Greeting = "Hi " + r + ","
	} else {
		m.Greeting = "Hello,"
	}
	if !d.From.IsZero() && !d.To.IsZero() {
		m.Period = fmt.Sprintf("%s to %s (%s)", d.From.In(loc).Format(dayTime), d.To.In(loc).Format(dayTime), zoneName(d.To.In(loc)))
	}
	if !d.KeptFrom.IsZero() {
		at := d.KeptFrom.In(loc)
		m.KeptFrom = fmt.Sprintf("%s (%s)", at.Format(dayTime), zoneName(at))
	}
	for _, n := range d.Notices {
		m.Notices = append(m.Notices, oneLine(n))
	}
	listed := 0
	group := func(events []Event) []digestPerson {
		var out []digestPerson
		order, acts := d.peopleOf(events)
		for i, u := range order {
			if listed == maxPeople {
				out = append(out, others(order[i:], acts))
				break
			}
			listed++
			p := digestPerson{Name: oneLine(d.name(u))}
			for _, pa := range acts[u] {
				p.Lines = append(p.Lines, d.line(pa, loc))
			}
			out = append(out, p)
		}
		return out
	}
	m.ForYou, m.People = group(d.ForYou), group(d.rest())
	return m
}

// others is the paragraph that counts the people a digest does not list.
func others(people []string, acts map[string][]*personAction) digestPerson {
	n := 0
	for _, u := range people {
		for _, pa := range acts[u] {
			n += len(pa.events)
		}
	}
	return digestPerson{Name: plural(len(people), "other person", "other people"),
		Lines: []digestLine{{Verb: "made " + plural(n, "update", "updates")}}}
}

const dayTime = "Mon 2 Jan 15:04"

func zoneName(t time.Time) string {
	name, _ := t.Zone()
	if name == "" || name[0] == '+' || name[0] == '-' {
		return t.Format("UTC-07:00")
	}
	return name
}

func (d Digest) line(pa *personAction, loc *time.Location) digestLine {
	var l digestLine
	var latest int64
	var kinds []string
	count := map[string]int{}
	for _, ev := range pa.events {
		latest = max(latest, ev.At)
		if count[ev.Kind] == 0 {
			kinds = append(kinds, ev.Kind)
		}
		count[ev.Kind]++
		if len(l.Previews) < maxPreviews {
			if ev.Text != "" {
				l.Previews = append(l.Previews, ev.Text)
			}
		} else if ev.Text != "" {
			l.More++
		}
	}
	var nouns []string
	for _, k := range kinds {
		nouns = append(nouns, strconv.Itoa(count[k])+" "+kindNoun(k, count[k]))
	}
	things := joinAnd(nouns)
	n := len(pa.events)
	switch pa.action {
	case Commented:
		l.Verb = "wrote " + plural(n, "comment", "comments")
	case Replied:
		l.Verb = "wrote " + plural(n, "reply", "replies")
	case Resolved:
		l.Verb = "resolved " + plural(n, "thread", "threads")
	case Reopened:
		l.Verb = "reopened " + plural(n, "thread", "threads")
	case Voted:
		l.Verb = "voted on " + things
	default:
		l.Verb = string(pa.action) + " " + things
	}
	if pa.action == Commented || pa.action == Replied || pa.action == Resolved || pa.action == Reopened {
		// What the comments are on: the idea their threads are pinned to
		// (a reply's too, not the thread's first comment), when they are
		// all on one.
		var ons []string
		for _, ev := range pa.events {
			if ev.OnText != "" && !slices.Contains(ons, ev.OnText) {
				ons = append(ons, ev.OnText)
			}
		}
		if len(ons) == 1 {
			l.On = ons[0]
		}
	}
	if latest > 0 {
		l.At = time.UnixMilli(latest).In(loc).Format(dayTime)
	}
	return l
}

// kindNoun names n elements of a kind in words.
func kindNoun(kind string, n int) string {
	one, many := kind, kind+"s"
	switch kind {
	case "note":
		one, many = "note", "notes"
	case "shape":
		one, many = "shape", "shapes"
	case "text":
		one, many = "text", "texts"
	case "stroke":
		one, many = "drawing", "drawings"
	case "connector":
		one, many = "connector", "connectors"
	case "image":
		one, many = "image", "images"
	case "frame":
		one, many = "frame", "frames"
	case "mindmap":
		one, many = "mindmap node", "mindmap nodes"
	case "comment":
		one, many = "comment", "comments"
	case "":
		one, many = "element", "elements"
	}
	if n == 1 {
		return one
	}
	return many
}

func joinAnd(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

// oneLine folds whitespace (newlines included) into single spaces and drops
// other control characters: names and board titles go into one line of
// text, and into a mail header.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && !unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// Subject returns the e-mail subject: the board and who did how much. It
// is one line with no control characters, safe for a mail header once
// encoded by the mailer, and at most some 900 bytes, within what the
// mailer takes (1,000): the board's name is cut to subjectBoardLen runes
// and each person's to subjectNameLen. Whole, a board's name (200 runes)
// and one person's (80), or three people's names, in four-byte
// characters, made over 1,000 bytes: the mailer refused the e-mail, and the notifier's pass over the
// board failed there every time, so that nobody on the board was told
// anything again.
func (d Digest) Subject() string {
	board := truncate(oneLine(d.Board), subjectBoardLen)
	if board == "" {
		board = "Your board"
	}
	order, _ := d.people()
	switch {
	case len(d.ForYou) > 0:
		board += ": you were mentioned"
		if len(d.Events) == len(d.ForYou) {
			return board
		}
	case len(d.Events) == 0 && len(d.Notices) > 0:
		return board + ": " + strings.TrimSuffix(oneLine(d.Notices[0]), ".")
	case len(d.Events) == 0 && !d.KeptFrom.IsZero():
		return board + ": older changes no longer kept"
	case len(d.Events) == 0:
		return board + ": no changes"
	}
	var who []string
	for i, u := range order {
		if i == 2 && len(order) > 3 {
			who = append(who, plural(len(order)-2, "other", "others"))
			break
		}
		who = append(who, truncate(oneLine(d.name(u)), subjectNameLen))
	}
	return fmt.Sprintf("%s: %s from %s", board, plural(len(d.Events), "update", "updates"), joinAnd(who))
}

// Text returns the plain-text body: a greeting, the period in the
// recipient's time zone, one paragraph per person with one line per
// action, and the board's link.
func (d Digest) Text() string {
	m := d.model()
	var b strings.Builder
	b.WriteString(m.Greeting + "\n\n")
	if m.Period != "" {
		fmt.Fprintf(&b, "Here is what happened on %s from %s.\n\n", quote(m.Board), m.Period)
	} else {
		fmt.Fprintf(&b, "Here is what happened on %s.\n\n", quote(m.Board))
	}
	if m.KeptFrom != "" {
		fmt.Fprintf(&b, "Changes before %s are no longer kept: this e-mail tells what happened from then on.\n\n", m.KeptFrom)
	}
	for _, n := range m.Notices {
		b.WriteString(n + "\n")
	}
	if len(m.Notices) > 0 {
		b.WriteString("\n")
	}
	if len(m.ForYou) > 0 {
		b.WriteString("For you:\n\n")
		writePeople(&b, m.ForYou)
		if len(m.People) > 0 {
			b.WriteString("Also:\n\n")
		}
	}
	if len(m.People) == 0 && len(m.ForYou) == 0 && len(m.Notices) == 0 && m.KeptFrom == "" {
		b.WriteString("Nothing changed.\n\n")
	}
	writePeople(&b, m.People)
	if m.BoardURL != "" {
		fmt.Fprintf(&b, "Open the board: %s\n", m.BoardURL)
	}
	return b.String()
}

// writePeople writes a paragraph per person, a line per action.
func writePeople(b *strings.Builder, people []digestPerson) {
	for _, p := range people {
		for _, l := range p.Lines {
			b.WriteString(p.Name + " " + l.Verb)
			if l.On != "" {
				fmt.Fprintf(b, " on %s", quote(l.On))
			}
			if len(l.Previews) > 0 {
				qs := make([]string, len(l.Previews))
				for i, s := range l.Previews {
					qs[i] = quote(s)
				}
				b.WriteString(": " + strings.Join(qs, ", "))
				if l.More > 0 {
					fmt.Fprintf(b, " and %d more", l.More)
				}
			}
			if l.At != "" {
				fmt.Fprintf(b, " (%s)", l.At)
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
}

func quote(s string) string { return "“" + s + "”" }

var digestHTML = template.Must(template.New("digest").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Board}}</title></head>
<body style="font-family: sans-serif; line-height: 1.4">
<p>{{.Greeting}}</p>
<p>Here is what happened on <a href="{{.BoardURL}}"><strong>{{.Board}}</strong></a>{{if .Period}} from {{.Period}}{{end}}.</p>
{{if .KeptFrom}}<p>Changes before {{.KeptFrom}} are no longer kept: this e-mail tells what happened from then on.</p>
{{end}}{{range .Notices}}<p><strong>{{.}}</strong></p>
{{end}}{{if .ForYou}}<h2>For you</h2>
{{template "people" .ForYou}}{{if .People}}<h2>Also</h2>
{{end}}{{end}}{{if and (not .People) (not .ForYou) (not .Notices) (not .KeptFrom)}}<p>Nothing changed.</p>
{{end}}{{template "people" .People}}{{if .BoardURL}}<p><a href="{{.BoardURL}}">Open the board</a></p>
{{end}}</body></html>
{{define "people"}}{{range .}}<h3>{{.Name}}</h3>
<ul>
{{range .Lines}}<li>{{.Verb}}{{if .On}} on “{{.On}}”{{end}}{{if .Previews}}: {{range $i, $p := .Previews}}{{if $i}}, {{end}}“{{$p}}”{{end}}{{if .More}} and {{.More}} more{{end}}{{end}}{{if .At}} <span style="color: #666">({{.At}})</span>{{end}}</li>
{{end}}</ul>
{{end}}{{end}}
`))

// HTML returns the same content as Text as an HTML document; every piece of
// user text is escaped by html/template, and a board link that is not an
// http(s) URL is neutralised by it.
func (d Digest) HTML() string {
	var b strings.Builder
	if err := digestHTML.Execute(&b, d.model()); err != nil {
		panic(err) // the template and the model are fixed: a bug
	}
	return b.String()
}
