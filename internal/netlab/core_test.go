package netlab

import (
	"math"
	"testing"
	"time"
)

func mac(i byte) [6]byte { return [6]byte{0x02, 0, 0, 0, 0, i} }

var broadcast = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// testFrame is a frame from MAC src to MAC dst with a 4-byte sequence.
func testFrame(c *core, dst, src [6]byte, seq uint32) *frame {
	f := c.getFrame()
	copy(f.buf[0:6], dst[:])
	copy(f.buf[6:12], src[:])
	f.buf[12], f.buf[13] = 0x08, 0x00
	f.buf[14], f.buf[15], f.buf[16], f.buf[17] = byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq)
	f.n = 60
	return f
}

func seqOf(f *frame) uint32 {
	return uint32(f.buf[14])<<24 | uint32(f.buf[15])<<16 | uint32(f.buf[16])<<8 | uint32(f.buf[17])
}

type delivery struct {
	port int
	seq  uint32
	at   int64
}

// runUntil advances c to end in steps, recording deliveries at the step
// they became due.
func runUntil(c *core, end, step int64) []delivery {
	var out []delivery
	for now := int64(0); now <= end; now += step {
		c.advance(now, func(port int, f *frame) {
			out = append(out, delivery{port, seqOf(f), now})
			c.putFrame(f)
		})
	}
	return out
}

func links(n int, l LinkConfig) []LinkConfig {
	out := make([]LinkConfig, n)
	for i := range out {
		out[i] = l
	}
	return out
}

// learn lets every port announce its MAC (a broadcast), then delivers it.
func learn(c *core) {
	for i := range c.ports {
		c.ingress(i, testFrame(c, broadcast, mac(byte(i)), 0), 0)
	}
	c.advance(math.MaxInt64, func(_ int, f *frame) { c.putFrame(f) })
	for _, p := range c.ports {
		p.lastUp, p.lastDown = 0, 0
	}
}

func TestCoreDelayIsSumOfBothLinks(t *testing.T) {
	cfgs := []LinkConfig{{Delay: 20 * time.Millisecond}, {Delay: 30 * time.Millisecond}, {}}
	c := newCore(3, cfgs, 1)
	learn(c)
	c.ingress(0, testFrame(c, mac(1), mac(0), 7), 0)
	c.ingress(1, testFrame(c, mac(0), mac(1), 8), 0)
	got := runUntil(c, int64(time.Second), int64(time.Millisecond))
	want := []delivery{{1, 7, int64(50 * time.Millisecond)}, {0, 8, int64(50 * time.Millisecond)}}
	if len(got) != 2 {
		t.Fatalf("deliveries %v, want %v", got, want)
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("deliveries %v: missing %v", got, w)
		}
	}
}

func TestCoreFloodsUnknownAndBroadcast(t *testing.T) {
	c := newCore(4, links(4, LinkConfig{}), 1)
	c.ingress(2, testFrame(c, mac(9), mac(2), 1), 0) // unknown destination
	got := runUntil(c, 0, 1)
	if len(got) != 3 {
		t.Fatalf("flood reached %v, want the 3 other ports", got)
	}
	for _, d := range got {
		if d.port == 2 {
			t.Errorf("flood went back to its source port: %v", got)
		}
	}
	// Port 2's MAC is now known: a frame to it goes only there.
	c.ingress(0, testFrame(c, mac(2), mac(0), 2), 0)
	if got := runUntil(c, 0, 1); len(got) != 1 || got[0].port != 2 {
		t.Fatalf("unicast to a learned MAC went to %v, want port 2 only", got)
	}
}

func TestCoreJitterKeepsOrderAndMean(t *testing.T) {
	cfg := LinkConfig{Delay: 40 * time.Millisecond, Jitter: 10 * time.Millisecond}
	c := newCore(2, links(2, cfg), 3)
	learn(c)
	const n = 2000
	gap := int64(20 * time.Millisecond) // > twice the spread: order never binds
	for i := range n {
		c.ingress(0, testFrame(c, mac(1), mac(0), uint32(i)), int64(i)*gap)
	}
	got := runUntil(c, n*gap+int64(time.Second), int64(100*time.Microsecond))
	if len(got) != n {
		t.Fatalf("%d of %d frames delivered", len(got), n)
	}
	var sum, sumsq float64
	for i, d := range got {
		if d.seq != uint32(i) {
			t.Fatalf("frame %d delivered in place %d: jitter reordered a link", d.seq, i)
		}
		lat := float64(d.at-int64(i)*gap) / float64(time.Millisecond)
		if lat < 60 || lat > 100.1 {
			t.Fatalf("frame %d took %.2f ms, outside 80±20", i, lat)
		}
		sum += lat
		sumsq += lat * lat
	}
	mean := sum / n
	sd := math.Sqrt(sumsq/n - mean*mean)
	// Two independent uniform ±10 ms draws: sd = 10*sqrt(2/3) = 8.16 ms.
	if math.Abs(mean-80) > 1 || math.Abs(sd-8.16) > 0.5 {
		t.Errorf("latency mean %.2f ms sd %.2f ms, want 80 and 8.16", mean, sd)
	}
}

