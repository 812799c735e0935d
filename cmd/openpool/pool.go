package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"

	"github.com/openpool/openpool/ledger"
	"github.com/openpool/openpool/node"
	"github.com/openpool/openpool/p2p"
)

// poolFile is the researcher's pool definition (examples/pool.toml).
type poolFile struct {
	Slug        string        `toml:"slug"`
	Name        string        `toml:"name"`
	Description string        `toml:"description"`
	Model       string        `toml:"model"`
	ModelCID    string        `toml:"model_cid"`
	Data        string        `toml:"data"`
	DataCID     string        `toml:"data_cid"`
	Admission   p2p.Admission `toml:"admission"`
	Checkpoint  string        `toml:"checkpoint"`
	ChainID     uint64        `toml:"chain_id"`
	ChainPoolID uint64        `toml:"chain_pool_id"`
	// The on-chain pool's contract, domain and owner address: members check
	// chain invites against them.
	ChainContract string          `toml:"chain_contract"`
	ChainOwner    string          `toml:"chain_owner"`
	ChainDomainID uint64          `toml:"chain_domain_id"`
	DiLoCo        poolFileDiLoCo  `toml:"diloco"`
	MinHardware   p2p.MinHardware `toml:"min_hardware"`
}

type poolFileDiLoCo struct {
	InnerSteps    uint64           `toml:"inner_steps"`
	OuterLR       float64          `toml:"outer_lr"`
	OuterMomentum float64          `toml:"outer_momentum"`
	Quantization  p2p.Quantization `toml:"quantization"`
	ShardSizeKiB  uint64           `toml:"shard_size_kib"`
}

// readPoolFile parses and checks a pool definition; every problem is a usage
// error naming the file.
func readPoolFile(path string) (*poolFile, *p2p.PoolDescriptor, error) {
	f := poolFile{DiLoCo: poolFileDiLoCo{OuterLR: 0.7, OuterMomentum: 0.9, Quantization: p2p.QuantInt8, ShardSizeKiB: 4096}}
	md, err := toml.DecodeFile(path, &f)
	if err != nil {
		return nil, nil, usagef("pool file %s: %v", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, nil, usagef("pool file %s: unknown key %q", path, und[0].String())
	}
	d := &p2p.PoolDescriptor{
		Name: f.Name, Description: f.Description, Model: f.Model, Data: f.Data,
		Params: p2p.PoolParams{
			InnerSteps: f.DiLoCo.InnerSteps, OuterLR: f.DiLoCo.OuterLR, OuterMomentum: f.DiLoCo.OuterMomentum,
			Quantization: f.DiLoCo.Quantization, ShardSize: f.DiLoCo.ShardSizeKiB << 10,
		},
		MinHardware: f.MinHardware, Admission: f.Admission, ChainID: f.ChainID, ChainPoolID: f.ChainPoolID,
		ChainDomainID: f.ChainDomainID,
	}
	for _, a := range []struct {
		name string
		s    string
		dst  *[20]byte
	}{{"chain_contract", f.ChainContract, &d.ChainContract}, {"chain_owner", f.ChainOwner, &d.ChainOwner}} {
		if a.s == "" {
			continue
		}
		if !common.IsHexAddress(a.s) {
			return nil, nil, usagef("pool file %s: %s %q is not an Ethereum address", path, a.name, a.s)
		}
		*a.dst = common.HexToAddress(a.s)
	}
	for _, c := range []struct {
		name string
		s    string
		dst  *cid.Cid
	}{{"model_cid", f.ModelCID, &d.ModelCID}, {"data_cid", f.DataCID, &d.DataCID}, {"checkpoint", f.Checkpoint, &d.Checkpoint}} {
		if c.s == "" {
			continue
		}
		v, err := cid.Decode(c.s)
		if err != nil {
			return nil, nil, usagef("pool file %s: %s %q is not a CID: %v", path, c.name, c.s, err)
		}
		*c.dst = v
	}
	return &f, d, nil
}

// ownerKey is the researcher's key: the libp2p identity of the data
// directory, created when missing.
func ownerKey(g *globals) (crypto.PrivKey, error) {
	dir, err := g.dataDir()
	if err != nil {
		return nil, err
	}
	k, _, err := p2p.LoadOrCreateIdentity(dir)
	return k, err
}

// ownedPoolKey returns the owner key of pool id, or a usage error when this
// data directory does not own it.
func ownedPoolKey(g *globals, id, verb string) (crypto.PrivKey, error) {
	key, err := ownerKey(g)
	if err != nil {
		return nil, err
	}
	if err := p2p.CheckOwner(id, key.GetPublic()); err != nil {
		return nil, usagef("%v: only the owner's data directory can %s %s", err, verb, id)
	}
	return key, nil
}

// poolNode starts a short-lived node with a throwaway identity to talk to
// the swarm (so it never clashes with a long-running node of the same data
// directory), and waits for a bootstrap peer.
func poolNode(ctx context.Context, g *globals, f *nodeFlags) (*node.Node, error) {
	if len(f.bootstrap) == 0 {
		return nil, usagef("this command needs at least one --bootstrap address (from `openpool bootstrap`)")
	}
	opts, err := f.options(g)
	if err != nil {
		return nil, err
	}
	eph, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		return nil, err
	}
	n, err := node.New(ctx, append(opts, node.WithIdentity(eph))...)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := n.WaitBootstrapped(wctx); err != nil {
		_ = n.Close()
		return nil, fmt.Errorf("no bootstrap node answered: %w", err)
	}
	// The DHT and the pools topic need a moment after the first connection.
	for wctx.Err() == nil && (len(n.DHT().RoutingTable().ListPeers()) == 0 || len(n.PubSub().ListPeers(p2p.PoolsTopic)) == 0) {
		time.Sleep(50 * time.Millisecond)
	}
	return n, nil
}

