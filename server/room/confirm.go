package room

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/protocol"
)

// Confirmations between nodes, for acks after replication
// (Config.AckReplicas > 0). After a group commit, the room publishes the
// accepted changes with a request id (bus.KindReplicate) instead of plain
// ops. Every node that stores the board persists them through its ingest
// path (loading its room if needed) and confirms (bus.KindReplicated,
// addressed to this node). The group's acks go out once AckReplicas
// distinct nodes have confirmed; if they do not within ReplicateTimeout,
// each submission gets an "unavailable" error instead — the changes are
// stored here, and the client resends them later (they are then
// duplicates here, replicated again).

type pendingRepl struct {
	group    []submit
	outcomes []outcome
	got      map[string]bool
	timer    *time.Timer
}

type replTimeout uint64

type replicateReq struct {
	from string
	data []byte
}

// replicate publishes a group's accepted changes (batch, as crdt.EncodeBatch
// encodes them) with a request to store them, and holds the group's
// answers until enough nodes confirm.
func (r *Room) replicate(group []submit, outcomes []outcome, batch []byte) {
	r.replSeq++
	id := r.replSeq
	if r.pendingRepl == nil {
		r.pendingRepl = map[uint64]*pendingRepl{}
	}
	p := &pendingRepl{group: group, outcomes: outcomes, got: map[string]bool{}}
	p.timer = time.AfterFunc(r.cfg.ReplicateTimeout, func() {
		select {
		case r.inbox <- replTimeout(id):
		case <-r.done:
		}
	})
	r.pendingRepl[id] = p
	payload := binary.AppendUvarint(nil, id)
	payload = append(payload, batch...)
	if err := r.cfg.Bus.Publish(r.board, bus.KindReplicate, payload); err != nil {
		if h := r.cfg.Hooks.BusErrors; h != nil {
			h()
		}
	}
}

// replicateRequest hands another node's replicate request to the room
// (Manager.Route).
func (r *Room) replicateRequest(ctx context.Context, from string, data []byte) error {
	return r.send(ctx, replicateReq{from: from, data: data})
}

// storeReplica persists another node's changes and confirms.
func (r *Room) storeReplica(m replicateReq) {
	id, n := binary.Uvarint(m.data)
	if n <= 0 {
		return
	}
	if !r.fromOps(m.data[n:]) || r.dead {
		return // not stored (a bad batch, or persisting failed): no confirmation
	}
	conf := binary.AppendUvarint(nil, uint64(len(m.from)))
	conf = append(conf, m.from...)
	conf = binary.AppendUvarint(conf, id)
	r.cfg.Bus.Publish(r.board, bus.KindReplicated, conf)
}

// fromReplicated counts a confirmation addressed to this node.
func (r *Room) fromReplicated(from string, data []byte) {
	l, n := binary.Uvarint(data)
	if n <= 0 || l > uint64(len(data)-n) {
		return
	}
	to := string(data[n : n+int(l)])
	id, k := binary.Uvarint(data[n+int(l):])
	if k <= 0 || to != r.cfg.Node {
		return
	}
	p := r.pendingRepl[id]
	if p == nil {
		return
	}
	p.got[from] = true
	if len(p.got) >= r.cfg.AckReplicas {
		p.timer.Stop()
		delete(r.pendingRepl, id)
		r.answer(p.group, p.outcomes)
	}
}

// replicationTimedOut answers a group whose confirmations did not come.
func (r *Room) replicationTimedOut(id uint64) {
	p := r.pendingRepl[id]
	if p == nil {
		return
	}
	delete(r.pendingRepl, id)
	for i, sm := range p.group {
		o := p.outcomes[i]
		accepted := o.ack.Applied + o.ack.Duplicate + o.ack.Held
		if o.err != nil {
			accepted = o.err.Accepted
		}
		sm.sess.SendJSON(protocol.Error{Type: protocol.TypeError, Code: protocol.CodeUnavailable, Seq: sm.seq, Accepted: 0,
			Message: fmt.Sprintf("%d change(s) stored on this node, but fewer than %d other node(s) confirmed them in time; resend the batch later", accepted, r.cfg.AckReplicas)})
	}
}
