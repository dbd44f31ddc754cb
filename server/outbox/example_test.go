package outbox_test

import (
	"context"
	"fmt"
	"os"

	"github.com/corkboard/corkboard/server/mail"
	"github.com/corkboard/corkboard/server/mail/smtptest"
	"github.com/corkboard/corkboard/server/outbox"
	"github.com/corkboard/corkboard/storage"
)

// How a node wires the outbox: one store, a deliverer per kind, producers
// that enqueue items made by mail.NewItem and webhook.NewItem, and Run in
// the background (here one RunDue pass, to print the result).
func Example() {
	relay, _ := smtptest.Start(smtptest.Options{})
	defer relay.Close()
	dir, _ := os.MkdirTemp("", "outbox-example")
	defer os.RemoveAll(dir)
	store, _ := storage.OpenPebble(dir, storage.PebbleOptions{})
	defer store.Close()

	ob := outbox.New(store, outbox.Config{})
	ob.Register(mail.Kind, mail.Deliverer(mail.NewSMTP(mail.SMTPConfig{
		Addr: relay.Addr(), TLSConfig: relay.ClientTLS(), From: "Corkboard <noreply@cork.example>",
	})))

	it, err := mail.NewItem(mail.Message{
		ID:          "invite/board-1/ana",
		To:          "ana@example.com",
		Subject:     "You are invited to “Q3 ideas”",
		Text:        "Open the board: https://cork.example/b/1",
		Unsubscribe: "https://cork.example/unsubscribe/t0k3n",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	ob.Enqueue(ctx, it)
	ob.Enqueue(ctx, it) // the same ID again: a no-op
	n, err := ob.RunDue(ctx)
	fmt.Println("delivered:", n, err)
	for _, m := range relay.Messages() {
		fmt.Println(m.MessageID(), m.TLS, m.Header.Get("List-Unsubscribe-Post"))
	}
	// Output:
	// delivered: 1 <nil>
	// <invite/board-1/ana@cork.example> true List-Unsubscribe=One-Click
}
