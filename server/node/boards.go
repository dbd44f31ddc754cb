package node

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/storage"
)

func (n *Node) loadBoard(ctx context.Context, id storage.BoardID) (*BoardMeta, error) {
	b, err := n.meta.Get(ctx, meta.NSBoard, id[:])
	if err != nil {
		return nil, err
	}
	var m BoardMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("board %v metadata: %w", id, storage.ErrCorrupt)
	}
	if m.Deleted {
		return nil, storage.ErrNotFound
	}
	return &m, nil
}
