package protocol

import "strconv"

// MarshalAck returns a's JSON, byte for byte what JSON(a) gives, without
// reflection: a node sends one ack per accepted batch, and encoding/json
// was a visible share of that path on a busy node.
func MarshalAck(a Ack) []byte {
	if a.Type != TypeAck {
		return JSON(a) // never from the node; kept exact for any Type
	}
	b := make([]byte, 0, 80)
	b = append(b, `{"type":"ack","seq":`...)
	b = strconv.AppendUint(b, a.Seq, 10)
	b = append(b, `,"applied":`...)
	b = strconv.AppendInt(b, int64(a.Applied), 10)
	b = append(b, `,"duplicate":`...)
	b = strconv.AppendInt(b, int64(a.Duplicate), 10)
	b = append(b, `,"held":`...)
	b = strconv.AppendInt(b, int64(a.Held), 10)
	return append(b, '}')
}
