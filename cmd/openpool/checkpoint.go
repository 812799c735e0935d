package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/openpool/openpool/node"
	"github.com/openpool/openpool/p2p"
	"github.com/openpool/openpool/shardcast"
)

// checkpointStoreDir is where a node keeps checkpoint shards and manifests.
const checkpointStoreDir = "shardcast"

func newCheckpointCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "Publish, fetch and list checkpoints (shardcast)",
		Long: "Checkpoints travel as content-addressed shards with a manifest signed by the pool owner;\n" +
			"peers relay shards to each other while they download. They are kept under <home>/shardcast,\n" +
			"the 5 newest versions of each pool.",
	}
	cmd.AddCommand(newCheckpointPublishCmd(g), newCheckpointFetchCmd(g), newCheckpointLsCmd(g))
	return cmd
}

func openCheckpointStore(g *globals) (*shardcast.Store, error) {
	dir, err := g.dataDir()
	if err != nil {
		return nil, err
	}
	return shardcast.OpenStore(filepath.Join(dir, checkpointStoreDir))
}

// parseOwner accepts the pool owner as a peer ID (Ed25519 peer IDs contain
// the key) or as the hex of a libp2p-encoded public key.
func parseOwner(s string) (crypto.PubKey, error) {
	if id, err := peer.Decode(s); err == nil {
		if k, err := id.ExtractPublicKey(); err == nil {
			return k, nil
		}
	}
	if b, err := hex.DecodeString(s); err == nil {
		if k, err := crypto.UnmarshalPublicKey(b); err == nil {
			return k, nil
		}
	}
	return nil, usagef("--owner %q: want the pool owner's peer ID (12D3Koo...) or hex public key", s)
}

func newCheckpointPublishCmd(g *globals) *cobra.Command {
	var (
		f        nodeFlags
		version  uint64
		shardKiB int
		keyFile  string
		serveFor time.Duration
	)
	cmd := &cobra.Command{
		Use:   "publish <pool> <path>",
		Short: "Publish a checkpoint (a file or a directory) to a pool and serve it",
		Long: "Cut the file or directory into shards, sign the manifest with the pool owner's key (by default\n" +
			"this node's identity), announce it on the pool's topic and serve it until interrupted\n" +
			"(or for --serve-for). Prints the manifest CID that `openpool checkpoint fetch` takes.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			pool, src := args[0], args[1]
			if err := p2p.ValidatePoolID(pool); err != nil {
				return usageError{err}
			}
			if _, err := os.Stat(src); err != nil {
				return usagef("checkpoint path %s: %v", src, err)
			}
			if shardKiB*1024 < shardcast.MinShardSize || shardKiB*1024 > shardcast.MaxShardSize {
				return usagef("--shard-kib %d: use %d to %d", shardKiB, shardcast.MinShardSize>>10, shardcast.MaxShardSize>>10)
			}
			if serveFor < 0 {
				return usagef("--serve-for %v is negative", serveFor)
			}
			dir, err := g.dataDir()
			if err != nil {
				return err
			}
			var key crypto.PrivKey
			if keyFile != "" {
				b, err := os.ReadFile(keyFile)
				if err != nil {
					return usagef("--owner-key: %v", err)
				}
				if key, err = crypto.UnmarshalPrivateKey(b); err != nil {
					return usagef("--owner-key %s: not a libp2p private key: %v", keyFile, err)
				}
			} else if key, _, err = p2p.LoadOrCreateIdentity(dir); err != nil {
				return err
			}
			st, err := openCheckpointStore(g)
			if err != nil {
				return err
			}
			if version == 0 {
				version = nextVersion(st, pool)
			}
			ctx := cmd.Context()
			n, svc, cleanup, err := startCheckpointNode(ctx, g, &f, st, pool, key.GetPublic())
			if err != nil {
				return err
			}
			defer cleanup()
			c, m, err := svc.Publish(ctx, key, version, src, shardcast.WithShardSize(shardKiB*1024))
			if errors.Is(err, shardcast.ErrBadCheckpoint) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			owner, _ := peer.IDFromPublicKey(key.GetPublic())
			fmt.Fprintf(g.stdout, "published %s\n", c)
			fmt.Fprintf(g.stdout, "pool %s version %d: %d files, %d bytes in %d shards of %d KiB\n",
				pool, m.Version, len(m.Files), m.TotalSize(), len(m.Shards), m.ShardSize>>10)
			fmt.Fprintf(g.stdout, "owner %s\n", owner)
			for _, a := range n.Addrs() {
				if _, err := a.ValueForProtocol(ma.P_P2P); err != nil {
					a = a.Encapsulate(ma.StringCast("/p2p/" + n.ID().String()))
				}
				fmt.Fprintf(g.stdout, "serving at %s\n", a)
			}
			fmt.Fprintf(g.stdout, "fetch with: openpool checkpoint fetch %s --pool %s --owner %s --bootstrap <addr>\n", c, pool, owner)
			wait := ctx.Done()
			if serveFor > 0 {
				timer := time.NewTimer(serveFor)
				defer timer.Stop()
				select {
				case <-wait:
				case <-timer.C:
				}
			} else {
				<-wait
			}
			s := svc.Stats()
			fmt.Fprintf(g.stdout, "served %d bytes (%d shards)\n", s.BytesServed, s.ShardsServed)
			return nil
		},
	}
	f.register(cmd, []string{"/ip4/0.0.0.0/tcp/0", "/ip4/0.0.0.0/udp/0/quic-v1"})
	cmd.Flags().Uint64Var(&version, "version", 0, "checkpoint version (default: one above the newest stored for the pool)")
	cmd.Flags().IntVar(&shardKiB, "shard-kib", shardcast.DefaultShardSize>>10, "shard size in KiB")
	cmd.Flags().StringVar(&keyFile, "owner-key", "", "pool owner's libp2p private key file (default: this node's identity)")
	cmd.Flags().DurationVar(&serveFor, "serve-for", 0, "stop serving after this long (default: until interrupted)")
	return cmd
}

