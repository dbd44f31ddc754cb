package activity

import (
	"bytes"
	"fmt"
	"html/template"
	"strconv"
	"strings"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/boardpic"
)

// Picture sizes: the summary's picture is drawn for a page's width.
const (
	pictureWidth  = 800
	pictureHeight = 500
)

// Picture draws the board for the printable summary (HTML): each
// element's box (package boardpic, at most boardpic.MaxElements), with each
// idea's number in the list (its index in ideas, from 1) on its box, so a
// reader can match the boxes to the list. Only numbers and schema colours
// reach the SVG: no user text. Ideas without a box (a mindmap subtopic,
// whose place clients compute) have no number on the picture. A board with
// nothing to draw has no picture (nil).
func Picture(d *crdt.Doc, ideas []Idea) []byte {
	labels := make(map[crdt.ElementID]int, len(ideas))
	for i, idea := range ideas {
		if id, err := crdt.ParseElementID(idea.Element); err == nil {
			labels[id] = i + 1
		}
	}
	return boardpic.Draw(d, boardpic.Options{Width: pictureWidth, Height: pictureHeight, Labels: labels, Fit: true})
}

// Text renders the summary as plain text: what a person reads in an
// e-mail or pastes into a document, with user text exactly as typed (no
// escapes, which Markdown needs and a reader would see).
func (s Summary) Text() string {
	var b strings.Builder
	title := s.Board
	if title == "" {
		title = "Board summary"
	}
	title = oneLine(title)
	b.WriteString(title + "\n" + strings.Repeat("=", max(len([]rune(title)), 3)) + "\n\n")
	for _, line := range s.facts() {
		b.WriteString(line + "\n")
	}
	b.WriteString("\nIdeas\n-----\n\n")
	if len(s.Ideas) == 0 {
		b.WriteString("No ideas yet.\n")
	}
	for i, idea := range s.Ideas {
		text := oneLine(idea.Text)
		if text == "" {
			text = "(" + kindNoun(idea.Kind, 1) + " without text)"
		}
		fmt.Fprintf(&b, "%d. %s", i+1, text)
		if idea.ByName != "" {
			fmt.Fprintf(&b, " (proposed by %s)", oneLine(idea.ByName))
		}
		fmt.Fprintf(&b, ": %s", voteWords(idea.Votes, idea.Voters))
		if len(idea.Reactions) > 0 {
			var rs []string
			for _, r := range sortedKeys(idea.Reactions) {
				rs = append(rs, oneLine(r)+" "+strconv.Itoa(idea.Reactions[r]))
			}
			fmt.Fprintf(&b, "; reactions: %s", strings.Join(rs, ", "))
		}
		b.WriteString("\n")
		textComments(&b, idea.Comments, len(strconv.Itoa(i+1))+2)
	}
	if len(s.Mindmaps) > 0 {
		b.WriteString("\nMindmaps\n--------\n\n")
		for _, m := range s.Mindmaps {
			textOutline(&b, m, 0)
		}
	}
	if len(s.Comments) > 0 {
		b.WriteString("\nOther comments\n--------------\n\n")
		textComments(&b, s.Comments, 0)
	}
	b.WriteString("\nParticipants\n------------\n\n")
	if len(s.Participants) == 0 {
		b.WriteString("Nobody yet.\n")
	}
	for _, p := range s.Participants {
		fmt.Fprintf(&b, "- %s: %s, %s, %s\n", oneLine(p.Name), plural(p.Changes, "change", "changes"),
			plural(p.Votes, "dot", "dots"), plural(p.Comments, "comment", "comments"))
	}
	return b.String()
}

func textComments(b *strings.Builder, cs []Comment, indent int) {
	for _, c := range cs {
		who := c.AuthorName
		if who == "" {
			who = displayName(nil, c.Author)
		}
		fmt.Fprintf(b, "%s- %s: %s", strings.Repeat(" ", indent), oneLine(who), oneLine(c.Text))
		if c.Resolved {
			b.WriteString(" (resolved)")
		}
		b.WriteString("\n")
		textComments(b, c.Replies, indent+2)
	}
}

func textOutline(b *strings.Builder, o Outline, depth int) {
	text := oneLine(o.Text)
	if text == "" {
		text = "(untitled)"
	}
	fmt.Fprintf(b, "%s- %s\n", strings.Repeat("  ", depth), text)
	for _, c := range o.Children {
		textOutline(b, c, depth+1)
	}
}

