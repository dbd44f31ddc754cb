package node

import (
	"context"
	"time"

	"github.com/corkboard/corkboard/storage"
)

// When notifications run (leader, notifier) and the hand-off of accepted
// changes to the webhook worker. What to tell and to whom is package
// notify's; the REST side is package api's.

// onAccepted is room.Config.Accepted: accepted changes go to the webhook
// worker (notify.Notifier.OnAccepted).
func (n *Node) onAccepted(board storage.BoardID, recs []storage.Record) {
	n.notes.OnAccepted(board, recs)
}

// webhookWorker turns accepted changes into webhook deliveries until ctx
// ends (notify.Notifier.WebhookWorker).
func (n *Node) webhookWorker(ctx context.Context) { n.notes.WebhookWorker(ctx) }

// ---- notifications ----

// leader says whether this node runs the cluster's notifier passes.
func (n *Node) leader() bool {
	for _, p := range n.Peers() {
		if p.Node < n.cfg.NodeID {
			return false
		}
	}
	return true
}

// notifier runs RunNotifications every interval while this node leads.
func (n *Node) notifier(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n.leader() {
				if err := n.RunNotifications(ctx); err != nil && ctx.Err() == nil {
					n.log.Warn("notifications: pass failed", "err", err)
				}
			}
		}
	}
}

// RunNotifications makes one notifier pass over every board: deadline
// events, then each member's e-mail if their preferences say one is due.
// The node runs it every minute when it leads; tests call it with a fake
// clock.
func (n *Node) RunNotifications(ctx context.Context) error { return n.notes.Run(ctx) }
