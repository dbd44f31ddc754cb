package node

// The blob endpoints (docs/API.md, "Blobs"): the HTTP side of package
// blob, which stores the images, counts them, checks them and copies them
// between the nodes.

import (
	"github.com/corkboard/corkboard/server/api"
	"github.com/corkboard/corkboard/server/blob"
	"github.com/corkboard/corkboard/server/bus"
)

// MaxBlobSize is the largest blob a node accepts (10 MiB).
const MaxBlobSize = blob.MaxSize

// BlobInfo is the answer to an upload (package api).
type BlobInfo = api.BlobInfo

// The bus kinds of blob copies (package blob), subscribed to with the
// node's other cluster messages (startReplication).
const (
	kindBlob     = blob.KindChunk
	kindBlobWant = blob.KindWant
)

func (n *Node) onBlobChunk(msg bus.Message) { n.blobs.OnChunk(msg) }
func (n *Node) onBlobWant(msg bus.Message)  { n.blobs.OnWant(msg) }