// HTML renders the summary as one printable page (print it to PDF from a
// browser): the facts, each idea with who proposed it, its votes and its
// threads, the mindmaps, the participants, and s.Picture at the top when
// the caller drew it (Picture). User text is escaped by html/template; the
// page loads nothing. Printed, the picture stays on the first page, an idea
// is never split across two pages, and the margins suit A4 and Letter.
func (s Summary) HTML() []byte {
	var b bytes.Buffer
	title := s.Board
	if title == "" {
		title = "Board summary"
	}
	// The picture is boardpic's drawing: numbers and schema colours only,
	// never user text (see Picture), so it is written as it is.
	err := summaryPage.Execute(&b, map[string]any{"S": s, "Title": title, "Facts": s.facts(), "Picture": template.HTML(s.Picture)})
	if err != nil {
		panic(err) // the template and its data are ours
	}
	return b.Bytes()
}

var summaryPage = template.Must(template.New("summary").Funcs(template.FuncMap{
	"add":   func(a, b int) int { return a + b },
	"votes": voteWords,
	"noun":  func(k string) string { return kindNoun(k, 1) },
	"reactions": func(m map[string]int) string {
		var rs []string
		for _, r := range sortedKeys(m) {
			rs = append(rs, r+" "+strconv.Itoa(m[r]))
		}
		return strings.Join(rs, ", ")
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} — summary</title>
<style>
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1e1e1e;max-width:46rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.8rem;margin:0 0 .3rem}h2{font-size:1.2rem;margin:2rem 0 .6rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.facts{color:#555;margin:0}.idea{margin:.8rem 0;padding:.6rem .8rem;border:1px solid #e5e5e5;border-radius:8px;page-break-inside:avoid}
.idea .t{font-weight:600}.meta{color:#666;font-size:.9rem}.thread{margin:.4rem 0 0 1rem;padding-left:.6rem;border-left:3px solid #eee}
.c{margin:.2rem 0}.who{font-weight:600}table{border-collapse:collapse}td,th{padding:.25rem .7rem;border-bottom:1px solid #eee;text-align:left}
td.n{text-align:right}.idea,.c,tr,figure{break-inside:avoid}h2{break-after:avoid;page-break-after:avoid}
figure.board{margin:1rem 0;page-break-inside:avoid}figure.board svg{display:block;width:100%;height:auto;max-height:32rem;border:1px solid #e5e5e5;border-radius:8px}
figure.board figcaption{color:#666;font-size:.85rem;margin-top:.3rem}
@page{margin:16mm 14mm}@media print{body{margin:0;max-width:none;font-size:11pt}.idea{border-color:#ccc}figure.board svg{max-height:140mm}}
</style></head><body>
<h1>{{.Title}}</h1>
{{range .Facts}}<p class="facts">{{.}}</p>{{end}}
{{if .Picture}}<figure class="board" data-picture="boxes">{{.Picture}}
<figcaption>The board: each idea's number is on its box.</figcaption></figure>{{end}}
<h2>Ideas</h2>
{{if not .S.Ideas}}<p>No ideas yet.</p>{{end}}
{{range $i, $idea := .S.Ideas}}<div class="idea" data-n="{{add $i 1}}"><div class="t">{{add $i 1}}. {{if $idea.Text}}{{$idea.Text}}{{else}}({{noun $idea.Kind}} without text){{end}}</div>
<div class="meta">{{if $idea.ByName}}proposed by {{$idea.ByName}} · {{end}}{{votes $idea.Votes $idea.Voters}}{{if $idea.Reactions}} · reactions: {{reactions $idea.Reactions}}{{end}}</div>
{{template "thread" $idea.Comments}}</div>
{{end}}
{{if .S.Mindmaps}}<h2>Mindmaps</h2>{{range .S.Mindmaps}}<ul>{{template "outline" .}}</ul>{{end}}{{end}}
{{if .S.Comments}}<h2>Other comments</h2>{{template "thread" .S.Comments}}{{end}}
<h2>Participants</h2>
{{if .S.Participants}}<table><tr><th>Person</th><th>Changes</th><th>Dots</th><th>Comments</th></tr>
{{range .S.Participants}}<tr><td>{{.Name}}</td><td class="n">{{.Changes}}</td><td class="n">{{.Votes}}</td><td class="n">{{.Comments}}</td></tr>{{end}}</table>{{else}}<p>Nobody yet.</p>{{end}}
</body></html>
{{define "thread"}}{{if .}}<div class="thread">{{range .}}<div class="c"><span class="who">{{if .AuthorName}}{{.AuthorName}}{{else}}someone{{end}}:</span> {{.Text}}{{if .Resolved}} <em>(resolved)</em>{{end}}{{template "thread" .Replies}}</div>{{end}}</div>{{end}}{{end}}
{{define "outline"}}<li>{{if .Text}}{{.Text}}{{else}}(untitled){{end}}{{if .Children}}<ul>{{range .Children}}{{template "outline" .}}{{end}}</ul>{{end}}</li>{{end}}
`))