func registerPoolNodeFlags(cmd *cobra.Command, f *nodeFlags) {
	f.register(cmd, []string{"/ip4/0.0.0.0/tcp/0"})
	f.statusAddr = ""
	_ = cmd.Flags().MarkHidden("status-addr")
	_ = cmd.Flags().MarkHidden("heartbeat")
}

func newPoolCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pool",
		Short: "Create, update, invite to, close, list and show pools",
		Long: "A pool is described by a descriptor signed with this data directory's identity key: what is\n" +
			"trained, DiLoCo parameters, minimum hardware, admission (open or invite-only), the current\n" +
			"checkpoint. Its ID (<slug>-<16 chars>) is derived from the owner key, so only the owner can\n" +
			"publish it. Descriptors live in the DHT and on a global gossip topic; an `openpool` node\n" +
			"started with the owner's data directory keeps them published. See examples/pool.toml.",
	}
	cmd.AddCommand(newPoolCreateCmd(g), newPoolUpdateCmd(g), newPoolCloseCmd(g), newPoolInviteCmd(g),
		newPoolLsCmd(g), newPoolShowCmd(g))
	return cmd
}

// publishSigned signs d with the owner key, saves it in the data directory
// and publishes it through a short-lived node.
func publishSigned(ctx context.Context, g *globals, f *nodeFlags, key crypto.PrivKey, d *p2p.PoolDescriptor) error {
	if err := d.Sign(key); err != nil {
		return usageError{err}
	}
	n, err := poolNode(ctx, g, f)
	if err != nil {
		return err
	}
	defer n.Close()
	if err := n.PublishPool(ctx, d); err != nil {
		return err
	}
	dir, err := g.dataDir()
	if err != nil {
		return err
	}
	if err := node.SaveOwnedPool(dir, d); err != nil {
		return err
	}
	// Give gossip a moment to leave this process.
	select {
	case <-ctx.Done():
	case <-time.After(2 * time.Second):
	}
	return printDescriptor(g, d, nil, false)
}

