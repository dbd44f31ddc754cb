package node

import (
	"context"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/storage"
)

// When notifications run (leader, notifier) and the hand-off of accepted
// changes to the webhook worker. What to tell and to whom is package
// notify's; the REST side is package api's.

// onAccepted is room.Config.Accepted: accepted changes go to the webhook
// worker (notify.Notifier.OnAccepted).
func (n *Node) onAccepted(board storage.BoardID, recs []storage.Record, doc *crdt.Doc) {
	n.notes.OnAccepted(board, recs, doc)
}

// webhookWorker turns accepted changes into webhook deliveries until ctx
// ends (notify.Notifier.WebhookWorker).
func (n *Node) webhookWorker(ctx context.Context) { n.notes.WebhookWorker(ctx) }

// ---- notifications ----

// notifierLease names the lease of the node that runs the cluster's
// notifier passes (package meta): one node at a time, renewed every
// LeaseTTL/3; when its holder dies, another node takes it within
// LeaseTTL.
const notifierLease = "notifier"

// leader says whether this node holds the notifier lease now.
func (n *Node) leader() bool { return n.meta.Holds(notifierLease) }

// notifier keeps trying for the notifier lease, and runs RunNotifications
// every interval while this node holds it; a node shutting down gives the
// lease up.
func (n *Node) notifier(ctx context.Context, every time.Duration) {
	renew := time.NewTicker(meta.LeaseTTL / 3)
	defer renew.Stop()
	pass := time.NewTicker(every)
	defer pass.Stop()
	take := func() {
		c, cancel := context.WithTimeout(ctx, meta.LeaseTTL/3)
		defer cancel()
		if _, err := n.meta.Lease(c, notifierLease, n.cfg.NodeID); err != nil && ctx.Err() == nil {
			n.log.Warn("notifications: lease", "err", err)
		}
	}
	take()
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n.meta.Release(c, notifierLease, n.cfg.NodeID)
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-renew.C:
			take()
		case <-pass.C:
			if n.leader() {
				if err := n.RunNotifications(ctx); err != nil && ctx.Err() == nil {
					n.log.Warn("notifications: pass failed", "err", err)
				}
				n.metrics.NotifierPasses.Inc()
			}
		}
	}
}

// RunNotifications makes one notifier pass over every board: deadline
// events, then each member's e-mail if their preferences say one is due.
// The node runs it every minute when it leads; tests call it with a fake
// clock.
func (n *Node) RunNotifications(ctx context.Context) error { return n.notes.Run(ctx) }
