//go:build lab

package shardcast

// The network lab (internal/bridgelab): every node is a labnode process in its own Linux network
// namespace, attached by a veth pair to a bridge in a switch namespace. Both
// ends of every veth are shaped with tc tbf to the same rate B, so each node
// has B up and B down. Nothing outside these namespaces is touched; they
// are deleted at the end. Needs root, ip and tc.
//
// Knobs (environment): SHARDCAST_LAB_MBIT (B, default labMbit),
// SHARDCAST_LAB_MIB (S, default 32), SHARDCAST_LAB_SHARD_KIB (default 256:
// the pool owner picks the shard size; about S/128 keeps the pipeline deep),
// SHARDCAST_LAB_N (run one N instead of 8 and 16), SHARDCAST_LAB_QUEUE_MS
// (tbf queue, default 50), SHARDCAST_LAB_NODE_FLAGS / SHARDCAST_LAB_PUB_FLAGS
// (extra labnode flags for every node / the publisher).

import (
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/openpool/openpool/internal/bridgelab"
)

// labMbit is the default link rate B. Sixteen full nodes (TLS, gossip,
// hashing, fsync per shard) share the machine's CPU with the kernel that
// forwards every frame between them; B must leave that CPU idle some of the
// time, or the lab measures the machine instead of the tree. On a 2-core
// virtual machine whose interrupts are costly, 40 Mbit/s kept the CPU 94%
// busy (ratio 1.85 at N=16); 20 and 10 Mbit/s, 79% and 53% (1.47, 1.48).
// Each broadcast prints the machine's CPU busy during it.
const labMbit = 20

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// lab is a bridgelab star with one labnode per node.
type lab struct {
	t      *testing.T
	bl     *bridgelab.Lab
	procs  []*labProc
	binary string
}

type labProc struct {
	*bridgelab.Proc
	id, addr string
}

func (p *labProc) send(t *testing.T, line string) { t.Helper(); p.Send(t, line) }

func (p *labProc) expect(t *testing.T, prefix string, timeout time.Duration) string {
	t.Helper()
	return p.Expect(t, prefix, timeout)
}

func buildLabNode(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "labnode")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/openpool/openpool/shardcast/internal/labnode").CombinedOutput()
	if err != nil {
		t.Fatalf("build labnode: %v\n%s", err, out)
	}
	return bin
}

// newLab creates n nodes on a star of links shaped to mbit Mbit/s.
func newLab(t *testing.T, n int, mbit int) *lab {
	t.Helper()
	l := &lab{t: t, bl: bridgelab.New(t, n, mbit, time.Duration(envInt("SHARDCAST_LAB_QUEUE_MS", 50))*time.Millisecond)}
	if os.Getenv("SHARDCAST_LAB_TCSTATS") != "" && n > 1 {
		t.Cleanup(func() { fmt.Print(l.bl.TCStats(0), l.bl.TCStats(1)) }) // runs before the lab's own cleanup
	}
	return l
}

