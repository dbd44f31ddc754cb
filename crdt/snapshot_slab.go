package crdt

// slab hands out slices carved from larger allocations: decoding a
// snapshot makes hundreds of thousands of small slices (a text's runs, its
// leaves, its content), and one allocation each was a large part of the
// time. Each slice is capped at its length, so appending to it copies it out
// and never writes over its neighbour. A chunk stays in memory as long as
// any slice of it does, so slabs are for state that lives as long as the doc
// (a snapshot's contents), not for scratch.
//
// Rejected: one exact allocation per slice (the allocator and the collector
// each pay per object), and carving everything from one buffer sized in a
// first pass (a second walk over the whole snapshot to learn the sizes).
type slab[T any] struct {
	free  []T
	chunk int // items per chunk; 0: slabChunk
}

// slabChunk is the default number of items in a chunk; a request larger
// than a quarter of a chunk gets an allocation of its own, so that a chunk
// wastes at most a quarter at its end.
const slabChunk = 512

// take returns a zeroed slice of n items; from a chunk if bulk, else
// allocated exactly. n == 0 gives nil.
func (s *slab[T]) take(n int, bulk bool) []T {
	if n == 0 {
		return nil
	}
	chunk := s.chunk
	if chunk == 0 {
		chunk = slabChunk
	}
	if !bulk || n > chunk/4 {
		return make([]T, n)
	}
	if len(s.free) < n {
		s.free = make([]T, chunk)
	}
	out := s.free[:n:n]
	s.free = s.free[n:]
	return out
}