func nextVersion(st *shardcast.Store, pool string) uint64 {
	list, _ := st.List()
	var v uint64
	for _, e := range list {
		if e.Manifest.Pool == pool {
			v = max(v, e.Manifest.Version)
		}
	}
	return v + 1
}

// startCheckpointNode starts a node, joins pool and runs shardcast on it.
func startCheckpointNode(ctx context.Context, g *globals, f *nodeFlags, st *shardcast.Store, pool string, owner crypto.PubKey) (*node.Node, *shardcast.Service, func(), error) {
	n, cleanupAPI, err := startNode(ctx, g, f)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := n.Join(ctx, pool); err != nil {
		_ = n.Close()
		cleanupAPI()
		return nil, nil, nil, err
	}
	svc, err := shardcast.New(n.Host(), n.PubSub(), st, pool, owner, shardcast.WithLogger(g.logger()))
	if err != nil {
		_ = n.Close()
		cleanupAPI()
		return nil, nil, nil, err
	}
	return n, svc, func() {
		_ = svc.Close()
		_ = n.Close()
		cleanupAPI()
	}, nil
}

func newCheckpointFetchCmd(g *globals) *cobra.Command {
	var (
		f        nodeFlags
		pool     string
		ownerStr string
		out      string
		seedFor  time.Duration
		quiet    bool
	)
	cmd := &cobra.Command{
		Use:   "fetch <manifest-cid>",
		Short: "Fetch a checkpoint from the pool's peers, verify it and write its files",
		Long: "Fetch the manifest and every shard from peers of the pool (any peer that has them), checking\n" +
			"the owner's signature and every shard's hash; a fetch that was interrupted resumes. With --out,\n" +
			"the files are written there. Shards are served to other peers while the fetch runs.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cid.Decode(args[0])
			if err != nil {
				return usagef("manifest CID %q: %v", args[0], err)
			}
			if pool == "" || ownerStr == "" {
				return usagef("fetch needs --pool and --owner (the pool owner's peer ID)")
			}
			if err := p2p.ValidatePoolID(pool); err != nil {
				return usageError{err}
			}
			owner, err := parseOwner(ownerStr)
			if err != nil {
				return err
			}
			if len(f.bootstrap) == 0 {
				return usagef("fetch needs at least one --bootstrap address (a peer of the pool, or `openpool bootstrap`)")
			}
			st, err := openCheckpointStore(g)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			_, svc, cleanup, err := startCheckpointNode(ctx, g, &f, st, pool, owner)
			if err != nil {
				return err
			}
			defer cleanup()
			t0 := time.Now()
			m, err := fetchWithProgress(ctx, g.stderr, svc, c, quiet)
			if err != nil {
				return err
			}
			d := time.Since(t0)
			s := svc.Stats()
			fmt.Fprintf(g.stdout, "fetched %s: pool %s version %d, %d bytes in %d shards (%d downloaded) in %v, %.1f MB/s\n",
				c, m.Pool, m.Version, m.TotalSize(), len(m.Shards), s.BytesFetched, d.Round(time.Millisecond), float64(s.BytesFetched)/d.Seconds()/1e6)
			if out != "" {
				if err := st.Assemble(ctx, m, out); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "wrote %d files to %s\n", len(m.Files), out)
			}
			if seedFor > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(seedFor):
				}
			}
			return nil
		},
	}
	f.register(cmd, []string{"/ip4/0.0.0.0/tcp/0", "/ip4/0.0.0.0/udp/0/quic-v1"})
	cmd.Flags().StringVar(&pool, "pool", "", "the pool the checkpoint belongs to")
	cmd.Flags().StringVar(&ownerStr, "owner", "", "the pool owner's peer ID (or hex public key); the manifest must be signed by it")
	cmd.Flags().StringVar(&out, "out", "", "write the checkpoint's files to this directory")
	cmd.Flags().DurationVar(&seedFor, "seed-for", 0, "keep serving the checkpoint this long after the fetch")
	cmd.Flags().BoolVar(&quiet, "quiet", false, "no progress bar")
	return cmd
}

