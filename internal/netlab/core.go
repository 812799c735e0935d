package netlab

import (
	"container/heap"
	"math/rand/v2"
	"sync"
	"time"
)

// frameCap is the size of every frame buffer: one Ethernet frame of a
// 1500-byte MTU plus headers, rounded up. Offloads are off on the lab's
// links, so no longer frame should arrive; one that does is counted and
// dropped.
const frameCap = 2048

// frame is one Ethernet frame in flight in the emulator.
type frame struct {
	buf [frameCap]byte
	n   int
	due int64 // nanoseconds on the emulator's clock
	src int   // ingress port
}

func (f *frame) data() []byte { return f.buf[:f.n] }

// fifo is a ring of frames whose due times never decrease.
type fifo struct {
	ring       []*frame
	head, size int
}

func (q *fifo) push(f *frame) {
	if q.size == len(q.ring) {
		n := max(16, 2*len(q.ring))
		ring := make([]*frame, n)
		for i := range q.size {
			ring[i] = q.ring[(q.head+i)%len(q.ring)]
		}
		q.ring, q.head = ring, 0
	}
	q.ring[(q.head+q.size)%len(q.ring)] = f
	q.size++
}

func (q *fifo) peek() *frame { return q.ring[q.head] }

func (q *fifo) pop() *frame {
	f := q.ring[q.head]
	q.ring[q.head] = nil
	q.head = (q.head + 1) % len(q.ring)
	q.size--
	return f
}

// queueRef names one direction of one port's delay line in the scheduler
// heap; each non-empty line has exactly one entry, keyed by its head.
type queueRef struct {
	due  int64
	port int
	down bool
}

type refHeap []queueRef

