// Command antientropy measures how fast two nodes converge after a
// partition: nodes a and b (in this process, each with its own Pebble
// store, joined by an in-memory bus that can cut a node off) are cut apart,
// each takes -ops changes from its own client, then the cut heals and the
// time until both clients hold every change is measured. It prints one
// RESULT line.
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/client"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/room"
)

func main() {
	ops := flag.Int("ops", 100000, "changes made on each side during the partition")
	batch := flag.Int("batch", 500, "changes per client batch")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the run")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	if err := run(*ops, *batch); err != nil {
		fmt.Fprintln(os.Stderr, "antientropy:", err)
		os.Exit(1)
	}
}

func run(nops, batch int) error {
	hub := bus.NewHub()
	mb := meta.NewMemory()
	secret := bytes.Repeat([]byte{1}, 32)
	var nodes []*node.Node
	var bases []string
	for _, id := range []string{"a", "b"} {
		dir, err := os.MkdirTemp("", "antientropy-"+id)
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		n, err := node.New(node.Config{Addr: "127.0.0.1:0", DataDir: dir, NodeID: id, Bus: hub.Node(id), Meta: mb, Secret: secret,
			Limits: node.Limits{OpsPerSecond: 1e9, OpsBurst: 1e9, FramesPerSecond: 1e9, FramesBurst: 1e9, SendQueue: 1 << 16},
			Room:   room.Config{}}) // catch-up on heal comes from SyncAll, as after a NATS reconnect
		if err != nil {
			return err
		}
		addr, err := n.Listen()
		if err != nil {
			return err
		}
		go n.Serve()
		defer n.Shutdown(context.Background())
		nodes = append(nodes, n)
		bases = append(bases, "http://"+addr.String())
	}
	resp, err := http.Post(bases[0]+"/v1/boards", "application/json", strings.NewReader(`{"name":"partition"}`))
	if err != nil {
		return err
	}
	var created struct {
		Board struct{ ID string } `json:"board"`
		Token string              `json:"token"`
	}
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var clients []*client.Client
	for i, base := range bases {
		u := "ws" + strings.TrimPrefix(base, "http") + "/v1/boards/" + created.Board.ID + "/ws?token=" + created.Token
		c, err := client.Dial(ctx, client.Options{URL: u, Replica: crdt.ReplicaID(1000 + i)})
		if err != nil {
			return err
		}
		defer c.CloseNow()
		clients = append(clients, c)
	}
	hub.Cut("b", true)
	start := time.Now()
	for i, c := range clients {
		var pending []crdt.Change
		var last uint64
		for k := 0; k < nops; k++ {
			var ch crdt.Change
			c.Read(func(d *crdt.Doc) {
				tx := d.Begin(crdt.ReplicaID(1000+i), 0)
				var el crdt.ElementID
				el[0] = byte(i + 1)
				binary.BigEndian.PutUint64(el[8:], uint64(k%5000))
				if k < 5000 {
					tx.Create(el, "note")
				}
				tx.Set(el, "x", crdt.Number(float64(k)))
				ch, _ = tx.Commit()
			})
			pending = append(pending, ch)
			if len(pending) == batch || k == nops-1 {
				if last, err = c.Send(ctx, pending); err != nil {
					return err
				}
				pending = nil
			}
		}
		if err := c.WaitAck(ctx, last); err != nil {
			return err
		}
	}
	made := time.Since(start)
	// Heal: the nodes notice (here at once; over NATS, on reconnect) and
	// catch up with each other.
	hub.Cut("b", false)
	healed := time.Now()
	for _, n := range nodes {
		n.SyncAll()
	}
	for _, c := range clients {
		if err := c.WaitDoc(ctx, func(d *crdt.Doc) bool {
			v := d.Version()
			return v[1000] >= uint64(nops+5000) && v[1001] >= uint64(nops+5000)
		}); err != nil {
			return err
		}
	}
	converge := time.Since(healed)
	var s0, s1 []byte
	clients[0].Read(func(d *crdt.Doc) { s0 = d.Snapshot() })
	clients[1].Read(func(d *crdt.Doc) { s1 = d.Snapshot() })
	fmt.Printf("RESULT tool=antientropy ops_per_side=%d converge_ms=%.1f identical=%t partition_edit_s=%.1f\n",
		nops, float64(converge.Microseconds())/1000, bytes.Equal(s0, s1), made.Seconds())
	return nil
}
