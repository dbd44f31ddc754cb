package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/storage"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// backends runs a test against both backends: the in-process one and a
// real embedded NATS server with JetStream on disk.
func backends(t *testing.T, fn func(t *testing.T, b Backend)) {
	t.Run("memory", func(t *testing.T) { fn(t, NewMemory()) })
	t.Run("jetstream", func(t *testing.T) { fn(t, jetStreamBackend(t)) })
}

func jetStreamBackend(t *testing.T) Backend {
	t.Helper()
	b, _ := jetStreamServer(t)
	return b
}

func jetStreamServer(t testing.TB) (Backend, *natsserver.Server) {
	t.Helper()
	srv, err := natsserver.NewServer(&natsserver.Options{
		ServerName: "meta-test", DontListen: true, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: filepath.Join(t.TempDir(), "js"),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats did not start")
	}
	t.Cleanup(srv.Shutdown)
	nc, err := nats.Connect(srv.ClientURL(), nats.InProcessServer(srv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := NewJetStream(nc, 1)
	if err != nil {
		t.Fatal(err)
	}
	return js, srv
}

func openView(t testing.TB) storage.Store {
	t.Helper()
	v, err := storage.OpenPebble(filepath.Join(t.TempDir(), "view"), storage.PebbleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func openStore(t *testing.T, view storage.Store, b Backend) *Store {
	t.Helper()
	return New(view, b, Options{})
}

func start(t *testing.T, s *Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.Start(ctx)
	t.Cleanup(s.Stop)
	select {
	case <-s.Ready():
	case <-ctx.Done():
		t.Fatal("store did not connect")
	}
}

// eventually polls cond until it holds or 10 s pass (another node's
// watch delivers asynchronously).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWritesReachEveryViewAndHook(t *testing.T) {
	backends(t, func(t *testing.T, b Backend) {
		ctx := context.Background()
		a, c := openStore(t, openView(t), b), openStore(t, openView(t), b)
		var mu sync.Mutex
		seen := map[string]string{}
		c.OnChange(func(ns string, key, val []byte) {
			mu.Lock()
			seen[ns+"/"+string(key)] = string(val)
			mu.Unlock()
		})
		var ownHook string
		a.OnChange(func(ns string, key, val []byte) { ownHook = string(val) })
		start(t, a)
		start(t, c)

		if err := a.Put(ctx, account.NSUser, []byte("u1"), []byte(`{"name":"ana"}`)); err != nil {
			t.Fatal(err)
		}
		// Read your writes: the view and the hooks have it on return.
		if v, err := a.Get(ctx, account.NSUser, []byte("u1")); err != nil || string(v) != `{"name":"ana"}` {
			t.Fatalf("writer's view: %q %v", v, err)
		}
		if ownHook != `{"name":"ana"}` {
			t.Fatalf("writer's hook ran with %q before the write returned", ownHook)
		}
		eventually(t, "the other node's view and hook get the write", func() bool {
			v, err := c.Get(ctx, account.NSUser, []byte("u1"))
			mu.Lock()
			defer mu.Unlock()
			return err == nil && string(v) == `{"name":"ana"}` && seen["user/u1"] == `{"name":"ana"}`
		})
		if err := c.Delete(ctx, account.NSUser, []byte("u1")); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctx, account.NSUser, []byte("u1")); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("deleter's view still has it: %v", err)
		}
		eventually(t, "the delete reaches the first node", func() bool {
			_, err := a.Get(ctx, account.NSUser, []byte("u1"))
			return errors.Is(err, storage.ErrNotFound)
		})
		if _, err := a.bucket(ctx, "nope"); err == nil {
			t.Fatal("a namespace without a bucket was accepted")
		}
	})
}

// Two nodes incrementing one record at once lose no increment: Update is
// a compare-and-set, where the copies before it kept the last writer.
func TestUpdateLosesNoConcurrentWrite(t *testing.T) {
	backends(t, func(t *testing.T, b Backend) {
		ctx := context.Background()
		stores := []*Store{openStore(t, openView(t), b), openStore(t, openView(t), b)}
		for _, s := range stores {
			start(t, s)
		}
		const each = 20
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Add(1)
			go func(s *Store) {
				defer wg.Done()
				for range each {
					err := s.Update(ctx, account.NSCursor, []byte("k"), func(old []byte, found bool) ([]byte, error) {
						var n int
						if found {
							json.Unmarshal(old, &n)
						}
						return json.Marshal(n + 1)
					})
					if err != nil {
						t.Error(err)
						return
					}
				}
			}(stores[i%2])
		}
		wg.Wait()
		for i, s := range stores {
			eventually(t, fmt.Sprintf("node %d sees every increment", i), func() bool {
				v, _ := s.Get(ctx, account.NSCursor, []byte("k"))
				return string(v) == fmt.Sprint(4*each)
			})
		}
		// A refusal leaves the record as it was.
		refused := errors.New("no")
		if err := stores[0].Update(ctx, account.NSCursor, []byte("k"), func([]byte, bool) ([]byte, error) { return nil, refused }); err != refused {
			t.Fatalf("refusal: %v", err)
		}
		if h, err := stores[0].History(ctx, account.NSCursor, []byte("k")); err != nil || string(h[len(h)-1].Value) != fmt.Sprint(4*each) {
			t.Fatalf("history after a refusal: %v %v", h, err)
		}
	})
}

// A restarted node resumes its watch where it stopped: it gets what was
// written while it was down, and its hooks see each change once.
func TestRestartResumesTheWatch(t *testing.T) {
	backends(t, func(t *testing.T, b Backend) {
		ctx := context.Background()
		view := openView(t)
		a := openStore(t, view, b)
		other := openStore(t, openView(t), b)
		start(t, other)
		start(t, a)
		if err := other.Put(ctx, NSBoard, []byte("b1"), []byte(`{"v":1}`)); err != nil {
			t.Fatal(err)
		}
		// In a's view, not only readable through it (Get falls back to
		// the bucket): a stops after applying it.
		eventually(t, "first write reaches a's view", func() bool {
			v, _ := a.view.GetMeta(ctx, NSBoard, []byte("b1"))
			return string(v) == `{"v":1}`
		})
		a.Stop()
		if err := other.Put(ctx, NSBoard, []byte("b1"), []byte(`{"v":2}`)); err != nil {
			t.Fatal(err)
		}
		if err := other.Put(ctx, NSBoard, []byte("b2"), []byte(`{"v":3}`)); err != nil {
			t.Fatal(err)
		}
		again := openStore(t, view, b)
		var mu sync.Mutex
		var changes []string
		again.OnChange(func(ns string, key, val []byte) {
			mu.Lock()
			changes = append(changes, string(key)+"="+string(val))
			mu.Unlock()
		})
		start(t, again)
		eventually(t, "the restarted node catches up", func() bool {
			v1, _ := again.view.GetMeta(ctx, NSBoard, []byte("b1"))
			v2, _ := again.view.GetMeta(ctx, NSBoard, []byte("b2"))
			mu.Lock()
			defer mu.Unlock()
			return string(v1) == `{"v":2}` && string(v2) == `{"v":3}` && len(changes) >= 2
		})
		// One more write, through the same watch: once its hook ran, every
		// earlier one has, so the count is final.
		if err := other.Put(ctx, NSBoard, []byte("b3"), []byte(`{"v":4}`)); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the last write's hook", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(changes) > 0 && changes[len(changes)-1] == `b3={"v":4}`
		})
		mu.Lock()
		defer mu.Unlock()
		if want := []string{`b1={"v":2}`, `b2={"v":3}`, `b3={"v":4}`}; fmt.Sprint(changes) != fmt.Sprint(want) {
			t.Fatalf("hooks after restart saw %v, want %v: each change made while down, once, in order", changes, want)
		}
	})
}

