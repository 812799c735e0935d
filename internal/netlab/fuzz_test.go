package netlab

import (
	"testing"
	"time"
)

// FuzzCore feeds arbitrary frames into the emulator core: whatever nodes
// send, it must not panic, must keep every queue within its bound and
// must account for every frame it took.
func FuzzCore(f *testing.F) {
	f.Add([]byte{0, 60, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 8, 0})
	f.Add([]byte{1, 14, 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 1, 5, 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1})
	f.Add([]byte{2, 3, 1, 2, 3})
	f.Fuzz(func(t *testing.T, in []byte) {
		const ports, limit = 3, 8
		cfg := LinkConfig{Delay: 3 * time.Millisecond, Jitter: 2 * time.Millisecond, Loss: 0.1, QueueFrames: limit}
		c := newCore(ports, links(ports, cfg), 1)
		var now int64
		delivered := 0
		for len(in) >= 2 {
			port, n := int(in[0])%ports, int(in[1])
			in = in[2:]
			n = min(n, len(in))
			fr := c.getFrame()
			fr.n = copy(fr.buf[:], in[:n])
			in = in[n:]
			c.ingress(port, fr, now)
			now += int64(time.Millisecond)
			c.advance(now, func(int, *frame) { delivered++ })
			for _, p := range c.ports {
				if p.up.size > limit || p.down.size > limit {
					t.Fatalf("queue over its bound: up %d down %d", p.up.size, p.down.size)
				}
			}
		}
		c.advance(now+int64(time.Second), func(int, *frame) { delivered++ })
		var tx uint64
		for _, p := range c.ports {
			if p.up.size != 0 || p.down.size != 0 {
				t.Fatal("frames left after every deadline passed")
			}
			tx += p.stats.TxFrames
		}
		if tx != uint64(delivered) || len(c.heap) != 0 {
			t.Fatalf("delivered %d, counted %d, heap %d", delivered, tx, len(c.heap))
		}
	})
}