func newPoolCreateCmd(g *globals) *cobra.Command {
	var f nodeFlags
	cmd := &cobra.Command{
		Use:   "create <pool.toml>",
		Short: "Create a pool from a TOML file and publish its signed descriptor",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pf, d, err := readPoolFile(args[0])
			if err != nil {
				return err
			}
			key, err := ownerKey(g)
			if err != nil {
				return err
			}
			d.ID, err = p2p.DerivePoolID(key.GetPublic(), pf.Slug)
			if err != nil {
				return usagef("pool file %s: slug: %v", args[0], err)
			}
			d.Seq = uint64(time.Now().UnixMilli())
			return publishSigned(cmd.Context(), g, &f, key, d)
		},
	}
	registerPoolNodeFlags(cmd, &f)
	return cmd
}

func newPoolUpdateCmd(g *globals) *cobra.Command {
	var (
		f           nodeFlags
		file        string
		checkpoint  string
		description string
		innerSteps  uint64
	)
	cmd := &cobra.Command{
		Use:   "update <pool-id>",
		Short: "Republish a pool's descriptor with changes and a higher sequence number",
		Long: "Change a pool: --file replaces the whole definition, the other flags change one field of the\n" +
			"newest descriptor found in the swarm.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			key, err := ownedPoolKey(g, id, "update")
			if err != nil {
				return err
			}
			var ck cid.Cid
			if checkpoint != "" {
				if ck, err = cid.Decode(checkpoint); err != nil {
					return usagef("--checkpoint %q is not a CID: %v", checkpoint, err)
				}
			}
			ctx := cmd.Context()
			cur, err := findPool(ctx, g, &f, id)
			if err != nil {
				return err
			}
			d := *cur
			if file != "" {
				_, fd, err := readPoolFile(file)
				if err != nil {
					return err
				}
				d = *fd
			}
			if ck.Defined() {
				d.Checkpoint = ck
			}
			if cmd.Flags().Changed("description") {
				d.Description = description
			}
			if innerSteps > 0 {
				d.Params.InnerSteps = innerSteps
			}
			d.ID, d.Updated, d.Signature = id, time.Time{}, nil
			d.Seq = max(cur.Seq+1, uint64(time.Now().UnixMilli()))
			return publishSigned(ctx, g, &f, key, &d)
		},
	}
	registerPoolNodeFlags(cmd, &f)
	fl := cmd.Flags()
	fl.StringVar(&file, "file", "", "new pool definition (TOML); the slug in it is ignored")
	fl.StringVar(&checkpoint, "checkpoint", "", "new checkpoint manifest CID")
	fl.StringVar(&description, "description", "", "new description")
	fl.Uint64Var(&innerSteps, "inner-steps", 0, "new DiLoCo inner steps H")
	return cmd
}

func newPoolCloseCmd(g *globals) *cobra.Command {
	var f nodeFlags
	cmd := &cobra.Command{
		Use:   "close <pool-id>",
		Short: "Close a pool: nodes refuse to join it and members leave",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			key, err := ownedPoolKey(g, id, "close")
			if err != nil {
				return err
			}
			cur, err := findPool(cmd.Context(), g, &f, id)
			if err != nil {
				return err
			}
			d := *cur
			d.Closed, d.Updated, d.Signature = true, time.Time{}, nil
			d.Seq = max(cur.Seq+1, uint64(time.Now().UnixMilli()))
			return publishSigned(cmd.Context(), g, &f, key, &d)
		},
	}
	registerPoolNodeFlags(cmd, &f)
	return cmd
}