func TestCreateIsFirstWriterOnly(t *testing.T) {
	backends(t, func(t *testing.T, b Backend) {
		ctx := context.Background()
		a, c := openStore(t, openView(t), b), openStore(t, openView(t), b)
		start(t, a)
		start(t, c)
		if err := a.Create(ctx, NSClaim, []byte("r1"), []byte("ana")); err != nil {
			t.Fatal(err)
		}
		if err := c.Create(ctx, NSClaim, []byte("r1"), []byte("ben")); !errors.Is(err, ErrExists) {
			t.Fatalf("second claim: %v", err)
		}
		eventually(t, "both agree on the owner", func() bool { v, _ := c.Get(ctx, NSClaim, []byte("r1")); return string(v) == "ana" })
	})
}

func TestLeaseHasOneHolder(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	m.Now = clock
	a, c := New(openView(t), m, Options{Now: clock}), New(openView(t), m, Options{Now: clock})
	start(t, a)
	start(t, c)
	if ok, err := a.Lease(ctx, "notifier", "a"); !ok || err != nil {
		t.Fatalf("first taker: %v %v", ok, err)
	}
	if ok, _ := c.Lease(ctx, "notifier", "c"); ok {
		t.Fatal("a held lease was taken")
	}
	advance(LeaseTTL / 2)
	if ok, _ := a.Lease(ctx, "notifier", "a"); !ok {
		t.Fatal("renewal failed")
	}
	advance(LeaseTTL / 2)
	if ok, _ := c.Lease(ctx, "notifier", "c"); ok {
		t.Fatal("a renewed lease was taken")
	}
	// a stops renewing (killed): it stops holding before c can take it.
	advance(LeaseTTL / 6) // 2/3 of the lease time since the renewal
	if a.Holds("notifier") {
		t.Fatal("a lease not renewed for 2/3 of its time still counts as held")
	}
	if ok, _ := c.Lease(ctx, "notifier", "c"); ok {
		t.Fatal("taken before it expired")
	}
	advance(LeaseTTL / 3)
	if ok, _ := c.Lease(ctx, "notifier", "c"); !ok || !c.Holds("notifier") {
		t.Fatal("an expired lease could not be taken")
	}
	if ok, _ := a.Lease(ctx, "notifier", "a"); ok {
		t.Fatal("the old holder took it back")
	}
	c.Release(ctx, "notifier", "c")
	if ok, _ := a.Lease(ctx, "notifier", "a"); !ok {
		t.Fatal("a released lease could not be taken")
	}
}

