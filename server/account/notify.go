package account

import (
	"errors"
	"time"
)

// Notification modes.
const (
	NotifyEach     = "each"     // every change, batched: at most one e-mail per BatchMinutes
	NotifyDigest   = "digest"   // one e-mail a day at DigestHour, local time
	NotifyMentions = "mentions" // only when mentioned (@name) or replied to, batched like "each"
	NotifyOff      = "off"
)

// Prefs are a member's notification preferences for one board.
type Prefs struct {
	Mode         string `json:"mode"`
	BatchMinutes int    `json:"batchMinutes,omitempty"` // each, mentions: default 30
	DigestHour   int    `json:"digestHour"`             // digest: local hour 0-23
	// QuietFrom and QuietTo are local hours [from, to) during which no
	// "each" or "mentions" e-mail goes out (they wait for the end); equal
	// means none. The digest goes at its own chosen hour.
	QuietFrom int `json:"quietFrom"`
	QuietTo   int `json:"quietTo"`
	// Digest, with Mode "each" or "mentions", adds a daily digest at
	// DigestHour to those e-mails: both, not one or the other.
	Digest bool `json:"digest,omitempty"`
}

// Channel is one stream of e-mails a member gets about a board, with a
// cursor of its own (CursorKey).
type Channel struct {
	Name  string // "" for the mode's own; "digest" for the added daily digest
	Prefs Prefs  // the preferences that decide it
}

// Channels are the streams the preferences ask for: the mode's, and a
// daily digest besides when Digest is set with "each" or "mentions".
func (p Prefs) Channels() []Channel {
	out := []Channel{{"", p}}
	if p.Digest && (p.Mode == NotifyEach || p.Mode == NotifyMentions) {
		out = append(out, Channel{"digest", Prefs{Mode: NotifyDigest, DigestHour: p.DigestHour}})
	}
	return out
}

// CursorKey is the key of a member's cursor of a channel (NSCursor).
func CursorKey(board [16]byte, user, channel string) []byte {
	if channel == "" {
		return BoardKey(board, user)
	}
	return BoardKey(board, user+"\x00"+channel)
}

// DefaultPrefs: a daily digest at 8 in the morning.
func DefaultPrefs() Prefs { return Prefs{Mode: NotifyDigest, DigestHour: 8, BatchMinutes: 30} }

// ErrPrefs reports invalid preferences.
var ErrPrefs = errors.New(`account: notify: mode "each", "digest", "mentions" or "off"; batchMinutes 1 to 1440; hours 0 to 23`)

// Check validates preferences and fills defaults.
func (p *Prefs) Check() error {
	switch p.Mode {
	case NotifyEach, NotifyDigest, NotifyMentions, NotifyOff:
	default:
		return ErrPrefs
	}
	if p.BatchMinutes == 0 {
		p.BatchMinutes = 30
	}
	if p.BatchMinutes < 1 || p.BatchMinutes > 1440 {
		return ErrPrefs
	}
	for _, h := range []int{p.DigestHour, p.QuietFrom, p.QuietTo} {
		if h < 0 || h > 23 {
			return ErrPrefs
		}
	}
	return nil
}

// Quiet says whether local time t falls in the quiet hours.
func (p Prefs) Quiet(t time.Time) bool {
	if p.QuietFrom == p.QuietTo {
		return false
	}
	h := t.Hour()
	if p.QuietFrom < p.QuietTo {
		return h >= p.QuietFrom && h < p.QuietTo
	}
	return h >= p.QuietFrom || h < p.QuietTo // wraps midnight, e.g. 22 → 7
}

// Decision is what the notifier does for one member at one moment.
type Decision int

const (
	Wait    Decision = iota // nothing now: keep the cursor (changes accumulate)
	Send                    // send an e-mail with what changed since the cursor, then advance it
	Advance                 // nothing worth an e-mail: advance the cursor without sending
)

// Decide says what to do for a member at now (local time zone loc) with
// cursor c, when changes by others are pending (pending) and some of them
// mention or answer the member (mentioned).
func (p Prefs) Decide(now time.Time, loc *time.Location, c Cursor, pending, mentioned bool) Decision {
	local := now.In(loc)
	batch := time.Duration(max(p.BatchMinutes, 1)) * time.Minute
	switch p.Mode {
	case NotifyOff:
		if pending {
			return Advance
		}
		return Wait
	case NotifyEach:
		if !pending || p.Quiet(local) || now.Sub(time.UnixMilli(c.Sent)) < batch {
			return Wait
		}
		return Send
	case NotifyMentions:
		if !pending || p.Quiet(local) || now.Sub(time.UnixMilli(c.Sent)) < batch {
			return Wait
		}
		if mentioned {
			return Send
		}
		return Advance
	case NotifyDigest:
		day := local.Format(time.DateOnly)
		if local.Hour() < p.DigestHour || c.Day == day {
			return Wait
		}
		if pending {
			return Send
		}
		return Advance
	}
	return Wait
}

// Today is the local date a new cursor starts at, so the first digest
// comes at the next DigestHour rather than at once.
func Today(now time.Time, loc *time.Location, p Prefs) string {
	local := now.In(loc)
	if local.Hour() >= p.DigestHour {
		return local.Format(time.DateOnly)
	}
	return local.AddDate(0, 0, -1).Format(time.DateOnly)
}