// encodeInvite is the text form of an invite: base64url, no padding.
func encodeInvite(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// readInvite accepts an invite as text or as a file holding it: a p2p
// invite from `openpool pool invite`, or the JSON of an on-chain invite from
// `openpool ledger pool invite`, which is bound to this node's peer ID with
// the data directory's Ethereum key (passphrase from OPENPOOL_PASSPHRASE).
func readInvite(g *globals, s string) ([]byte, error) {
	if b, err := os.ReadFile(s); err == nil {
		s = strings.TrimSpace(string(b))
	}
	if strings.HasPrefix(s, "{") {
		return chainAdmission(g, []byte(s))
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, usagef("--invite: not an invite (base64url text or a file holding one): %v", err)
	}
	if _, err := p2p.DecodePoolInvite(b); err != nil {
		return nil, usageError{err}
	}
	return b, nil
}

func newPoolInviteCmd(g *globals) *cobra.Command {
	var (
		ttl time.Duration
		out string
	)
	cmd := &cobra.Command{
		Use:   "invite <pool-id> <peer-id>",
		Short: "Sign an invite for one peer to an invite-only pool (offline)",
		Long: "Sign an invite with the owner's key. The invitee passes it to `openpool join <pool-id> --invite`.\n" +
			"To invite an Ethereum address to the on-chain pool, use `openpool ledger pool invite`.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if strings.HasPrefix(args[1], "0x") {
				return usagef("%s looks like an Ethereum address: use `openpool ledger pool invite` for the on-chain pool, and a peer ID here", args[1])
			}
			who, err := peer.Decode(args[1])
			if err != nil {
				return usagef("%q is not a peer ID: %v", args[1], err)
			}
			if ttl <= 0 {
				return usagef("--ttl %v must be positive", ttl)
			}
			key, err := ownerKey(g)
			if err != nil {
				return err
			}
			inv, err := p2p.NewPoolInvite(key, id, who, time.Now().Add(ttl))
			if err != nil {
				return usageError{err}
			}
			b, err := inv.MarshalBinary()
			if err != nil {
				return err
			}
			text := encodeInvite(b)
			if out != "" {
				if err := os.WriteFile(out, []byte(text+"\n"), 0o600); err != nil {
					return err
				}
				fmt.Fprintf(g.stderr, "invite for %s to %s, valid until %s, written to %s\n", who, id, inv.Expiry.UTC().Format(time.RFC3339), out)
				return nil
			}
			fmt.Fprintln(g.stdout, text)
			return nil
		},
	}
	cmd.Flags().DurationVar(&ttl, "ttl", 7*24*time.Hour, "how long the invite is valid")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the invite to this file instead of stdout")
	return cmd
}

// findPool looks a pool up through a short-lived node.
func findPool(ctx context.Context, g *globals, f *nodeFlags, id string) (*p2p.PoolDescriptor, error) {
	if _, ok := p2p.SplitPoolID(id); !ok {
		return nil, usagef("%q is not a pool ID (<slug>-<16 chars>, as printed by `openpool pool create`)", id)
	}
	n, err := poolNode(ctx, g, f)
	if err != nil {
		return nil, err
	}
	defer n.Close()
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, _ = n.SyncPools(fctx, 3)
	return n.FindPool(fctx, id)
}

