package meta

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Two Stores (two nodes) counting one key share one allowance: 5 events
// alternated between them, the sixth refused on either; a refund gives
// one back; the next window starts afresh; another key is apart.
func TestCountLimitIsShared(t *testing.T) {
	backends(t, func(t *testing.T, b Backend) {
		var clk atomic.Int64
		clk.Store(time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC).UnixNano())
		now := func() time.Time { return time.Unix(0, clk.Load()) }
		s1 := New(openView(t), b, Options{Now: now, Node: "one"})
		s2 := New(openView(t), b, Options{Now: now, Node: "two"})
		start(t, s1)
		start(t, s2)
		ctx := context.Background()
		nodes := []*Store{s1, s2}
		for i := range 5 {
			if ok, err := nodes[i%2].CountLimit(ctx, []byte("k"), 5, 15*time.Minute); !ok || err != nil {
				t.Fatalf("event %d: %v %v", i+1, ok, err)
			}
		}
		for i := range 2 {
			if ok, err := nodes[i].CountLimit(ctx, []byte("k"), 5, 15*time.Minute); ok || err != nil {
				t.Fatalf("sixth event on node %d: %v %v, want refused", i+1, ok, err)
			}
		}
		if ok, _ := s1.CountLimit(ctx, []byte("other"), 5, 15*time.Minute); !ok {
			t.Fatal("another key refused")
		}
		if err := s2.UncountLimit(ctx, []byte("k"), 15*time.Minute); err != nil {
			t.Fatal(err)
		}
		if ok, _ := s1.CountLimit(ctx, []byte("k"), 5, 15*time.Minute); !ok {
			t.Fatal("the refunded event refused")
		}
		if ok, _ := s1.CountLimit(ctx, []byte("k"), 5, 15*time.Minute); ok {
			t.Fatal("past the allowance after the refund")
		}
		clk.Add(int64(15 * time.Minute))
		if ok, _ := s2.CountLimit(ctx, []byte("k"), 5, 15*time.Minute); !ok {
			t.Fatal("the next window refused")
		}
		if _, err := s1.CountLimit(ctx, []byte("k"), 5, 48*time.Hour); err == nil {
			t.Fatal("a window longer than the bucket keeps records: no error")
		}
	})
}

// Concurrent counting on two Stores loses no event and lets no more than
// max through.
func TestCountLimitConcurrent(t *testing.T) {
	backends(t, func(t *testing.T, b Backend) {
		s1, s2 := New(openView(t), b, Options{Node: "one"}), New(openView(t), b, Options{Node: "two"})
		start(t, s1)
		start(t, s2)
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for i := range 8 {
			s := []*Store{s1, s2}[i%2]
			wg.Go(func() {
				for range 10 {
					if ok, err := s.CountLimit(context.Background(), []byte("hot"), 25, time.Hour); err != nil {
						t.Error(err)
					} else if ok {
						allowed.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if got := allowed.Load(); got != 25 {
			t.Fatalf("%d events allowed, want 25", got)
		}
	})
}

// cb_limits is bounded (MaxAge 24 h, MaxBytes 64 MiB, one revision a
// key) and holds no key in clear.
func TestLimitBucketIsBoundedAndHashed(t *testing.T) {
	b, srv := jetStreamServer(t)
	s := New(openView(t), b, Options{})
	start(t, s)
	addr := "alice@example.com"
	if ok, err := s.CountLimit(context.Background(), []byte("signin:"+addr), 5, time.Hour); !ok || err != nil {
		t.Fatal(ok, err)
	}
	nc, err := nats.Connect(srv.ClientURL(), nats.InProcessServer(srv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	kv, err := js.KeyValue(context.Background(), limitBucketName)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config
	if cfg.MaxAge != 24*time.Hour || cfg.MaxBytes != 64<<20 || cfg.MaxMsgsPerSubject != 1 {
		t.Fatalf("cb_limits: MaxAge %v, MaxBytes %d, history %d; want 24h, 64 MiB, 1", cfg.MaxAge, cfg.MaxBytes, cfg.MaxMsgsPerSubject)
	}
	keys, err := kv.Keys(context.Background())
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys %v, %v", keys, err)
	}
	if strings.Contains(keys[0], "alice") || strings.Contains(keys[0], "signin") {
		t.Fatalf("key %q holds the caller's key", keys[0])
	}
}

// A Store not connected yet (JetStream has no quorum) answers
// ErrUnavailable at once rather than waiting: package limit then lets the
// node's own count decide.
func TestCountLimitUnconnectedFailsFast(t *testing.T) {
	s := New(openView(t), NewMemory(), Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.CountLimit(ctx, []byte("k"), 5, time.Hour); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("before Start: %v, want ErrUnavailable", err)
	}
	if ctx.Err() != nil {
		t.Fatal("waited for the deadline")
	}
}

// BenchmarkCountLimit: one counted event (a read and a compare-and-set
// write) on a JetStream R1 bucket, each on a fresh key.
func BenchmarkCountLimit(b *testing.B) {
	be, _ := jetStreamServer(b)
	s := New(openView(b), be, Options{})
	s.Start(context.Background())
	defer s.Stop()
	<-s.Ready()
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.CountLimit(ctx, []byte(strconv.Itoa(i)), 5, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}