func TestKeysRoundTrip(t *testing.T) {
	for _, k := range [][]byte{{0}, []byte("u1"), {0xff, 0, '.', '*', '>'}} {
		ns, key, ok := parseKey(kvKey(account.NSMember, k))
		if !ok || ns != account.NSMember || string(key) != string(k) {
			t.Fatalf("%q: %q %q %v", k, ns, key, ok)
		}
	}
	for _, bad := range []string{"", "user", "user.", "nope.AA", "user.!!"} {
		if _, _, ok := parseKey(bad); ok {
			t.Fatalf("%q parsed", bad)
		}
	}
}

// Two nodes of the version before the buckets hold diverging copies of
// the same records; each migrates its own at first start, and every node
// ends with the copy the old rule made win, and every claim once.
func TestMigrationKeepsTheNewestCopy(t *testing.T) {
	backends(t, func(t *testing.T, b Backend) {
		ctx := context.Background()
		old := func(writes ...storage.MetaWrite) storage.Store {
			v := openView(t)
			if err := v.ApplyMeta(ctx, writes); err != nil {
				t.Fatal(err)
			}
			return v
		}
		va := old(
			storage.MetaWrite{NS: NSBoard, Key: []byte("b1"), Val: []byte(`{"name":"old","updated":1}`)},
			storage.MetaWrite{NS: account.NSUser, Key: []byte("u1"), Val: []byte(`{"name":"ana","updated":5}`)},
			storage.MetaWrite{NS: NSClaim, Key: []byte("r1"), Val: []byte(`{"user":"ana"}`)},
			storage.MetaWrite{NS: "memberof", Key: []byte("x"), Val: []byte{}}, // a local index: not migrated
		)
		vb := old(
			storage.MetaWrite{NS: NSBoard, Key: []byte("b1"), Val: []byte(`{"name":"new","updated":2}`)},
			storage.MetaWrite{NS: account.NSUser, Key: []byte("u1"), Val: []byte(`{"name":"older","updated":4}`)},
			storage.MetaWrite{NS: account.NSSession, Key: []byte("s1"), Val: []byte(`{"user":"u1","updated":3}`)},
		)
		a := openStore(t, va, b)
		c := openStore(t, vb, b)
		start(t, a)
		start(t, c)
		want := map[string]string{
			NSBoard + "/b1":           `{"name":"new","updated":2}`,
			account.NSUser + "/u1":    `{"name":"ana","updated":5}`,
			NSClaim + "/r1":           `{"user":"ana"}`,
			account.NSSession + "/s1": `{"user":"u1","updated":3}`,
		}
		for i, s := range []*Store{a, c} {
			for k, v := range want {
				ns, key, _ := strings.Cut(k, "/")
				eventually(t, fmt.Sprintf("node %d has %s = %s", i, k, v), func() bool {
					got, _ := s.Get(ctx, ns, []byte(key))
					return string(got) == v
				})
			}
		}
		// Migration runs once: a restart with a view that has applied
		// the buckets copies nothing back.
		a.Stop()
		if err := c.Put(ctx, account.NSUser, []byte("u1"), []byte(`{"name":"ana2","updated":1}`)); err != nil {
			t.Fatal(err)
		}
		again := openStore(t, va, b)
		start(t, again)
		eventually(t, "the restarted node takes the bucket's value, not its own", func() bool {
			got, _ := again.Get(ctx, account.NSUser, []byte("u1"))
			return string(got) == `{"name":"ana2","updated":1}`
		})
	})
}

// A node that cannot get its writes stored (here its NATS server is gone;
// on the minority side of a partition, no quorum) stops being fresh
// within StaleAfter, so it stops letting people in on a view that may be
// stale; it never was fresh before the buckets opened.
func TestFreshNeedsQuorumWrites(t *testing.T) {
	b, srv := jetStreamServer(t)
	s := New(openView(t), b, Options{Node: "n1", StaleAfter: 300 * time.Millisecond})
	if s.Fresh() {
		t.Fatal("fresh before connecting")
	}
	start(t, s)
	if !s.Fresh() {
		t.Fatal("not fresh right after connecting")
	}
	srv.Shutdown()
	eventually(t, "stale once the quorum is unreachable", func() bool { return !s.Fresh() })
}
