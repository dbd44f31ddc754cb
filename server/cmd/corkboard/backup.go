package main

// Backups: `corkboard backup <dir>` asks the node running on a data
// directory for a copy of its store, taken while it serves, and
// `corkboard restore <dir>` puts such a copy in place of a data directory
// for a node to start on.
//
// What a backup is: a Pebble checkpoint of the node's store (node.Checkpoint):
// consistent as of one instant, taken online (sstables hard-linked, the WAL
// synced and copied). It holds every board with its history and pictures,
// the outbox, the node's stored secret, and the node's view of the
// cluster's metadata (boards' settings, accounts, sessions, claims), which
// is a copy of every record of the JetStream buckets the node has applied.
// The JetStream directory is not in it: restored into a new cluster, the
// node refills the empty buckets from that view when it starts (meta's
// migration); in a cluster that still has its buckets, it takes their
// newer records. Restoring one node of a cluster is then the same as a
// node that was down: the others send it what it missed.
//
// How the command reaches the node: a Unix socket in a directory of the
// data directory that only the node's user may enter (adminDir, 0700), so
// whoever can ask for a backup could read the data directory anyway; it
// takes one request, a checkpoint into a directory named by an absolute
// path that must not exist yet.
//
// Rejected alternatives:
//   - an HTTP endpoint on the node's port, authenticated with a token
//     derived from --secret: it puts a way to copy every board out of the
//     node on the network, for an operation that is local by nature (the
//     checkpoint is written on the node's disk anyway);
//   - reading the JetStream buckets for the backup (through NATS, or a
//     copy of the JetStream directory): a second copy taken at another
//     instant than the store's, so the two could disagree, while the view
//     in the store is already consistent with the boards;
//   - copying the data directory with the node stopped: not online;
//     opening the store from a second process while the node runs is not
//     possible (Pebble locks it).

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/corkboard/corkboard/storage"
)

// adminDir is the directory of the data directory that holds the admin
// socket; only the node's user may enter it.
const adminDir = "admin"

// adminSocket is the socket's path under a data directory.
func adminSocket(dataDir string) string { return filepath.Join(dataDir, adminDir, "sock") }

// checkpointer is what the admin socket needs of a node.
type checkpointer interface {
	Checkpoint(dir string) error
}

// checkpointRequest asks for a checkpoint into Dir.
type checkpointRequest struct {
	Dir string `json:"dir"`
}

// serveAdmin serves the admin socket of the node n, whose store is in
// dataDir, until stop is called.
func serveAdmin(n checkpointer, dataDir string, log *slog.Logger) (stop func(), err error) {
	dir := filepath.Join(dataDir, adminDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o700); err != nil { // it may have existed
		return nil, err
	}
	sock := adminSocket(dataDir)
	// A socket left by a node that stopped without removing it: this node
	// holds the store's lock, so no other node is using it.
	if err := os.Remove(sock); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /checkpoint", func(w http.ResponseWriter, r *http.Request) {
		var req checkpointRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
			adminError(w, http.StatusBadRequest, "bad_request", "a JSON body {\"dir\": ...} is expected")
			return
		}
		if !filepath.IsAbs(req.Dir) {
			adminError(w, http.StatusBadRequest, "bad_request", "dir must be an absolute path")
			return
		}
		if _, err := os.Lstat(req.Dir); err == nil {
			adminError(w, http.StatusConflict, "exists", req.Dir+" exists: a backup goes into a new directory")
			return
		}
		start := time.Now()
		if err := n.Checkpoint(req.Dir); err != nil {
			log.Error("backup failed", "dir", req.Dir, "err", err)
			adminError(w, http.StatusInternalServerError, "internal", err.Error())
			return
		}
		// The copy holds the node's secret and every session: its
		// directory is for the node's user only. (Put backups in a
		// private directory too: Pebble creates this one as it likes.)
		if err := os.Chmod(req.Dir, 0o700); err != nil {
			adminError(w, http.StatusInternalServerError, "internal", err.Error())
			return
		}
		log.Info("backup written", "dir", req.Dir, "took", time.Since(start).String())
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(checkpointRequest{Dir: req.Dir})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	return func() {
		srv.Close()
		<-done
		os.Remove(sock)
	}, nil
}

func adminError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	body.Error.Code, body.Error.Message = code, msg
	json.NewEncoder(w).Encode(body)
}

// backup asks the node running on dataDir for a checkpoint into dir.
func backup(ctx context.Context, dataDir, dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	sock := adminSocket(dataDir)
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	body, _ := json.Marshal(checkpointRequest{Dir: abs})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://node/checkpoint", strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("no node answers on %s (is one running with --data-dir %s, as this user?): %w", sock, dataDir, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&e)
		return fmt.Errorf("the node refused the backup: %s", e.Error.Message)
	}
	return nil
}

// restore copies the backup in from into dataDir, which must not exist or
// be empty, then opens it as a store to check it is one. The backup stays
// as it was: it can be restored again.
func restore(from, dataDir string) error {
	if _, err := os.Stat(from); err != nil {
		return err
	}
	if m, _ := filepath.Glob(filepath.Join(from, "MANIFEST-*")); len(m) == 0 {
		return fmt.Errorf("%s is not a backup: it holds no Pebble store", from)
	}
	entries, err := os.ReadDir(dataDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case len(entries) > 0:
		return fmt.Errorf("%s is not empty: restore into a new data directory (move the old one away first)", dataDir)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	err = filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dataDir, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o700)
		case !d.Type().IsRegular():
			return fmt.Errorf("%s: not a regular file", path)
		}
		return copyFile(path, to)
	})
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	st, err := storage.OpenPebble(dataDir, storage.PebbleOptions{})
	if err != nil {
		return fmt.Errorf("restore: the copy in %s does not open as a store: %w", dataDir, err)
	}
	return st.Close()
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// runBackupCommand runs `corkboard backup` or `corkboard restore` (name)
// with args.
func runBackupCommand(name string, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("corkboard "+name, flag.ContinueOnError)
	dataDir := fs.String("data-dir", "./data", "the node's data directory")
	if v, ok := os.LookupEnv(envName("data-dir")); ok {
		*dataDir = v
	}
	fs.Usage = func() {
		switch name {
		case "backup":
			fmt.Fprintf(fs.Output(), "Usage: corkboard backup [--data-dir DIR] BACKUP-DIR\n\nAsks the node running on --data-dir (%s) for a consistent copy of its\nstore, taken while it serves, into BACKUP-DIR, a new directory on the same\nmachine.\n\n", envName("data-dir"))
		default:
			fmt.Fprintf(fs.Output(), "Usage: corkboard restore [--data-dir DIR] BACKUP-DIR\n\nCopies a backup into --data-dir (%s), which must not exist or be empty;\nthen start a node on it.\n\n", envName("data-dir"))
		}
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("%s: want one BACKUP-DIR", name)
	}
	dir := fs.Arg(0)
	if name == "backup" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		if err := backup(ctx, *dataDir, dir); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "backup written to %s\n", dir)
		return nil
	}
	if err := restore(dir, *dataDir); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored %s into %s\n", dir, *dataDir)
	return nil
}
