// Package meta holds the cluster's metadata: board settings, account
// records and replica claims, the same on every node.
package meta

import "github.com/corkboard/corkboard/server/protocol"

// Board is a board's metadata, kept in the store's "board" namespace.
type Board struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Created int64  `json:"created"` // unix ms
	Owner   string `json:"owner"`   // user id
	// Access says who may enter: "public" (anyone with the link, with
	// PublicRole), "password" (whoever knows the board's password, with
	// PublicRole) or "members" (members and holders of a link token only;
	// "private" in older records).
	Access     string `json:"access"`
	PublicRole string `json:"publicRole,omitempty"`
	// Deadline (unix ms; 0: none): from then on the board is read-only.
	Deadline int64 `json:"deadline,omitempty"`
	// DeadlineFired is the deadline whose "deadline" event went out.
	DeadlineFired int64 `json:"deadlineFired,omitempty"`
	// Voting is the board's dot-voting session.
	Voting *Voting `json:"voting,omitempty"`
	// Timer is the board's facilitation timer (nil: none).
	Timer *Timer `json:"timer,omitempty"`
	// Epoch is bumped to revoke every token issued before: role links,
	// guest tokens and the owner's token (whoever bumps it as owner gets a
	// fresh owner token in the answer).
	Epoch int `json:"epoch"`
	// Links are the role links the owner handed out (links.go). A link
	// token names its record; the record, not the token, says its role, so
	// deleting a record revokes that link alone. LinkRecords says the
	// board's links are records; a board made before they were (false)
	// gives a link token the role it names, never above PublicRole, until
	// its owner first makes or revokes a link.
	Links       []Link `json:"links,omitempty"`
	LinkRecords bool   `json:"linkRecords,omitempty"`
	// Updated (unix ms) orders copies of this record across nodes: the
	// newest wins. Deleted marks a deleted board (a tombstone, kept so a
	// late copy cannot bring it back).
	Updated int64 `json:"updated"`
	Deleted bool  `json:"deleted,omitempty"`
}

// Link is one role link the owner handed out.
type Link struct {
	ID      string `json:"id"`
	Role    string `json:"role"`
	Created int64  `json:"created"` // unix ms
}

// Voting is a board's dot-voting session.
type Voting struct {
	Session   string `json:"session"`   // id, new for every session (pseudonyms change with it)
	State     string `json:"state"`     // "open" or "closed"
	Dots      int    `json:"dots"`      // per person (0: no limit)
	Anonymous bool   `json:"anonymous"` // voters are pseudonyms until closed
	Opened    int64  `json:"opened"`
	Closed    int64  `json:"closed,omitempty"`
	// Result is frozen at closing: per element, dots and voters, most
	// dots first; at most ResultMax elements, each naming at most
	// ResultVotersMax voters. ResultMore counts the voted elements left
	// out (server/api/voting.go says why).
	Result     []VoteResult `json:"result,omitempty"`
	ResultMore int          `json:"resultMore,omitempty"`
}

// The bounds of a voting result (Voting.Result): this record is read on
// every call, connection and settings change of the board on every node.
const (
	ResultMax       = 50
	ResultVotersMax = 20
)

// Timer is a board's facilitation timer, the same for everyone: running
// while End is set (it rings at End, unix ms), paused while Left is (the
// milliseconds that were left). Clients count down from End with their
// offset to the node's clock (the "now" of the board's answers and of the
// settings frame), not from when they heard of it.
type Timer struct {
	Duration int64  `json:"duration"`       // ms, as started
	End      int64  `json:"end,omitempty"`  // unix ms; running
	Left     int64  `json:"left,omitempty"` // ms; paused
	By       string `json:"by,omitempty"`   // who last started or paused it (name)
}

// VoteResult is one element's tally.
type VoteResult struct {
	Element string   `json:"element"`
	Text    string   `json:"text,omitempty"`
	Dots    float64  `json:"dots"`
	Voters  []string `json:"voters"` // user ids (revealed at closing for anonymous sessions)
	// VotersMore counts the voters not in Voters (past ResultVotersMax).
	VotersMore int `json:"votersMore,omitempty"`
}

// Board access modes.
const (
	AccessPublic   = "public"
	AccessPassword = "password"
	AccessMembers  = "members"
	AccessPrivate  = "private" // older name of AccessMembers
)

// MembersOnly says whether only members and link holders may enter.
func (m *Board) MembersOnly() bool { return m.Access == AccessMembers || m.Access == AccessPrivate }

// ShownTo is the metadata as a caller with role sees it: the role links'
// records are the owner's.
func (m *Board) ShownTo(role string) *Board {
	if role == protocol.RoleOwner || len(m.Links) == 0 {
		return m
	}
	c := *m
	c.Links = nil
	return &c
}
