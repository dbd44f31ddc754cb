package protocol

// Code is an error code carried by error frames (and by REST error bodies).
type Code string

// Error codes. An error frame refuses one frame; the connection stays open
// unless a close follows.
const (
	CodeMalformed    Code = "malformed"     // the frame does not decode
	CodeTooLarge     Code = "too_large"     // over a size limit
	CodeRateLimited  Code = "rate_limited"  // too many frames; slow down and resend
	CodeForbidden    Code = "forbidden"     // the session's role may not do this
	CodeSchema       Code = "schema"        // an op does not fit its element's kind
	CodeInvalidOp    Code = "invalid_op"    // an op refers to what it cannot (another text's characters)
	CodeWrongReplica Code = "wrong_replica" // a change of a replica that is not this session's
	CodeUnknownBoard Code = "unknown_board"
	CodeNotFound     Code = "not_found" // REST: no such member, invite, webhook...
	CodeUnauthorized Code = "unauthorized"
	CodeReadOnly     Code = "read_only"   // the board is closed for edits (deadline)
	CodeInternal     Code = "internal"    // the node failed; retry later
	CodeUnavailable  Code = "unavailable" // stored on this node, but not confirmed by enough other nodes in time: resend later
	CodeClockAhead   Code = "clock_ahead" // a change's time is too far ahead of the node's clock: resend it once the node's clock is there
)

// Close codes. Ranges, as a client should treat them:
//
//	1000-1015   standard WebSocket codes
//	4000-4099   reconnect: connect again (with backoff), resending the outbox
//	4100-4199   terminal: do not reconnect without a user action
//	4200-4299   application
//
// CloseCode is a WebSocket close code (RFC 6455 section 7.4); the package
// names them without depending on a WebSocket library.
type CloseCode uint16

// Close is a close code with its reason: how a connection ends.
type Close struct {
	Code   CloseCode
	Reason string
}

const (
	CloseNormal       CloseCode = 1000
	CloseGoingAway    CloseCode = 1001 // node shutting down: reconnect (to any node)
	ClosePolicy       CloseCode = 1008 // too many pings or frames (a bad Origin gets 403 before the upgrade)
	CloseTooBig       CloseCode = 1009 // message over MaxMessageBytes
	CloseResync       CloseCode = 4000 // too slow to keep up: reconnect and resync
	CloseRetry        CloseCode = 4001 // board unavailable for a moment: reconnect later
	CloseIdle         CloseCode = 4002 // no hello in time, or idle: reconnect when needed
	CloseUnauthorized CloseCode = 4100 // bad, expired or revoked credentials
	CloseForbidden    CloseCode = 4101 // no access to this board (any more)
	CloseUnknownBoard CloseCode = 4102 // no such board, or deleted
	CloseProtocol     CloseCode = 4103 // protocol violation (first frame not hello, ...)
	CloseReplica      CloseCode = 4104 // replica id belongs to someone else: pick a new one
)

// CloseTable lists the close codes with their class, for documentation and
// clients.
var CloseTable = []struct {
	Code   CloseCode
	Class  string
	Reason string
}{
	{CloseNormal, "normal", "closed normally"},
	{CloseGoingAway, "reconnect", "node shutting down; reconnect to any node"},
	{ClosePolicy, "terminal", "policy violation (too many pings or frames)"},
	{CloseTooBig, "terminal", "message larger than the limit"},
	{CloseResync, "reconnect", "client too slow; reconnect and resync"},
	{CloseRetry, "reconnect", "board temporarily unavailable"},
	{CloseIdle, "reconnect", "no hello in time, or idle"},
	{CloseUnauthorized, "terminal", "bad or expired credentials"},
	{CloseForbidden, "terminal", "access to the board denied or revoked"},
	{CloseUnknownBoard, "terminal", "no such board"},
	{CloseProtocol, "terminal", "protocol violation"},
	{CloseReplica, "terminal", "replica id owned by another user; choose a new one"},
}