func TestCoreLossIsBernoulliPerDirection(t *testing.T) {
	cfgs := []LinkConfig{{}, {Loss: 0.05}}
	c := newCore(2, cfgs, 5)
	learn(c)
	const n = 100000
	for i := range n {
		c.ingress(0, testFrame(c, mac(1), mac(0), uint32(i)), 0)
		c.advance(0, func(_ int, f *frame) { c.putFrame(f) })
	}
	lost := c.ports[1].stats.Lost
	// sd of the count: sqrt(n p (1-p)) = 69; allow 5 sd.
	if math.Abs(float64(lost)-0.05*n) > 5*math.Sqrt(n*0.05*0.95) {
		t.Errorf("lost %d of %d at p=0.05", lost, n)
	}
	if c.ports[0].stats.Lost != 0 {
		t.Errorf("a lossless link lost %d", c.ports[0].stats.Lost)
	}
}

func TestCoreQueueIsBounded(t *testing.T) {
	c := newCore(2, links(2, LinkConfig{Delay: time.Second, QueueFrames: 10}), 1)
	learn(c)
	for i := range 25 {
		c.ingress(0, testFrame(c, mac(1), mac(0), uint32(i)), 0)
	}
	if c.ports[0].up.size != 10 || c.ports[0].stats.QueueDrops != 15 {
		t.Fatalf("queue holds %d, dropped %d; want 10 and 15", c.ports[0].up.size, c.ports[0].stats.QueueDrops)
	}
	if got := runUntil(c, int64(3*time.Second), int64(time.Millisecond)); len(got) != 10 || got[0].seq != 0 || got[9].seq != 9 {
		t.Fatalf("delivered %v, want the first 10 in order", got)
	}
	c.drain()
	if len(c.heap) != 0 || c.ports[0].up.size != 0 {
		t.Fatal("drain left frames")
	}
}

func TestCoreCutAndPartition(t *testing.T) {
	c := newCore(3, links(3, LinkConfig{}), 1)
	learn(c)
	send := func(a, b int) bool {
		c.ingress(a, testFrame(c, mac(byte(b)), mac(byte(a)), 1), 0)
		return len(runUntil(c, 0, 1)) == 1
	}
	c.ports[1].cut = true
	if send(0, 1) || send(1, 2) {
		t.Fatal("a cut link passed a frame")
	}
	if !send(0, 2) {
		t.Fatal("the other links stopped")
	}
	c.ports[1].cut = false
	c.blocked[pairKey(2, 0)] = true
	if send(0, 2) || send(2, 0) {
		t.Fatal("a partition passed a frame")
	}
	if !send(0, 1) || !send(1, 2) {
		t.Fatal("a partition blocked other pairs")
	}
	if c.ports[0].stats.CutDrops+c.ports[1].stats.CutDrops+c.ports[2].stats.CutDrops != 4 {
		t.Errorf("cut drops %d %d %d, want 4 in all", c.ports[0].stats.CutDrops, c.ports[1].stats.CutDrops, c.ports[2].stats.CutDrops)
	}
}

func TestLinkConfigValidate(t *testing.T) {
	for _, l := range []LinkConfig{
		{Delay: -1}, {Loss: 1.5}, {Loss: math.NaN()}, {Rate: -1}, {Rate: 100}, {Delay: MaxDelay, Jitter: 1}, {QueueFrames: -1},
	} {
		if l.validate() == nil {
			t.Errorf("%+v accepted", l)
		}
	}
	if err := (LinkConfig{Delay: 150 * time.Millisecond, Jitter: 10 * time.Millisecond, Loss: 0.01, Rate: 10e6}).validate(); err != nil {
		t.Error(err)
	}
}