// fetchWithProgress runs the fetch and draws a progress bar (bytes, rate,
// ETA) on w until it ends.
func fetchWithProgress(ctx context.Context, w io.Writer, svc *shardcast.Service, c cid.Cid, quiet bool) (*shardcast.Manifest, error) {
	type result struct {
		m   *shardcast.Manifest
		err error
	}
	done := make(chan result, 1)
	go func() {
		m, err := svc.Fetch(ctx, c)
		done <- result{m, err}
	}()
	var bar *progressbar.ProgressBar
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case r := <-done:
			if bar != nil {
				_ = bar.Finish()
				fmt.Fprintln(w)
			}
			return r.m, r.err
		case <-tick.C:
			if quiet {
				continue
			}
			_, _, have, total, ok := svc.Progress(c)
			if !ok {
				continue
			}
			if bar == nil {
				bar = progressbar.NewOptions64(int64(total),
					progressbar.OptionSetWriter(w),
					progressbar.OptionSetDescription("fetching "+shortCID(c)),
					progressbar.OptionShowBytes(true),
					progressbar.OptionShowCount(),
					progressbar.OptionSetPredictTime(true),
					progressbar.OptionThrottle(100*time.Millisecond),
				)
			}
			_ = bar.Set64(int64(have))
		}
	}
}

func shortCID(c cid.Cid) string {
	s := c.String()
	if len(s) > 16 {
		return s[:8] + "…" + s[len(s)-6:]
	}
	return s
}

// checkpointEntry is one line of `openpool checkpoint ls --json`.
type checkpointEntry struct {
	CID      string    `json:"cid"`
	Pool     string    `json:"pool"`
	Version  uint64    `json:"version"`
	Created  time.Time `json:"created"`
	Owner    string    `json:"owner"`
	Bytes    uint64    `json:"bytes"`
	Files    int       `json:"files"`
	Shards   int       `json:"shards"`
	Have     int       `json:"have_shards"`
	Complete bool      `json:"complete"`
}

func newCheckpointLsCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the checkpoints in the local store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openCheckpointStore(g)
			if err != nil {
				return err
			}
			list, err := st.List()
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				for _, e := range list {
					owner, _ := peer.IDFromPublicKey(e.Manifest.Owner)
					_ = enc.Encode(checkpointEntry{
						CID: e.CID.String(), Pool: e.Manifest.Pool, Version: e.Manifest.Version, Created: e.Manifest.Created,
						Owner: owner.String(), Bytes: e.Manifest.TotalSize(), Files: len(e.Manifest.Files),
						Shards: len(e.Manifest.Shards), Have: e.HaveShards, Complete: e.Complete(),
					})
				}
				return nil
			}
			if len(list) == 0 {
				fmt.Fprintf(g.stdout, "no checkpoints in %s\n", st.Dir())
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "POOL\tVERSION\tCREATED\tSIZE\tFILES\tSHARDS\tSTATE\tCID")
			for _, e := range list {
				state := "complete"
				if !e.Complete() {
					state = fmt.Sprintf("%d%%", 100*e.HaveShards/max(1, len(e.Manifest.Shards)))
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%d/%d\t%s\t%s\n", e.Manifest.Pool, e.Manifest.Version,
					e.Manifest.Created.Local().Format("2006-01-02 15:04:05"), humanBytes(e.Manifest.TotalSize()),
					len(e.Manifest.Files), e.HaveShards, len(e.Manifest.Shards), state, e.CID)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per checkpoint")
	return cmd
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
