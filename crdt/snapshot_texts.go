package crdt

import (
	"fmt"
	"runtime"
	"sync"
)

// textPool decodes the text states of a snapshot being loaded while the
// rest of it is read: LoadSnapshot delimits each text (skipTextState, a
// few header reads) and hands it over in batches to GOMAXPROCS-1 worker
// goroutines; the loading goroutine helps once it has read the rest. Texts
// are independent of each other and of everything else in the snapshot,
// so the doc is the same whatever the scheduling; the error reported is
// that of the first bad text in snapshot order, so it is the same too.
// With GOMAXPROCS 1 (WebAssembly in a browser) or few texts, everything
// is decoded on the loading goroutine, as before.
//
// Rejected: decoding texts lazily, on first access (a malformed stored
// text would surface as an error far from the load, on paths that have no
// error to return, and every reader of a text would need a check); and
// splitting the element section between goroutines (its elements have
// variable lengths and no index, so finding a split point means reading
// up to it).
type textPool struct {
	dec     textDecoder // the loading goroutine's
	workers int
	batch   []textJob
	ch      chan []textJob
	wg      sync.WaitGroup
	n       int // texts so far

	mu     sync.Mutex
	errIdx int // of the first failed text, in snapshot order; -1: none
	err    error
}

type textJob struct {
	b   []byte     // the encoded state
	dst *textField // where the list goes
	idx int        // position among the snapshot's texts
}

// textBatch is how many texts go to a worker at once.
const textBatch = 256

// maxTextWorkers bounds the workers of one load.
const maxTextWorkers = 3

func newTextPool() *textPool {
	p := &textPool{workers: min(runtime.GOMAXPROCS(0)-1, maxTextWorkers), errIdx: -1}
	p.dec.bulk = true
	p.dec.bytes.chunk = 16 << 10
	return p
}

// add schedules the text state b for dst.list.
func (p *textPool) add(b []byte, dst *textField) {
	j := textJob{b, dst, p.n}
	p.n++
	if p.workers <= 0 {
		p.run(&p.dec, j)
		return
	}
	if p.batch == nil {
		p.batch = make([]textJob, 0, textBatch)
	}
	p.batch = append(p.batch, j)
	if len(p.batch) == textBatch {
		if p.ch == nil {
			p.ch = make(chan []textJob, 2*p.workers)
			for range p.workers {
				p.wg.Go(func() {
					var dec textDecoder
					dec.bulk = true
					dec.bytes.chunk = 16 << 10
					for b := range p.ch {
						for _, j := range b {
							p.run(&dec, j)
						}
					}
				})
			}
		}
		p.ch <- p.batch
		p.batch = nil
	}
}

// wait decodes what is left, waits for the workers and returns the first
// error in snapshot order. Call it exactly once, on every path.
func (p *textPool) wait() error {
	for _, j := range p.batch {
		p.run(&p.dec, j)
	}
	p.batch = nil
	if p.ch != nil {
		close(p.ch)
		for b := range p.ch { // help with what the workers have not taken
			for _, j := range b {
				p.run(&p.dec, j)
			}
		}
		p.wg.Wait()
	}
	return p.err
}

func (p *textPool) run(dec *textDecoder, j textJob) {
	r := reader{b: j.b}
	t, err := dec.decode(&r)
	if err == nil && r.len() != 0 {
		err = malformed("text: %d trailing bytes", r.len())
	}
	if err != nil {
		p.mu.Lock()
		if p.errIdx < 0 || j.idx < p.errIdx {
			p.errIdx, p.err = j.idx, fmt.Errorf("snapshot: text %q: %w", j.dst.key, err)
		}
		p.mu.Unlock()
		return
	}
	j.dst.list = t
}