func newPoolLsCmd(g *globals) *cobra.Command {
	var (
		f      nodeFlags
		wait   time.Duration
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the pools seen in the swarm, with member counts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			n, err := poolNode(ctx, g, &f)
			if err != nil {
				return err
			}
			defer n.Close()
			sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			_, err = n.SyncPools(sctx, 3)
			cancel()
			if err != nil {
				g.logger().Warn("pool catalog from bootstrap peers", "err", err)
			}
			// Summaries (member counts) arrive by gossip.
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
			entries := n.PoolCatalog()
			if asJSON {
				return json.NewEncoder(g.stdout).Encode(entries)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "POOL\tNAME\tADMISSION\tSTATE\tMEMBERS\tSTEP\tOWNER")
			for _, e := range entries {
				d := e.Descriptor
				state, members, step := "open", "-", "-"
				if d.Closed {
					state = "closed"
				}
				if e.Summary != nil {
					members, step = fmt.Sprint(e.Summary.Members), fmt.Sprint(e.Summary.OuterStep)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Name, d.Admission, state, members, step, shortPeer(d.OwnerID().String()))
			}
			return tw.Flush()
		},
	}
	registerPoolNodeFlags(cmd, &f)
	cmd.Flags().DurationVar(&wait, "wait", 3*time.Second, "how long to listen for member counts")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newPoolShowCmd(g *globals) *cobra.Command {
	var (
		f      nodeFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "show <pool-id>",
		Short: "Print one pool's descriptor, verified against its owner key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := findPool(cmd.Context(), g, &f, args[0])
			if err != nil {
				if errors.Is(err, p2p.ErrPoolNotFound) {
					return exitError{code: exitFailure, err: err}
				}
				return err
			}
			return printDescriptor(g, d, nil, asJSON)
		},
	}
	registerPoolNodeFlags(cmd, &f)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printDescriptor(g *globals, d *p2p.PoolDescriptor, s *p2p.PoolSummary, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(g.stdout).Encode(struct {
			*p2p.PoolDescriptor
			Owner   string           `json:"owner"`
			Summary *p2p.PoolSummary `json:"summary,omitempty"`
		}{d, d.OwnerID().String(), s})
	}
	w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(w, "%s\t%v\n", k, v) }
	row("pool", d.ID)
	row("owner", d.OwnerID())
	row("sequence", d.Seq)
	row("updated", d.Updated.UTC().Format(time.RFC3339))
	row("state", map[bool]string{false: "open", true: "closed"}[d.Closed])
	row("name", d.Name)
	if d.Description != "" {
		row("description", d.Description)
	}
	row("model", strings.TrimSpace(d.Model+" "+cidText(d.ModelCID)))
	row("data", strings.TrimSpace(d.Data+" "+cidText(d.DataCID)))
	p := d.Params
	row("diloco", fmt.Sprintf("inner steps %d, outer lr %g, momentum %g, %s", p.InnerSteps, p.OuterLR, p.OuterMomentum, p.Quantization))
	if p.ShardSize > 0 {
		row("shard size", byteSize(int64(p.ShardSize)))
	}
	m := d.MinHardware
	row("min hardware", fmt.Sprintf("gpu memory %d MiB, bandwidth %d Mbit/s, cpu cores %d, memory %d MiB", m.GPUMemoryMiB, m.BandwidthMbps, m.CPUCores, m.MemoryMiB))
	row("admission", d.Admission)
	row("checkpoint", cidText(d.Checkpoint))
	if d.ChainID != 0 {
		row("chain", fmt.Sprintf("chain %d, domain %d, pool %d, contract %s, owner %s", d.ChainID, d.ChainDomainID, d.ChainPoolID,
			common.Address(d.ChainContract), common.Address(d.ChainOwner)))
	}
	return w.Flush()
}

func cidText(c cid.Cid) string {
	if !c.Defined() {
		return "-"
	}
	return c.String()
}

// joinPool joins pool; for a self-certifying pool ID it first waits (up to
// 30 s) for the descriptor to be found in the DHT or by gossip.
func joinPool(ctx context.Context, n *node.Node, pool string, opts []node.JoinOption) error {
	if _, ok := p2p.SplitPoolID(pool); !ok {
		return n.Join(ctx, pool, opts...)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, _ = n.SyncPools(ctx, 3)
		err := n.Join(ctx, pool, opts...)
		if err == nil || !errors.Is(err, p2p.ErrPoolNotFound) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// chainAdmission turns an on-chain invite into an admission token bound to
// this data directory's peer ID.
func chainAdmission(g *globals, invJSON []byte) ([]byte, error) {
	inv, err := ledger.ParseInvite(invJSON)
	if err != nil {
		return nil, usageError{err}
	}
	dir, err := g.dataDir()
	if err != nil {
		return nil, err
	}
	key, _, err := p2p.LoadOrCreateIdentity(dir)
	if err != nil {
		return nil, err
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, err
	}
	pass := os.Getenv("OPENPOOL_PASSPHRASE")
	if pass == "" {
		return nil, usagef("an on-chain invite needs this node's Ethereum key: set OPENPOOL_PASSPHRASE")
	}
	ek, err := ledger.LoadKey(ledger.KeystoreDir(dir), pass)
	if err != nil {
		return nil, err
	}
	tok, err := ledger.NewAdmissionToken(inv, ek, id)
	if err != nil {
		return nil, usageError{err}
	}
	return tok, nil
}