func (h refHeap) Len() int           { return len(h) }
func (h refHeap) Less(i, j int) bool { return h[i].due < h[j].due }
func (h refHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *refHeap) Push(x any)        { *h = append(*h, x.(queueRef)) }
func (h *refHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// corePort is the emulator state of one link.
type corePort struct {
	cfg              LinkConfig
	cut              bool
	up, down         fifo
	lastUp, lastDown int64
	stats            LinkStats
}

// maxMACs bounds the learned MAC table; past it the table starts over.
const maxMACs = 4096

// core is the emulator's forwarding and delay logic without any I/O, so it
// is tested with a synthetic clock. It is not safe for concurrent use: the
// emulator holds one lock around it.
//
// A frame entering on port a waits on a's uplink delay line, is switched
// to the port its destination MAC was learned on (or flooded when unknown
// or broadcast), then waits on the destination's downlink line and is
// delivered. Loss is drawn, and queue limits applied, as a frame enters
// each line. Cuts and partitions drop frames at the switch.
type core struct {
	ports   []*corePort
	heap    refHeap
	macs    map[[6]byte]int
	blocked map[[2]int]bool
	rng     *rand.Rand
	pool    *sync.Pool
}

func newCore(n int, cfgs []LinkConfig, seed uint64) *core {
	c := &core{
		macs:    make(map[[6]byte]int),
		blocked: make(map[[2]int]bool),
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		pool:    &sync.Pool{New: func() any { return new(frame) }},
	}
	for i := range n {
		c.ports = append(c.ports, &corePort{cfg: cfgs[i].withDefaults()})
	}
	return c
}

func (c *core) getFrame() *frame  { return c.pool.Get().(*frame) }
func (c *core) putFrame(f *frame) { f.n = 0; c.pool.Put(f) }

// delay draws one frame's delay on a link.
func (c *core) delay(cfg LinkConfig) int64 {
	d := int64(cfg.Delay)
	if cfg.Jitter > 0 {
		d += int64((c.rng.Float64()*2 - 1) * float64(cfg.Jitter))
	}
	return max(d, 0)
}

func (c *core) lost(p float64) bool { return p > 0 && c.rng.Float64() < p }

// ingress takes a frame the node on port a sent at now. It reports
// whether the scheduler's next deadline moved earlier.
func (c *core) ingress(a int, f *frame, now int64) bool {
	p := c.ports[a]
	p.stats.RxFrames++
	p.stats.RxBytes += uint64(f.n)
	if f.n < 14 {
		c.putFrame(f)
		return false
	}
	if src := [6]byte(f.buf[6:12]); src[0]&1 == 0 {
		if _, ok := c.macs[src]; !ok && len(c.macs) >= maxMACs {
			clear(c.macs)
		}
		c.macs[src] = a
	}
	switch {
	case p.cut:
		p.stats.CutDrops++
	case c.lost(p.cfg.Loss):
		p.stats.Lost++
	case p.up.size >= p.cfg.QueueFrames:
		p.stats.QueueDrops++
	default:
		f.src = a
		f.due = max(now+c.delay(p.cfg), p.lastUp)
		p.lastUp = f.due
		p.up.push(f)
		return p.up.size == 1 && c.pushRef(queueRef{due: f.due, port: a})
	}
	c.putFrame(f)
	return false
}

// pushRef adds a line's entry and reports whether it is now the earliest.
func (c *core) pushRef(r queueRef) bool {
	heap.Push(&c.heap, r)
	return c.heap[0] == r
}

// advance moves every frame due by now one step: uplink frames through
// the switch onto downlink lines, downlink frames out through deliver (in
// due order per port). It returns the next deadline, if any.
func (c *core) advance(now int64, deliver func(port int, f *frame)) (next int64, ok bool) {
	for len(c.heap) > 0 && c.heap[0].due <= now {
		r := heap.Pop(&c.heap).(queueRef)
		p := c.ports[r.port]
		q := &p.up
		if r.down {
			q = &p.down
		}
		f := q.pop()
		if q.size > 0 {
			heap.Push(&c.heap, queueRef{due: q.peek().due, port: r.port, down: r.down})
		}
		if r.down {
			p.stats.TxFrames++
			p.stats.TxBytes += uint64(f.n)
			deliver(r.port, f)
			continue
		}
		c.switchFrame(f)
	}
	if len(c.heap) == 0 {
		return 0, false
	}
	return c.heap[0].due, true
}

// switchFrame forwards an uplink frame that has served its delay to the
// downlink of its destination, or of every other port.
func (c *core) switchFrame(f *frame) {
	dst := [6]byte(f.buf[0:6])
	if b, ok := c.macs[dst]; ok && dst[0]&1 == 0 {
		if b == f.src {
			c.putFrame(f)
			return
		}
		c.enqueueDown(b, f)
		return
	}
	for b := range c.ports {
		if b == f.src {
			continue
		}
		g := c.getFrame()
		g.n, g.src, g.due = f.n, f.src, f.due
		copy(g.buf[:f.n], f.data())
		c.enqueueDown(b, g)
	}
	c.putFrame(f)
}

func (c *core) enqueueDown(b int, f *frame) {
	p := c.ports[b]
	switch {
	case p.cut || c.ports[f.src].cut || c.blocked[pairKey(f.src, b)]:
		c.ports[f.src].stats.CutDrops++
	case c.lost(p.cfg.Loss):
		p.stats.Lost++
	case p.down.size >= p.cfg.QueueFrames:
		p.stats.QueueDrops++
	default:
		// The downlink delay starts when the uplink delay ended, not when
		// the scheduler got round to it, so its lateness does not add up.
		f.due = max(f.due+c.delay(p.cfg), p.lastDown)
		p.lastDown = f.due
		p.down.push(f)
		if p.down.size == 1 {
			heap.Push(&c.heap, queueRef{due: f.due, port: b, down: true})
		}
		return
	}
	c.putFrame(f)
}

func pairKey(a, b int) [2]int {
	if a > b {
		a, b = b, a
	}
	return [2]int{a, b}
}

// drain frees every queued frame (on stop).
func (c *core) drain() {
	for _, p := range c.ports {
		for p.up.size > 0 {
			c.putFrame(p.up.pop())
		}
		for p.down.size > 0 {
			c.putFrame(p.down.pop())
		}
	}
	c.heap = c.heap[:0]
}

// clock is the emulator's monotonic time in nanoseconds.
type clock struct{ start time.Time }

func (k clock) now() int64 { return int64(time.Since(k.start)) }
