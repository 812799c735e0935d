package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	"github.com/spf13/cobra"

	"github.com/openpool/openpool/node"
	"github.com/openpool/openpool/p2p"
)

// nodeFlags are the flags of every command that runs a node.
type nodeFlags struct {
	listen     []string
	bootstrap  []string
	heartbeat  time.Duration
	membership string
	nat        bool
	upnp       bool
	statusAddr string
}

func (f *nodeFlags) register(cmd *cobra.Command, defaultListen []string) {
	fl := cmd.Flags()
	fl.StringSliceVar(&f.listen, "listen", defaultListen, "multiaddrs to listen on (TCP and QUIC)")
	fl.StringSliceVar(&f.bootstrap, "bootstrap", nil, "bootstrap peer multiaddr ending in /p2p/<peer-id> (repeatable)")
	fl.DurationVar(&f.heartbeat, "heartbeat", 2*time.Second, "membership heartbeat interval")
	fl.StringVar(&f.membership, "membership", "default", membershipFlagHelp)
	fl.BoolVar(&f.nat, "nat", true, "NAT traversal: AutoNAT, relay through bootstrap nodes, hole punching")
	fl.BoolVar(&f.upnp, "upnp", false, "ask the home router for a port mapping (UPnP/NAT-PMP)")
	fl.StringVar(&f.statusAddr, "status-addr", "127.0.0.1:0", "address of the local status API (/status, /metrics); empty to disable")
}

// membershipFlagHelp describes --membership.
const membershipFlagHelp = "membership protocol: heartbeat (every member gossips a heartbeat every interval: gossip bytes per member grow with the pool), " +
	"swim (members probe a few others per interval and gossip only changes: bytes per member stay flat), or default (swim); every member of a pool must use the same"

// parseMembershipFlag parses --membership; empty (no flag set it, as from a
// config file) is the default. A bad value is a usage error.
func parseMembershipFlag(s string) (p2p.MembershipMode, error) {
	if s == "" {
		return p2p.ModeDefault, nil
	}
	mode, err := p2p.ParseMembershipMode(s)
	if err != nil {
		return 0, usagef("bad --membership %q: want heartbeat, swim or default", s)
	}
	return mode, nil
}

// options turns the flags into node options; bad values are usage errors.
func (f *nodeFlags) options(g *globals) ([]node.Option, error) {
	var listen []ma.Multiaddr
	for _, s := range f.listen {
		m, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, usagef("bad --listen address %q: %v", s, err)
		}
		listen = append(listen, m)
	}
	boot, err := p2p.ParseBootstrap(f.bootstrap)
	if err != nil {
		return nil, usageError{err}
	}
	if f.heartbeat < 10*time.Millisecond {
		return nil, usagef("--heartbeat %v is too short (minimum 10ms)", f.heartbeat)
	}
	mode, err := parseMembershipFlag(f.membership)
	if err != nil {
		return nil, err
	}
	dir, err := g.dataDir()
	if err != nil {
		return nil, err
	}
	opts := []node.Option{
		node.WithDataDir(dir),
		node.WithListenAddrs(listen...),
		node.WithBootstrapPeers(boot...),
		node.WithHeartbeatInterval(f.heartbeat),
		node.WithMembershipMode(mode),
		node.WithNAT(f.nat),
		node.WithUPnP(f.upnp),
		node.WithLogger(g.logger()),
	}
	if f.statusAddr != "" {
		opts = append(opts, node.WithStatusAddr(f.statusAddr))
	}
	return opts, nil
}

// apiFile is where a running node records its status API address, so that
// `openpool status` finds it.
const apiFile = "api.addr"

// startNode starts a node from the flags and records its API address.
func startNode(ctx context.Context, g *globals, f *nodeFlags, extra ...node.Option) (*node.Node, func(), error) {
	opts, err := f.options(g)
	if err != nil {
		return nil, nil, err
	}
	n, err := node.New(ctx, append(opts, extra...)...)
	if err != nil {
		return nil, nil, err
	}
	dir, _ := g.dataDir()
	path := filepath.Join(dir, apiFile)
	cleanup := func() {}
	if addr := n.StatusAddr(); addr != "" {
		if err := os.WriteFile(path, []byte(addr+"\n"), 0o600); err != nil {
			g.logger().Warn("cannot record status API address", "err", err)
		} else {
			cleanup = func() {
				// Remove it only if it is still ours.
				if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == addr {
					_ = os.Remove(path)
				}
			}
		}
	}
	return n, cleanup, nil
}

// readAPIAddr returns the status API address of the node running with this
// data directory.
func readAPIAddr(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, apiFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("no node is running with data directory %s (start one with `openpool join` or `openpool bootstrap`)", dir)
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}
