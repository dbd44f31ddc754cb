package crdt

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Script tests: the files in testdata/*.txt are the specification's
// examples, written as a sequence of commands, each followed by "----" and
// the output it must print (up to the next blank line). Run with -rewrite
// to regenerate the expected output after a deliberate change, then read
// the diff.
//
// Commands (replica names are single words; element names are words too,
// turned into ids deterministically):
//
//	replicas a b c              create replicas (ids 1, 2, 3 ...: a < b < c)
//	a: <edit> [; <edit>...]     one change by replica a with one or more edits
//	a@T: <edit>                 the same at physical time T (ms)
//	sync a b                    b receives every change a has that b lacks
//	deliver a b N               b receives a's N-th logged change (1-based; -1 the latest)
//	show a                      print a's board
//	text a el [field]           print a text with its characters' ids
//	same a b ...                print "converged" or the first difference
//	undo a / redo a             a undoes / redoes its last step
//
// Edits: create el kind | set el key <json> | delete el | restore el |
// insert el field pos "text" | erase el field pos n | move el parent|root pos
// | vote el key voter <json>
var rewrite = flag.Bool("rewrite", false, "rewrite testdata expectations")

type scriptReplica struct {
	name string
	doc  *Doc
	undo *UndoManager
	log  []Change
}

type scriptEnv struct {
	t     *testing.T
	reps  map[string]*scriptReplica
	order []string
	names map[ElementID]string
}

func (e *scriptEnv) el(name string) ElementID {
	if name == "root" {
		return Root
	}
	var id ElementID
	copy(id[:], name)
	id[15] |= 0x80 // never the root, even for short names
	e.names[id] = name
	return id
}

func (e *scriptEnv) name(id ElementID) string {
	if id == Root {
		return "root"
	}
	if n, ok := e.names[id]; ok {
		return n
	}
	return id.String()
}

func (e *scriptEnv) rep(name string) (*scriptReplica, error) {
	r := e.reps[name]
	if r == nil {
		return nil, fmt.Errorf("no replica %q", name)
	}
	return r, nil
}

func splitArgs(s string) ([]string, error) {
	var out []string
	s = strings.TrimSpace(s)
	for s != "" {
		if s[0] == '"' {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return nil, err
			}
			out = append(out, q) // kept quoted: JSON arguments need the quotes
			s = strings.TrimSpace(s[len(q):])
			continue
		}
		i := strings.IndexAny(s, " \t")
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i])
		s = strings.TrimSpace(s[i:])
	}
	return out, nil
}

func (e *scriptEnv) edit(tx *Tx, args []string) error {
	need := func(n int) error {
		if len(args) != n {
			return fmt.Errorf("%s wants %d arguments", args[0], n-1)
		}
		return nil
	}
	switch args[0] {
	case "create":
		if err := need(3); err != nil {
			return err
		}
		return tx.Create(e.el(args[1]), args[2])
	case "set":
		if err := need(4); err != nil {
			return err
		}
		v, err := JSONValue([]byte(args[3]))
		if err != nil {
			return err
		}
		return tx.Set(e.el(args[1]), args[2], v)
	case "delete", "restore":
		if err := need(2); err != nil {
			return err
		}
		if args[0] == "delete" {
			return tx.Delete(e.el(args[1]))
		}
		return tx.Restore(e.el(args[1]))
	case "insert":
		if err := need(5); err != nil {
			return err
		}
		pos, _ := strconv.Atoi(args[3])
		text, err := strconv.Unquote(args[4])
		if err != nil {
			return fmt.Errorf("insert: text must be quoted: %v", err)
		}
		return tx.InsertText(e.el(args[1]), args[2], pos, text)
	case "erase":
		if err := need(5); err != nil {
			return err
		}
		pos, _ := strconv.Atoi(args[3])
		n, _ := strconv.Atoi(args[4])
		return tx.DeleteText(e.el(args[1]), args[2], pos, n)
	case "move":
		if err := need(4); err != nil {
			return err
		}
		return tx.Move(e.el(args[1]), e.el(args[2]), args[3])
	case "vote":
		if err := need(5); err != nil {
			return err
		}
		v, err := JSONValue([]byte(args[4]))
		if err != nil {
			return err
		}
		return tx.Vote(e.el(args[1]), args[2], args[3], v)
	}
	return fmt.Errorf("unknown edit %q", args[0])
}

func (e *scriptEnv) apply(r *scriptReplica, c Change) string {
	st, applied, err := r.doc.Apply(c)
	if err != nil {
		return fmt.Sprintf("%s: error: %v\n", r.name, err)
	}
	r.log = append(r.log, applied...)
	return fmt.Sprintf("%s: %s %s (%d applied)\n", r.name, e.describe(c), st, len(applied))
}

func (e *scriptEnv) describe(c Change) string {
	return fmt.Sprintf("%s#%d", e.repName(c.Replica), c.Start)
}

func (e *scriptEnv) repName(id ReplicaID) string {
	for _, n := range e.order {
		if e.reps[n].doc != nil && ReplicaID(slices.Index(e.order, n)+1) == id {
			return n
		}
	}
	return id.String()
}

func (e *scriptEnv) show(r *scriptReplica) string {
	var b strings.Builder
	d := r.doc
	var walk func(p ElementID, depth int)
	walk = func(p ElementID, depth int) {
		for _, id := range d.Children(p) {
			fmt.Fprintf(&b, "%s%s %s", strings.Repeat("  ", depth), e.name(id), d.Kind(id))
			if d.IsDeleted(id) {
				b.WriteString(" (deleted)")
			}
			if _, pos := d.Parent(id); pos != "" {
				fmt.Fprintf(&b, " pos=%s", pos)
			}
			for _, k := range d.Keys(id) {
				v, _ := d.Get(id, k)
				fmt.Fprintf(&b, " %s=%s", k, v)
			}
			for _, f := range d.TextFields(id) {
				fmt.Fprintf(&b, " %s=%q", f, d.Text(id, f))
			}
			for _, key := range []string{"vote", "react"} {
				if vs := d.Votes(id, key); len(vs) > 0 {
					n, sum := d.Tally(id, key)
					fmt.Fprintf(&b, " %s[", key)
					for i, v := range vs {
						if i > 0 {
							b.WriteByte(' ')
						}
						fmt.Fprintf(&b, "%s:%s", v.Voter, v.Value)
					}
					fmt.Fprintf(&b, "]=%d/%g", n, sum)
				}
			}
			b.WriteByte('\n')
			walk(id, depth+1)
		}
	}
	walk(Root, 0)
	if h := d.Held(); h > 0 {
		fmt.Fprintf(&b, "held: %d\n", h)
	}
	if b.Len() == 0 {
		return "(empty)\n"
	}
	return b.String()
}

func (e *scriptEnv) run(cmd string) (string, error) {
	head, rest, hasColon := strings.Cut(cmd, ":")
	if hasColon && !strings.Contains(head, " ") {
		name, at, timed := strings.Cut(head, "@")
		r, err := e.rep(name)
		if err != nil {
			return "", err
		}
		var now int64
		if timed {
			now, _ = strconv.ParseInt(at, 10, 64)
		}
		tx := r.undo.Begin(now)
		var errs []string
		for _, part := range strings.Split(rest, ";") {
			args, err := splitArgs(part)
			if err != nil || len(args) == 0 {
				return "", fmt.Errorf("bad edit %q", part)
			}
			if err := e.edit(&tx, args); err != nil {
				errs = append(errs, err.Error())
			}
		}
		c, ok := tx.Commit()
		var out strings.Builder
		for _, s := range errs {
			fmt.Fprintf(&out, "error: %s\n", s)
		}
		if ok {
			r.log = append(r.log, c)
			fmt.Fprintf(&out, "%s: %d ops\n", e.describe(c), len(c.Ops))
		} else if len(errs) == 0 {
			out.WriteString("no change\n")
		}
		return out.String(), nil
	}
	args, err := splitArgs(cmd)
	if err != nil || len(args) == 0 {
		return "", fmt.Errorf("bad command %q", cmd)
	}
	switch args[0] {
	case "replicas":
		for _, n := range args[1:] {
			d := NewDoc()
			id := ReplicaID(len(e.order) + 1)
			e.reps[n] = &scriptReplica{name: n, doc: d, undo: NewUndoManager(d, id)}
			e.order = append(e.order, n)
		}
		return "ok\n", nil
	case "sync":
		from, err := e.rep(args[1])
		if err != nil {
			return "", err
		}
		to, err := e.rep(args[2])
		if err != nil {
			return "", err
		}
		var out strings.Builder
		for _, c := range Missing(from.log, to.doc.Version()) {
			out.WriteString(e.apply(to, c))
		}
		if out.Len() == 0 {
			return "nothing to send\n", nil
		}
		return out.String(), nil
	case "deliver":
		from, err := e.rep(args[1])
		if err != nil {
			return "", err
		}
		to, err := e.rep(args[2])
		if err != nil {
			return "", err
		}
		n, _ := strconv.Atoi(args[3])
		if n < 0 {
			n = len(from.log) + 1 + n // -1 is the latest
		}
		if n < 1 || n > len(from.log) {
			return "", fmt.Errorf("%s has %d logged changes", from.name, len(from.log))
		}
		return e.apply(to, from.log[n-1]), nil
	case "show":
		r, err := e.rep(args[1])
		if err != nil {
			return "", err
		}
		return e.show(r), nil
	case "text":
		r, err := e.rep(args[1])
		if err != nil {
			return "", err
		}
		field := "text"
		if len(args) > 3 {
			field = args[3]
		}
		el := r.doc.elems[e.el(args[2])]
		if el == nil || el.text(field) == nil {
			return "(no text)\n", nil
		}
		t := el.text(field)
		return fmt.Sprintf("%q (%d runes)\n", t.String(), t.Len()), nil
	case "same":
		first, err := e.rep(args[1])
		if err != nil {
			return "", err
		}
		want := first.doc.Snapshot()
		for _, n := range args[2:] {
			r, err := e.rep(n)
			if err != nil {
				return "", err
			}
			if !bytes.Equal(r.doc.Snapshot(), want) {
				return fmt.Sprintf("%s and %s differ:\n%s---\n%s", first.name, n, e.show(first), e.show(r)), nil
			}
		}
		return "converged\n", nil
	case "undo", "redo":
		r, err := e.rep(args[1])
		if err != nil {
			return "", err
		}
		var c Change
		var ok bool
		if args[0] == "undo" {
			c, ok = r.undo.Undo(0)
		} else {
			c, ok = r.undo.Redo(0)
		}
		if !ok {
			return "nothing to " + args[0] + "\n", nil
		}
		r.log = append(r.log, c)
		return fmt.Sprintf("%s: %d ops\n", e.describe(c), len(c.Ops)), nil
	}
	return "", fmt.Errorf("unknown command %q", args[0])
}

func TestScripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no script files in testdata")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runScript(t, f) })
	}
}

func runScript(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := &scriptEnv{t: t, reps: map[string]*scriptReplica{}, names: map[ElementID]string{}}
	var out bytes.Buffer // the rewritten file
	sc := bufio.NewScanner(bytes.NewReader(data))
	lineNo := 0
	var cmds []string
	failed := false
	for sc.Scan() {
		line := sc.Text()
		lineNo++
		if line != "----" {
			if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
				if len(cmds) == 0 {
					out.WriteString(line + "\n")
					continue
				}
			}
			cmds = append(cmds, line)
			continue
		}
		// Expected output: up to a blank line or EOF.
		var want []string
		for sc.Scan() {
			lineNo++
			if sc.Text() == "" {
				break
			}
			want = append(want, sc.Text())
		}
		var got strings.Builder
		for _, c := range cmds {
			o, err := env.run(c)
			if err != nil {
				t.Fatalf("%s:%d: %s: %v", path, lineNo, c, err)
			}
			got.WriteString(o)
		}
		gotS := strings.TrimRight(got.String(), "\n")
		wantS := strings.Join(want, "\n")
		if gotS != wantS && !*rewrite {
			t.Errorf("%s:%d:\n%s\n---- got:\n%s\n---- want:\n%s", path, lineNo, strings.Join(cmds, "\n"), gotS, wantS)
			failed = true
		}
		out.WriteString(strings.Join(cmds, "\n") + "\n----\n" + gotS + "\n\n")
		cmds = nil
	}
	if len(cmds) > 0 {
		t.Fatalf("%s: commands without expected output at the end", path)
	}
	if *rewrite && !failed {
		if err := os.WriteFile(path, append(bytes.TrimRight(out.Bytes(), "\n"), '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