// start runs labnode in every namespace; node 0 may publish.
func (l *lab) start(owner crypto.PrivKey, extra ...string) {
	t := l.t
	if l.binary == "" {
		l.binary = buildLabNode(t)
	}
	pub, _ := crypto.MarshalPublicKey(owner.GetPublic())
	priv, _ := crypto.MarshalPrivateKey(owner)
	keyFile := filepath.Join(t.TempDir(), "owner.key")
	if err := os.WriteFile(keyFile, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range l.bl.Len() {
		args := []string{l.binary,
			"-listen", fmt.Sprintf("/ip4/%s/tcp/4001", l.bl.IP(i)),
			"-owner", hex.EncodeToString(pub),
			"-dir", filepath.Join(t.TempDir(), "store")}
		if i == 0 {
			args = append(args, "-owner-key", keyFile)
			args = append(args, strings.Fields(os.Getenv("SHARDCAST_LAB_PUB_FLAGS"))...)
		}
		args = append(args, extra...)
		p := &labProc{Proc: l.bl.Start(t, i, args...)}
		l.procs = append(l.procs, p)
		f := strings.Fields(p.expect(t, "READY", 30*time.Second))
		p.id, p.addr = f[1], f[2]
	}
}

func (l *lab) connectAll() {
	t := l.t
	for i, p := range l.procs {
		var addrs []string
		for j := i + 1; j < len(l.procs); j++ {
			addrs = append(addrs, l.procs[j].addr+"/p2p/"+l.procs[j].id)
		}
		p.send(t, "CONNECT "+strings.Join(addrs, " "))
		p.expect(t, "CONNECTED", 60*time.Second)
	}
	for _, p := range l.procs {
		p.send(t, fmt.Sprintf("WAITPEERS %d", len(l.procs)-1))
		p.expect(t, "PEERS", 60*time.Second)
	}
}

func writeLabCheckpoint(t *testing.T, size int) string {
	dir := filepath.Join(t.TempDir(), "ckpt")
	writeTree(t, dir, map[string][]byte{
		"model.safetensors": randomBytes(t, size-size/8),
		"optimizer.bin":     randomBytes(t, size/8),
	})
	return dir
}

// TestLabBroadcast measures the time for a checkpoint of S bytes to reach
// all N nodes over links of rate B, against S/B (the time one node needs to
// download it). Target <= 1.5; a star from the publisher would take N-1.
func TestLabBroadcast(t *testing.T) {
	mbit := envInt("SHARDCAST_LAB_MBIT", labMbit)
	size := envInt("SHARDCAST_LAB_MIB", 32) << 20
	shard := envInt("SHARDCAST_LAB_SHARD_KIB", 256) << 10
	ns := []int{8, 16}
	if n := envInt("SHARDCAST_LAB_N", 0); n > 1 {
		ns = []int{n}
	}
	for _, n := range ns {
		t.Run(fmt.Sprintf("N=%d", n), func(t *testing.T) {
			l := newLab(t, n, mbit)
			owner := newKey(t)
			l.start(owner, strings.Fields(os.Getenv("SHARDCAST_LAB_NODE_FLAGS"))...)
			l.connectAll()
			src := writeLabCheckpoint(t, size)
			cpu := bridgelab.SampleCPU()
			l.procs[0].send(t, fmt.Sprintf("PUBLISH %s 1 %d", src, shard))
			f := strings.Fields(l.procs[0].expect(t, "PUBLISHED", time.Minute))
			t0, _ := strconv.ParseInt(f[2], 10, 64)
			ideal := float64(size) * 8 / (float64(mbit) * 1e6)
			var last int64
			for _, p := range l.procs[1:] {
				d := strings.Fields(p.expect(t, "DONE "+f[1], time.Duration(20*ideal+60)*time.Second))
				at, _ := strconv.ParseInt(d[2], 10, 64)
				last = max(last, at)
				t.Logf("node done at %.2fs: %s", float64(at-t0)/1e9, strings.Join(d[3:], " "))
			}
			l.procs[0].send(t, "STATS")
			ps := strings.Fields(l.procs[0].expect(t, "STATS", 10*time.Second))
			pubServed, _ := strconv.ParseFloat(ps[2], 64)
			busy := cpu.Busy()
			elapsed := time.Duration(last - t0)
			ratio := elapsed.Seconds() / ideal
			// The ratio is a measurement, not a pass condition: the report
			// marks it met or missed. Machine CPU busy near 100% says the
			// lab measured the machine, not the links.
			fmt.Printf("LAB broadcast N=%d S=%dMiB B=%dMbit/s shard=%dKiB: all done in %.2fs, S/B=%.2fs, ratio=%.2f (target <= 1.5); publisher uploaded %.2f copies; machine CPU busy %.0f%%\n",
				n, size>>20, mbit, shard>>10, elapsed.Seconds(), ideal, ratio, pubServed/float64(size), 100*busy)
		})
	}
}

// TestLabShardTransfer compares one shard transfer (fetch of a one-shard
// checkpoint: manifest, shard, hashes, fsync) with raw TCP between the same
// two processes over the same shaped link.
func TestLabShardTransfer(t *testing.T) {
	mbit := envInt("SHARDCAST_LAB_PAIR_MBIT", 200)
	size := MaxShardSize
	l := newLab(t, 2, mbit)
	owner := newKey(t)
	l.start(owner)
	l.connectAll()
	a, b := l.procs[0], l.procs[1]
	a.send(t, fmt.Sprintf("RAWSERVE %s:5001 %d", l.bl.IP(0), size))
	a.expect(t, "RAWSERVING", 10*time.Second)
	var raws, shards []float64
	for round := range 3 {
		b.send(t, fmt.Sprintf("RAWGET %s:5001 %d", l.bl.IP(0), size))
		f := strings.Fields(b.expect(t, "RAWGOT", 5*time.Minute))
		ns, _ := strconv.ParseFloat(f[1], 64)
		raws = append(raws, float64(size)/(ns/1e9))

		dir := filepath.Join(t.TempDir(), "one")
		writeTree(t, dir, map[string][]byte{"shard.bin": randomBytes(t, size-round)})
		a.send(t, fmt.Sprintf("PUBLISH %s %d %d", dir, round+1, MaxShardSize))
		// Node b fetches it on the announcement (auto-fetch); the clock
		// starts when the shard is stored at a, before the announcement.
		p := strings.Fields(a.expect(t, "PUBLISHED", time.Minute))
		d := strings.Fields(b.expect(t, "DONE "+p[1], 5*time.Minute))
		at, _ := strconv.ParseInt(d[2], 10, 64)
		t0, _ := strconv.ParseInt(p[2], 10, 64)
		shards = append(shards, float64(size)/(float64(at-t0)/1e9))
	}
	best := func(xs []float64) float64 {
		m := 0.0
		for _, x := range xs {
			m = max(m, x)
		}
		return m
	}
	ratio := best(shards) / best(raws)
	fmt.Printf("LAB shard transfer over %dMbit/s link: shard %.1f MB/s, raw TCP %.1f MB/s, ratio=%.2f (target >= 0.8)\n",
		mbit, best(shards)/1e6, best(raws)/1e6, ratio)
}

// TestLabBidirectionalTCP measures raw TCP both ways at once over one
// shaped pair: the most a node can get while it also uploads.
func TestLabBidirectionalTCP(t *testing.T) {
	mbit := envInt("SHARDCAST_LAB_MBIT", labMbit)
	size := 16 << 20
	l := newLab(t, 2, mbit)
	l.start(newKey(t))
	a, b := l.procs[0], l.procs[1]
	a.send(t, fmt.Sprintf("RAWSERVE %s:5001 %d", l.bl.IP(0), size))
	a.expect(t, "RAWSERVING", 10*time.Second)
	b.send(t, fmt.Sprintf("RAWSERVE %s:5001 %d", l.bl.IP(1), size))
	b.expect(t, "RAWSERVING", 10*time.Second)
	for _, both := range []bool{false, true} {
		if both {
			a.send(t, fmt.Sprintf("RAWGET %s:5001 %d", l.bl.IP(1), size))
		}
		b.send(t, fmt.Sprintf("RAWGET %s:5001 %d", l.bl.IP(0), size))
		f := strings.Fields(b.expect(t, "RAWGOT", 5*time.Minute))
		ns, _ := strconv.ParseFloat(f[1], 64)
		if both {
			a.expect(t, "RAWGOT", 5*time.Minute)
		}
		fmt.Printf("LAB raw TCP at %d Mbit/s, both directions=%v: %.2f of the link rate\n", mbit, both, float64(size)*8/(ns/1e9)/(float64(mbit)*1e6))
	}
}
