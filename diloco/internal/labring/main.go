// Command labring is one all-reduce peer of the DiLoCo network lab
// (diloco/lab_test.go): the test runs it inside a network namespace of a
// shaped star (internal/bridgelab) and drives it with one command per line
// on stdin; it answers one line per command on stdout.
//
//	(on start)                          READY <peer id> <multiaddr>
//	CONNECT <multiaddr/p2p/id>...    -> CONNECTED <n>
//	RAWRING <next ip:port> <bytes>   -> RAWDONE <ns>
//	    sends bytes over raw TCP to the next peer while it receives as many
//	    from the previous one on its raw port; ns is the time from the first
//	    byte received to the last
//	ALLREDUCE <name> <elems> <id,...> -> REDUCED <ns> <sha-256 of the result>
//	    ring all-reduce (fp32) of a vector whose values depend on this
//	    peer's rank in the group; the result's samples are checked against
//	    the exact mean
//	QUIT
//
// Errors are answered "ERR <message>".
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/openpool/openpool/diloco"
	"github.com/openpool/openpool/p2p"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "labring:", err)
		os.Exit(1)
	}
}

type peerNode struct {
	h    host.Host
	ring *diloco.Ring
	raw  net.Listener
	vec  []float32
}

func run() error {
	listen := flag.String("listen", "/ip4/127.0.0.1/tcp/0", "libp2p listen multiaddr")
	rawAddr := flag.String("raw", "127.0.0.1:5001", "raw TCP listen address")
	lanes := flag.Int("lanes", 2, "all-reduce lanes (streams per ring link)")
	flag.Parse()

	h, err := libp2p.New(libp2p.ListenAddrStrings(*listen), p2p.Security(), libp2p.DisableRelay(),
		libp2p.ResourceManager(&network.NullResourceManager{}))
	if err != nil {
		return err
	}
	defer h.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ring, err := diloco.NewRing(h, diloco.WithLanes(*lanes), diloco.WithLogger(log),
		diloco.WithReadTimeout(time.Minute), diloco.WithHelloTimeout(time.Minute))
	if err != nil {
		return err
	}
	defer ring.Close()
	raw, err := net.Listen("tcp", *rawAddr)
	if err != nil {
		return err
	}
	defer raw.Close()
	n := &peerNode{h: h, ring: ring, raw: raw}
	fmt.Printf("READY %s %s\n", h.ID(), h.Addrs()[0])
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if f[0] == "QUIT" {
			return nil
		}
		reply, err := n.do(f)
		if err != nil {
			fmt.Printf("ERR %s: %v\n", f[0], err)
			continue
		}
		fmt.Println(reply)
	}
	return sc.Err()
}

func (n *peerNode) do(f []string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	switch {
	case f[0] == "CONNECT":
		for _, s := range f[1:] {
			a, err := ma.NewMultiaddr(s)
			if err != nil {
				return "", err
			}
			ai, err := peer.AddrInfoFromP2pAddr(a)
			if err != nil {
				return "", err
			}
			if err := n.h.Connect(ctx, *ai); err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("CONNECTED %d", len(n.h.Network().Peers())), nil
	case f[0] == "RAWRING" && len(f) == 3:
		bytes, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return "", err
		}
		d, err := n.rawRing(ctx, f[1], bytes)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("RAWDONE %d", d.Nanoseconds()), nil
	case f[0] == "ALLREDUCE" && len(f) == 4:
		elems, err := strconv.Atoi(f[2])
		if err != nil || elems <= 0 {
			return "", fmt.Errorf("elems %q", f[2])
		}
		var group []peer.ID
		for _, s := range strings.Split(f[3], ",") {
			id, err := peer.Decode(s)
			if err != nil {
				return "", err
			}
			group = append(group, id)
		}
		return n.allReduce(ctx, f[1], elems, group)
	}
	return "", errors.New("unknown command")
}

// rawRing sends bytes to next and receives as many on the raw listener.
func (n *peerNode) rawRing(ctx context.Context, next string, bytes int64) (time.Duration, error) {
	type result struct {
		d   time.Duration
		err error
	}
	recv := make(chan result, 1)
	go func() { // owned: ends when the sender's bytes are in, or on error
		c, err := n.raw.Accept()
		if err != nil {
			recv <- result{err: err}
			return
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Minute))
		buf := make([]byte, 1<<20)
		k, err := io.ReadFull(c, buf[:1])
		if err != nil {
			recv <- result{err: err}
			return
		}
		start := time.Now()
		got := int64(k)
		for got < bytes && err == nil {
			k, err = c.Read(buf[:min(int64(len(buf)), bytes-got)])
			got += int64(k)
		}
		if got < bytes {
			recv <- result{err: fmt.Errorf("received %d of %d bytes: %w", got, bytes, err)}
			return
		}
		recv <- result{d: time.Since(start)}
	}()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", next)
	if err != nil {
		_ = n.raw.(*net.TCPListener).SetDeadline(time.Now()) // unblock Accept
		<-recv
		_ = n.raw.(*net.TCPListener).SetDeadline(time.Time{})
		return 0, err
	}
	defer c.Close()
	buf := make([]byte, 1<<20)
	for sent := int64(0); sent < bytes; {
		k, err := c.Write(buf[:min(int64(len(buf)), bytes-sent)])
		if err != nil {
			return 0, err
		}
		sent += int64(k)
	}
	r := <-recv
	return r.d, r.err
}

func value(rank, k int) float32 { return float32((k*7+rank*13)%1000-500) * 1e-3 }

func (n *peerNode) allReduce(ctx context.Context, name string, elems int, group []peer.ID) (string, error) {
	rank := slices.Index(group, n.h.ID())
	if rank < 0 {
		return "", errors.New("this peer is not in the group")
	}
	if len(n.vec) != elems {
		n.vec = nil // let the old one go before the new one is allocated
		n.vec = make([]float32, elems)
	}
	for k := range n.vec {
		n.vec[k] = value(rank, k)
	}
	rd := diloco.Round{ID: sha256.Sum256([]byte(name)), Group: group, Mode: diloco.Float32}
	start := time.Now()
	if _, err := n.ring.AllReduce(ctx, rd, n.vec); err != nil {
		return "", err
	}
	d := time.Since(start)
	for k := 0; k < elems; k += 4099 {
		var mean float64
		for r := range group {
			mean += float64(value(r, k))
		}
		mean /= float64(len(group))
		if diff := math.Abs(float64(n.vec[k]) - mean); diff > 1e-6 {
			return "", fmt.Errorf("value %d = %v, mean %v", k, n.vec[k], mean)
		}
	}
	sum := sha256.Sum256(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(n.vec))), 4*len(n.vec)))
	return fmt.Sprintf("REDUCED %d %s", d.Nanoseconds(), hex.EncodeToString(sum[:])), nil
}
