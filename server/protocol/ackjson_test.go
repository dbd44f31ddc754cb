package protocol

import (
	"bytes"
	"math"
	"testing"
)

func TestMarshalAckMatchesJSON(t *testing.T) {
	for _, a := range []Ack{
		{Type: TypeAck},
		{Type: TypeAck, Seq: 1, Applied: 1},
		{Type: TypeAck, Seq: math.MaxUint64, Applied: math.MaxInt, Duplicate: 3, Held: 2},
		{Type: TypeAck, Seq: 42, Applied: -1, Duplicate: math.MinInt, Held: 0},
		{Type: "other<>", Seq: 7},
	} {
		if got, want := MarshalAck(a), JSON(a); !bytes.Equal(got, want) {
			t.Errorf("MarshalAck(%+v) = %s, want %s", a, got, want)
		}
	}
}
