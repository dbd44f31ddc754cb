package node

import (
	"fmt"
	"log/slog"
	"os"
	"syscall"
)

// privateDataDir makes the data directory dir its user's alone (0700),
// creating it if needed. It holds every board, session and account
// record, and, without --secret, the secret that signs every token (in
// the store's files); Pebble creates its directory 0755 and its files
// 0644, so with the usual umask any local user could read the secret
// and sign an owner token for any board. In a directory only its user
// may enter, every file, made now or later by Pebble or JetStream,
// whatever its own mode, is out of others' reach. A directory that
// exists with more is tightened if the node's user owns it, and the
// change logged; one owned by someone else (a volume a group shares, the
// operator's choice) is left as it is, with a warning.
//
// Rejected: setting each file's mode (Pebble and JetStream make new files
// all the time, 0644 again); refusing to start on a directory others may
// enter (nodes whose directory an earlier version made would no longer
// start after an upgrade).
func privateDataDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	was := fi.Mode().Perm()
	if was&0o077 == 0 {
		return nil
	}
	if !ownedByUs(fi) {
		log.Warn("the data directory may be entered by others, and it is not this user's to change: make it 0700", "dir", dir, "mode", was.String())
		return nil
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	log.Warn("the data directory could be entered by others: made 0700", "dir", dir, "was", was.String())
	return nil
}

// ownedByUs says whether the file fi describes belongs to the process's
// user.
func ownedByUs(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}
