package outbox

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The figures behind keeping the outbox in Pebble (docs/CLUSTER.md): the
// cost of queueing one e-mail durably, here (a Pebble batch with fsync)
// and in a JetStream work-queue stream on disk (one node, R1: the cheapest
// a stream gets; R3 adds a round of replication), each call alone, as a
// notifier pass queues them one by one.

func BenchmarkEnqueuePebble(b *testing.B) {
	st := openStore(b, b.TempDir())
	defer st.Close()
	o := New(st, Config{Log: quietLog()})
	ctx := context.Background()
	payload := make([]byte, 2048)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := o.Enqueue(ctx, Item{ID: fmt.Sprintf("digest/%d", i), Kind: "mail", Payload: payload}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEnqueueJetStream(b *testing.B) {
	srv, err := natsserver.NewServer(&natsserver.Options{ServerName: "bench", DontListen: true, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: filepath.Join(b.TempDir(), "js"), SyncAlways: true})
	if err != nil {
		b.Fatal(err)
	}
	srv.Start()
	defer srv.Shutdown()
	if !srv.ReadyForConnections(10 * time.Second) {
		b.Fatal("nats did not start")
	}
	nc, err := nats.Connect(srv.ClientURL(), nats.InProcessServer(srv))
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "cb_outbox", Subjects: []string{"cb.outbox.>"},
		Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage, Duplicates: time.Hour}); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 2048)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := js.Publish(ctx, "cb.outbox.mail", payload, jetstream.WithMsgID(fmt.Sprintf("digest/%d", i))); err != nil {
			b.Fatal(err)
		}
	}
}
