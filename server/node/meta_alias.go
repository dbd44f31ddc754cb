package node

import "github.com/corkboard/corkboard/server/meta"

// The board settings types live in package meta.
type (
	BoardMeta  = meta.Board
	LinkMeta   = meta.Link
	VotingMeta = meta.Voting
	VoteResult = meta.VoteResult
)
