package activity_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/server/activity"
	"github.com/corkboard/corkboard/server/mail"
	"github.com/corkboard/corkboard/server/outbox"
)

// The worst digest of many people still makes an e-mail the mail package
// and the outbox take: a hundred people, every one mentioning the reader
// and doing each action to four elements whose texts are 120 "&" (the
// character that costs most once escaped into HTML and JSON), each named
// with 80 four-byte characters, on a board named with 200.
func TestDigestOfManyPeopleFitsAnEmail(t *testing.T) {
	amp := strings.Repeat("&", 120)
	names := map[string]string{}
	var events []activity.Event
	actions := []activity.Action{activity.Added, activity.Edited, activity.Moved, activity.Deleted, activity.Restored,
		activity.Commented, activity.Replied, activity.Resolved, activity.Reopened, activity.Voted}
	for p := range 100 {
		user := fmt.Sprintf("guest-%03d", p)
		names[user] = strings.Repeat("𝔸", 80)
		for a, act := range actions {
			for k := range 4 {
				events = append(events, activity.Event{Element: fmt.Sprintf("%s-%d-%d", user, a, k), Kind: "comment", Action: act,
					By: []string{user}, Text: amp + fmt.Sprint(k), TargetText: amp + fmt.Sprint(k), OnText: amp + fmt.Sprint(k), Mentions: []string{"Maya"}, At: 1})
			}
		}
	}
	d := activity.Digest{Board: strings.Repeat("🗂", 200), BoardURL: "https://boards.example.com/b/1", Recipient: "Maya",
		Names: names, Events: events, ForYou: events[:len(events)/2], Notices: []string{"Dot voting is open: 3 dots each."},
		From: time.Unix(1, 0), To: time.Unix(2, 0)}
	m := mail.Message{ID: "notify/1", From: "Corkboard <boards@example.com>", To: "maya@example.com",
		Subject: d.Subject(), Text: d.Text(), HTML: d.HTML(), Unsubscribe: "https://boards.example.com/v1/unsubscribe?b=1"}
	it, err := mail.NewItem(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(it.Payload) > outbox.MaxPayloadLen {
		t.Fatalf("the outbox item is %d bytes, past the outbox's %d", len(it.Payload), outbox.MaxPayloadLen)
	}
	if !strings.Contains(m.Text, "other people made") {
		t.Errorf("the people left out are not counted:\n%.3000s", m.Text)
	}
	t.Logf("subject %d bytes, item %d bytes", len(m.Subject), len(it.Payload))
}
