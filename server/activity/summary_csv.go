package activity

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CSVHeader is the first row of the CSV rendering: one column per fact
// of an idea, named after the JSON rendering's fields (rank is the
// idea's place in the list, counted from 1; dots are the JSON's votes).
var CSVHeader = []string{"Rank", "Idea", "Kind", "Dots", "Voters", "Reactions", "Proposed by", "Comments", "Element"}

// utf8BOM opens the CSV rendering: without it, Excel, the spreadsheet
// most facilitators open a downloaded .csv in, reads the file in the
// system's legacy code page ("Idée" becomes "IdÃ©e", emoji become
// garbage). LibreOffice, Numbers and Google Sheets skip it. A program
// reading the file should strip it (Python's "utf-8-sig"); the JSON
// rendering is the one meant for programs.
const utf8BOM = "\uFEFF"

// CSV renders the summary's ideas as CSV (RFC 4180: CRLF line ends,
// fields with commas, quotes or line breaks quoted, quotes doubled),
// UTF-8 opened by a byte order mark (utf8BOM): a header row (CSVHeader),
// then one row per idea in the summary's order (the numbered list of the
// other renderings). Text is as typed, line breaks kept within the field,
// but for control characters other than tabs and line breaks, which are
// dropped, and for formula injection: a cell a spreadsheet would run as a
// formula (user text beginning with =, +, -, @, a tab or a carriage
// return, behind blanks too) starts with an apostrophe, so it is shown as text. Board text is
// written by anyone who may edit; the facilitator who opens the file must
// not run it.
func (s Summary) CSV() []byte {
	var b bytes.Buffer
	b.WriteString(utf8BOM)
	w := csv.NewWriter(&b)
	w.UseCRLF = true
	w.Write(CSVHeader)
	for i, idea := range s.Ideas {
		var reactions []string
		for _, r := range sortedKeys(idea.Reactions) {
			reactions = append(reactions, r+" "+strconv.Itoa(idea.Reactions[r]))
		}
		w.Write([]string{
			strconv.Itoa(i + 1),
			csvCell(idea.Text),
			csvCell(idea.Kind),
			strconv.Itoa(idea.Votes),
			strconv.Itoa(idea.Voters),
			csvCell(strings.Join(reactions, ", ")),
			csvCell(idea.ByName),
			strconv.Itoa(countComments(idea.Comments)),
			csvCell(idea.Element),
		})
	}
	w.Flush()
	if w.Error() != nil {
		panic(w.Error()) // a bytes.Buffer does not fail
	}
	return b.Bytes()
}

// countComments counts the comments of threads, replies included.
func countComments(cs []Comment) int {
	n := len(cs)
	for _, c := range cs {
		n += countComments(c.Replies)
	}
	return n
}

// csvCell makes user text safe for a spreadsheet cell: valid UTF-8,
// without control characters but tabs and line breaks, and, if a
// spreadsheet could take it for a formula (it begins with one of
// formulaStarts; behind blanks too, which some spreadsheets skip: any
// Unicode space, and invisible format characters such as a zero-width
// space or a byte order mark, not only ASCII spaces and line feeds), with
// an apostrophe before it, which spreadsheets read as "this cell is text".
// Quoting is the CSV writer's.
func csvCell(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	lead := strings.TrimLeftFunc(s, func(r rune) bool {
		return r != '\t' && r != '\r' && (unicode.IsSpace(r) || unicode.Is(unicode.Cf, r))
	})
	if r, _ := utf8.DecodeRuneInString(lead); lead != "" && strings.ContainsRune(formulaStarts, r) {
		s = "'" + s
	}
	return s
}

// formulaStarts are the characters a spreadsheet may start a formula
// with: =, +, -, @, a tab, a carriage return (OWASP's list), and the
// full-width =, +, - and @ that East Asian input methods type, which
// spreadsheets in those locales take as the ASCII ones (OWASP names them
// too).
const formulaStarts = "=+-@\t\r\uFF1D\uFF0B\uFF0D\uFF20"
