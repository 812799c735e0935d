// Command labnode is one shardcast node of the network lab (lab_test.go):
// the test runs it inside a network namespace and drives it with one
// command per line on stdin; it answers one line per command on stdout and
// reports every completed checkpoint with a DONE line.
//
//	CONNECT <multiaddr/p2p/id>...  -> CONNECTED <n>
//	WAITPEERS <n>                  -> PEERS <n>   (topic peers, waits up to 30 s)
//	PUBLISH <path> <version> <shard bytes> -> PUBLISHED <cid> <start unix ns>
//	                               (and on every node, when complete: DONE <cid> <unix ns> <fetched> <served>)
//	FETCH <cid>                    -> FETCHED <cid> <nanoseconds>
//	RAWSERVE <ip:port> <bytes>     -> RAWSERVING
//	RAWGET <ip:port> <bytes>       -> RAWGOT <nanoseconds>
//	STATS                          -> STATS <fetched> <served>
//	QUIT
//
// Errors are answered "ERR <message>".
package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	libp2pyamux "github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-yamux/v5"

	"github.com/openpool/openpool/p2p"
	"github.com/openpool/openpool/shardcast"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "labnode:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "/ip4/127.0.0.1/tcp/0", "listen multiaddr")
	ownerHex := flag.String("owner", "", "pool owner public key, hex of the libp2p encoding")
	keyFile := flag.String("owner-key", "", "pool owner private key file (publisher only)")
	dir := flag.String("dir", "", "store directory")
	parallel := flag.Int("parallel", shardcast.DefaultParallel, "parallel shard downloads")
	slots := flag.Int("slots", shardcast.DefaultUploadSlots, "upload slots")
	verbose := flag.Bool("v", false, "log debug messages")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile to this path plus the process ID")
	windowKiB := flag.Int("yamux-window", 0, "initial yamux stream window in KiB (0: libp2p's default, 256)")
	haveEvery := flag.Duration("have", shardcast.DefaultHaveInterval, "least time between have-map advertisements")
	trace := flag.Duration("trace", 0, "print traffic counters to stderr at this interval")
	flag.Parse()

	if *cpuProfile != "" {
		f, err := os.Create(fmt.Sprintf("%s.%d", *cpuProfile, os.Getpid()))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ob, err := hex.DecodeString(*ownerHex)
	if err != nil {
		return err
	}
	owner, err := crypto.UnmarshalPublicKey(ob)
	if err != nil {
		return err
	}
	var ownerKey crypto.PrivKey
	if *keyFile != "" {
		b, err := os.ReadFile(*keyFile)
		if err != nil {
			return err
		}
		if ownerKey, err = crypto.UnmarshalPrivateKey(b); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The security a node runs (batched TLS, then Noise), so the lab measures it.
	hopts := []libp2p.Option{libp2p.ListenAddrStrings(*listen), p2p.Security(), libp2p.DisableRelay(), libp2p.ResourceManager(&network.NullResourceManager{})}
	if *windowKiB > 0 {
		cfg := *(*yamux.Config)(libp2pyamux.DefaultTransport)
		cfg.InitialStreamWindowSize = uint32(*windowKiB) << 10
		hopts = append(hopts, libp2p.Muxer(libp2pyamux.ID, (*libp2pyamux.Transport)(&cfg)))
	}
	h, err := libp2p.New(hopts...)
	if err != nil {
		return err
	}
	defer h.Close()
	ps, err := pubsub.NewGossipSub(ctx, h, pubsub.WithMessageSignaturePolicy(pubsub.StrictSign))
	if err != nil {
		return err
	}
	st, err := shardcast.OpenStore(*dir)
	if err != nil {
		return err
	}
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		fmt.Printf(format+"\n", args...)
		outMu.Unlock()
	}
	var svc *shardcast.Service
	svc, err = shardcast.New(h, ps, st, "lab", owner,
		shardcast.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel(*verbose)}))),
		shardcast.WithParallel(*parallel), shardcast.WithUploadSlots(*slots), shardcast.WithHaveInterval(*haveEvery),
		shardcast.WithAutoFetch(func(c cid.Cid, _ *shardcast.Manifest) {
			s := svc.Stats()
			say("DONE %s %d %d %d busy=%d failed=%d", c, time.Now().UnixNano(), s.BytesFetched, s.BytesServed, s.Busy, s.Failed)
		}))
	if err != nil {
		return err
	}
	defer svc.Close()
	say("READY %s %s", h.ID(), h.Addrs()[0])
	if *trace > 0 {
		go func() {
			var last int64
			for range time.Tick(*trace) {
				s := svc.Stats()
				if s.BytesFetched != last || s.Uploads > 0 {
					fmt.Fprintf(os.Stderr, "TRACE %s %d fetched=%d served=%d busy=%d failed=%d down=%d up=%d\n", h.ID().String()[46:], time.Now().UnixMilli()%100000, s.BytesFetched, s.BytesServed, s.Busy, s.Failed, s.Downloads, s.Uploads)
					last = s.BytesFetched
				}
			}
		}()
	}

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "CONNECT":
			n := 0
			for _, a := range f[1:] {
				ai, err := peer.AddrInfoFromString(a)
				if err == nil {
					cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
					err = h.Connect(cctx, *ai)
					ccancel()
				}
				if err != nil {
					say("ERR connect %s: %v", a, err)
					continue
				}
				n++
			}
			say("CONNECTED %d", n)
		case "WAITPEERS":
			want, _ := strconv.Atoi(f[1])
			deadline := time.Now().Add(30 * time.Second)
			for len(ps.ListPeers(shardcast.TopicName("lab"))) < want && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			say("PEERS %d", len(ps.ListPeers(shardcast.TopicName("lab"))))
		case "PUBLISH":
			version, _ := strconv.ParseUint(f[2], 10, 64)
			shard, _ := strconv.Atoi(f[3])
			// Cut and store the shards first, so that the clock measures
			// the broadcast (Publish then only re-hashes the files).
			if _, _, err := shardcast.Build(ctx, st, ownerKey, "lab", version, f[1], shardcast.WithShardSize(shard)); err != nil {
				say("ERR build: %v", err)
				continue
			}
			t0 := time.Now()
			c, _, err := svc.Publish(ctx, ownerKey, version, f[1], shardcast.WithShardSize(shard))
			if err != nil {
				say("ERR publish: %v", err)
				continue
			}
			say("PUBLISHED %s %d", c, t0.UnixNano())
		case "FETCH":
			c, err := cid.Decode(f[1])
			if err != nil {
				say("ERR %v", err)
				continue
			}
			t0 := time.Now()
			if _, err := svc.Fetch(ctx, c); err != nil {
				say("ERR fetch: %v", err)
				continue
			}
			say("FETCHED %s %d", c, time.Since(t0).Nanoseconds())
		case "RAWSERVE":
			n, _ := strconv.Atoi(f[2])
			ln, err := net.Listen("tcp", f[1])
			if err != nil {
				say("ERR %v", err)
				continue
			}
			defer ln.Close()
			data := make([]byte, n)
			go func() {
				for {
					conn, err := ln.Accept()
					if err != nil {
						return
					}
					_, _ = conn.Write(data)
					conn.Close()
				}
			}()
			say("RAWSERVING")
		case "RAWGET":
			n, _ := strconv.ParseInt(f[2], 10, 64)
			t0 := time.Now()
			conn, err := net.Dial("tcp", f[1])
			if err != nil {
				say("ERR %v", err)
				continue
			}
			got, err := io.Copy(io.Discard, conn)
			conn.Close()
			if err != nil || got != n {
				say("ERR raw get: %d bytes, %v", got, err)
				continue
			}
			say("RAWGOT %d", time.Since(t0).Nanoseconds())
		case "STATS":
			s := svc.Stats()
			say("STATS %d %d", s.BytesFetched, s.BytesServed)
		case "QUIT":
			return nil
		default:
			say("ERR unknown command %q", f[0])
		}
	}
	return in.Err()
}

func logLevel(verbose bool) slog.Level {
	if verbose {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}
