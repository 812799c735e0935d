package main

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/openpool/openpool/ledger"
)

// ledgerFlags are shared by every `openpool ledger` subcommand.
type ledgerFlags struct {
	rpc        string
	chainID    uint64
	passphrase string
	deployment string
	lightKDF   bool
}

func newLedgerCmd(g *globals) *cobra.Command {
	lf := &ledgerFlags{}
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "Stake, compute pools, work and rewards on an Ethereum chain",
		Long: `The ledger commands talk to openpool's contracts on an Ethereum chain.

By default they use the embedded development chain that
'openpool ledger devchain' serves on http://127.0.0.1:8545 (chain 1337);
--rpc and --chain-id point them at any Ethereum JSON-RPC endpoint instead.
The account is the key in <home>/keystore, unlocked with --passphrase,
$OPENPOOL_PASSPHRASE or a prompt. Contract addresses are kept in
<home>/ledger/deployment.json by 'openpool ledger deploy'.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&lf.rpc, "rpc", "http://"+ledger.DefaultDevListen, "Ethereum JSON-RPC endpoint (http, ws or ipc path)")
	pf.Uint64Var(&lf.chainID, "chain-id", 0, "expected chain ID; refuse to sign for any other (0: accept the endpoint's)")
	pf.StringVar(&lf.passphrase, "passphrase", "", "keystore passphrase (default $OPENPOOL_PASSPHRASE, else prompt)")
	pf.StringVar(&lf.deployment, "deployment", "", "deployment file (default <home>/ledger/deployment.json)")
	pf.BoolVar(&lf.lightKDF, "lightkdf", false, "encrypt new keys with light scrypt parameters (fast, weaker: dev keys only)")

	pool := &cobra.Command{Use: "pool", Short: "Create compute pools, invite nodes, join and leave"}
	pool.AddCommand(newLedgerPoolCreateCmd(g, lf), newLedgerPoolInviteCmd(g, lf), newLedgerPoolJoinCmd(g, lf), newLedgerPoolLeaveCmd(g, lf))
	work := &cobra.Command{Use: "work", Short: "Record work submissions and invalidate them (validators)"}
	work.AddCommand(newLedgerWorkSubmitCmd(g, lf), newLedgerWorkInvalidateCmd(g, lf))
	key := &cobra.Command{Use: "key", Short: "Manage this data directory's Ethereum key"}
	key.AddCommand(newLedgerKeyCreateCmd(g, lf), newLedgerKeyShowCmd(g))

	cmd.AddCommand(
		newLedgerDevchainCmd(g, lf),
		newLedgerDeployCmd(g, lf),
		key,
		newLedgerRegisterCmd(g, lf),
		newLedgerStakeCmd(g, lf),
		newLedgerUnstakeCmd(g, lf),
		newLedgerWithdrawCmd(g, lf),
		newLedgerMintCmd(g, lf),
		newLedgerFundCmd(g, lf),
		pool,
		work,
		newLedgerRewardsCmd(g, lf),
		newLedgerClaimCmd(g, lf),
		newLedgerStatusCmd(g, lf),
	)
	return cmd
}

// passphrase resolves the keystore passphrase: flag, env, then prompt.
func (lf *ledgerFlags) getPassphrase(g *globals, confirm bool) (string, error) {
	if lf.passphrase != "" {
		return lf.passphrase, nil
	}
	if p := os.Getenv("OPENPOOL_PASSPHRASE"); p != "" {
		return p, nil
	}
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return "", usagef("no passphrase: pass --passphrase or set OPENPOOL_PASSPHRASE")
	}
	fmt.Fprint(g.stderr, "Keystore passphrase: ")
	p, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(g.stderr)
	if err != nil {
		return "", fmt.Errorf("read passphrase: %w", err)
	}
	if confirm {
		fmt.Fprint(g.stderr, "Repeat passphrase: ")
		p2, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(g.stderr)
		if err != nil {
			return "", fmt.Errorf("read passphrase: %w", err)
		}
		if string(p) != string(p2) {
			return "", usagef("passphrases do not match")
		}
	}
	if len(p) == 0 {
		return "", usagef("empty passphrase")
	}
	return string(p), nil
}

func (lf *ledgerFlags) keyOpts() []ledger.KeyOption {
	if lf.lightKDF {
		return []ledger.KeyOption{ledger.WithLightScrypt()}
	}
	return nil
}

// loadKey unlocks the data directory's key.
func (lf *ledgerFlags) loadKey(g *globals) (*ecdsa.PrivateKey, error) {
	home, err := g.dataDir()
	if err != nil {
		return nil, err
	}
	dir := ledger.KeystoreDir(home)
	if _, err := ledger.KeyAddress(dir); err != nil {
		if errors.Is(err, ledger.ErrNoKey) {
			return nil, usagef("no key in %s: run `openpool ledger key create` first", dir)
		}
		return nil, err
	}
	pass, err := lf.getPassphrase(g, false)
	if err != nil {
		return nil, err
	}
	return ledger.LoadKey(dir, pass)
}

func (lf *ledgerFlags) deploymentPath(g *globals) (string, error) {
	if lf.deployment != "" {
		return lf.deployment, nil
	}
	home, err := g.dataDir()
	if err != nil {
		return "", err
	}
	return ledger.DeploymentFile(home), nil
}

// ledgerSession is an unlocked client on the endpoint.
type ledgerSession struct {
	c     *ledger.Client
	close func()
}

// open dials the endpoint and returns a client; needDeployment loads the
// deployment file first.
func (lf *ledgerFlags) open(ctx context.Context, g *globals, needDeployment bool) (*ledgerSession, error) {
	var dep ledger.Deployment
	if needDeployment {
		path, err := lf.deploymentPath(g)
		if err != nil {
			return nil, err
		}
		if dep, err = ledger.LoadDeployment(path); err != nil {
			return nil, usagef("%v", err)
		}
	}
	key, err := lf.loadKey(g)
	if err != nil {
		return nil, err
	}
	ec, err := ethclient.DialContext(ctx, lf.rpc)
	if err != nil {
		return nil, fmt.Errorf("ledger: dial %s: %w", lf.rpc, err)
	}
	var opts []ledger.Option
	opts = append(opts, ledger.WithLogger(g.logger()))
	if lf.chainID != 0 {
		opts = append(opts, ledger.WithChainID(lf.chainID))
	}
	c, err := ledger.New(ctx, ec, key, dep, opts...)
	if err != nil {
		ec.Close()
		if errors.Is(err, ledger.ErrChainIDMismatch) {
			return nil, usagef("%v", err)
		}
		return nil, fmt.Errorf("%w (is the chain running? start one with `openpool ledger devchain`, or pass --rpc)", err)
	}
	return &ledgerSession{c: c, close: ec.Close}, nil
}

// parseTokens parses a decimal token amount ("1.5") into wei (18 decimals).
func parseTokens(s string) (*big.Int, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "." {
		return nil, usagef("missing token amount")
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" {
		whole = "0"
	}
	if len(frac) > 18 || strings.ContainsAny(whole+frac, "+-") {
		return nil, usagef("bad token amount %q: at most 18 decimals, no sign", s)
	}
	v, ok := new(big.Int).SetString(whole+frac+strings.Repeat("0", 18-len(frac)), 10)
	if !ok {
		return nil, usagef("bad token amount %q", s)
	}
	return v, nil
}

// formatTokens prints wei as tokens with up to 18 decimals.
func formatTokens(v *big.Int) string {
	if v == nil {
		return "0"
	}
	neg := v.Sign() < 0
	s := new(big.Int).Abs(v).String()
	if len(s) <= 18 {
		s = strings.Repeat("0", 19-len(s)) + s
	}
	whole, frac := s[:len(s)-18], strings.TrimRight(s[len(s)-18:], "0")
	out := whole
	if frac != "" {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out
}

func parsePoolID(s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		return 0, usagef("bad pool ID %q: want a positive integer", s)
	}
	return id, nil
}

func parseAddress(s string) (common.Address, error) {
	if !common.IsHexAddress(s) {
		return common.Address{}, usagef("bad address %q: want 0x and 40 hex digits", s)
	}
	return common.HexToAddress(s), nil
}

// ----- key -----

func newLedgerKeyCreateCmd(g *globals, lf *ledgerFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "create",
		Short: "Create the data directory's Ethereum key (never overwrites)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home, err := g.dataDir()
			if err != nil {
				return err
			}
			dir := ledger.KeystoreDir(home)
			if addr, err := ledger.KeyAddress(dir); err == nil {
				return exitError{exitFailure, fmt.Errorf("%s already holds key %s; refusing to create another: %w", dir, addr.Hex(), ledger.ErrKeyExists)}
			}
			pass, err := lf.getPassphrase(g, true)
			if err != nil {
				return err
			}
			addr, err := ledger.CreateKey(dir, pass, lf.keyOpts()...)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "address %s\nkeystore %s\n", addr.Hex(), dir)
			return nil
		},
	}
}

func newLedgerKeyShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "Print the address and location of the data directory's key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home, err := g.dataDir()
			if err != nil {
				return err
			}
			dir := ledger.KeystoreDir(home)
			addr, err := ledger.KeyAddress(dir)
			if err != nil {
				return usagef("%v", err)
			}
			fmt.Fprintf(g.stdout, "address %s\nkeystore %s\n", addr.Hex(), dir)
			return nil
		},
	}
}

// ----- devchain and deploy -----

func newLedgerDevchainCmd(g *globals, lf *ledgerFlags) *cobra.Command {
	var (
		listen string
		fund   []string
		deploy bool
	)
	cmd := &cobra.Command{
		Use:   "devchain",
		Short: "Run the embedded development chain in the foreground",
		Long: `Runs an in-process Ethereum development chain (chain 1337, a block per
transaction) serving JSON-RPC over HTTP and WebSocket on a loopback port,
until interrupted. The data directory's key (if any) and every --fund
address start with 1,000,000 ether. With --deploy the ledger contracts are
deployed from the data directory's key and the deployment file written.
The chain lives in memory: it starts empty every time.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			opts := []ledger.DevChainOption{ledger.WithDevListen(listen)}
			home, err := g.dataDir()
			if err != nil {
				return err
			}
			self, selfErr := ledger.KeyAddress(ledger.KeystoreDir(home))
			if selfErr == nil {
				opts = append(opts, ledger.WithDevFunds(self, ledger.DevEther()))
			} else if deploy {
				return usagef("--deploy needs a key: run `openpool ledger key create` first")
			}
			for _, f := range fund {
				a, err := parseAddress(f)
				if err != nil {
					return err
				}
				opts = append(opts, ledger.WithDevFunds(a, ledger.DevEther()))
			}
			chain, err := ledger.StartDevChain(opts...)
			if err != nil {
				if errors.Is(err, ledger.ErrInvalidArgument) {
					return usagef("%v", err)
				}
				return err
			}
			defer chain.Close()
			fmt.Fprintf(g.stdout, "dev chain %d serving JSON-RPC at %s (WebSocket %s)\n", ledger.DevChainID, chain.URL(), chain.WSURL())
			if deploy {
				lf.rpc = chain.URL()
				if err := runDeploy(ctx, g, lf, ledger.DefaultDeployParams()); err != nil {
					return err
				}
			}
			<-ctx.Done()
			fmt.Fprintln(g.stdout, "dev chain stopped")
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", ledger.DefaultDevListen, "JSON-RPC listen address (loopback only; port 0 picks a free one)")
	cmd.Flags().StringSliceVar(&fund, "fund", nil, "addresses to fund with dev ether (repeatable)")
	cmd.Flags().BoolVar(&deploy, "deploy", false, "deploy the ledger contracts from the data directory's key")
	return cmd
}

func runDeploy(ctx context.Context, g *globals, lf *ledgerFlags, p ledger.DeployParams) error {
	s, err := lf.open(ctx, g, false)
	if err != nil {
		return err
	}
	defer s.close()
	dep, err := s.c.Deploy(ctx, p)
	if err != nil {
		return err
	}
	path, err := lf.deploymentPath(g)
	if err != nil {
		return err
	}
	if err := ledger.SaveDeployment(path, dep); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "deployed on chain %d at block %d\ntoken    %s\nregistry %s\npools    %s\ndomain   %d\ndeployment file %s\n",
		dep.ChainID, dep.Block, dep.Token.Hex(), dep.Registry.Hex(), dep.Pools.Hex(), dep.DomainID, path)
	return nil
}

func newLedgerDeployCmd(g *globals, lf *ledgerFlags) *cobra.Command {
	p := ledger.DefaultDeployParams()
	var minStake, mint string
	var validators []string
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Deploy the ledger contracts and write the deployment file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if p.MinStakePerNode, err = parseTokens(minStake); err != nil {
				return err
			}
			if p.Mint, err = parseTokens(mint); err != nil {
				return err
			}
			for _, v := range validators {
				a, err := parseAddress(v)
				if err != nil {
					return err
				}
				p.Validators = append(p.Validators, a)
			}
			if p.UnbondingPeriod < 0 || p.ValidationWindow < 0 {
				return usagef("--unbonding and --validation-window must not be negative")
			}
			return runDeploy(cmd.Context(), g, lf, p)
		},
	}
	f := cmd.Flags()
	f.StringVar(&minStake, "min-stake", "100", "minimum stake per node, in tokens")
	f.DurationVar(&p.UnbondingPeriod, "unbonding", p.UnbondingPeriod, "unbonding period of unstaked tokens")
	f.DurationVar(&p.ValidationWindow, "validation-window", p.ValidationWindow, "how long after submission work can be invalidated")
	f.StringVar(&mint, "mint", "1000000", "dev tokens to mint to the deployer")
	f.StringSliceVar(&validators, "validator", nil, "extra validator addresses (the deployer always is one)")
	f.StringVar(&p.DomainName, "domain", p.DomainName, "name of the first domain")
	return cmd
}

// ----- providers and stake -----

func withSession(g *globals, lf *ledgerFlags, fn func(ctx context.Context, c *ledger.Client) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		s, err := lf.open(cmd.Context(), g, true)
		if err != nil {
			return err
		}
		defer s.close()
		return fn(cmd.Context(), s.c)
	}
}

func newLedgerRegisterCmd(g *globals, lf *ledgerFlags) *cobra.Command {
	var units uint32
	var hardware string
	cmd := &cobra.Command{
		Use:   "register",
		Short: "Register this account as a provider and as one of its nodes",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = withSession(g, lf, func(ctx context.Context, c *ledger.Client) error {
		if err := c.Register(ctx, units, hardware); err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "registered provider and node %s (%d compute units, %q)\n", c.Address().Hex(), units, hardware)
		return nil
	})
	cmd.Flags().Uint32Var(&units, "compute-units", 1, "H100-equivalents this node claims")
	cmd.Flags().StringVar(&hardware, "hardware", "", "hardware claim, e.g. \"1x H100 80GB\"")
	return cmd
}

func newLedgerStakeCmd(g *globals, lf *ledgerFlags) *cobra.Command {
	var units uint32
	var hardware string
	cmd := &cobra.Command{
		Use:   "stake <tokens>",
		Short: "Stake tokens (registering this account as provider and node if needed)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			amount, err := parseTokens(args[0])
			if err != nil {
				return err
			}
			return withSession(g, lf, func(ctx context.Context, c *ledger.Client) error {
				if err := c.Register(ctx, units, hardware); err != nil {
					return err
				}
				if _, err := c.Stake(ctx, amount); err != nil {
					return err
				}
				info, err := c.Provider(ctx, c.Address())
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "staked %s; total stake %s\n", formatTokens(amount), formatTokens(info.Staked))
				return nil
			})(cmd, args)
		},
	}
	cmd.Flags().Uint32Var(&units, "compute-units", 1, "H100-equivalents this node claims (on first registration)")
	cmd.Flags().StringVar(&hardware, "hardware", "", "hardware claim (on first registration)")
	return cmd
}

func newLedgerUnstakeCmd(g *globals, lf *ledgerFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "unstake <tokens>",
		Short: "Start unbonding tokens; withdraw them after the unbonding period",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			amount, err := parseTokens(args[0])
			if err != nil {
				return err
			}
			return withSession(g, lf, func(ctx context.Context, c *ledger.Client) error {
				if _, err := c.Unstake(ctx, amount); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "unbonding %s\n", formatTokens(amount))
				return nil
			})(cmd, args)
		},
	}
}

func newLedgerWithdrawCmd(g *globals, lf *ledgerFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "withdraw",
		Short: "Withdraw unstaked tokens whose unbonding period is over",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = withSession(g, lf, func(ctx context.Context, c *ledger.Client) error {
		amount, _, err := c.Withdraw(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "withdrew %s\n", formatTokens(amount))
		return nil
	})
	return cmd
}

func newLedgerMintCmd(g *globals, lf *ledgerFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "mint <address> <tokens>",
		Short: "Mint dev stake tokens to an address (deployer only)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			to, err := parseAddress(args[0])
			if err != nil {
				return err
			}
			amount, err := parseTokens(args[1])
			if err != nil {
				return err
			}
			return withSession(g, lf, func(ctx context.Context, c *ledger.Client) error {
				if err := c.Mint(ctx, to, amount); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "minted %s to %s\n", formatTokens(amount), to.Hex())
				return nil
			})(cmd, args)
		},
	}
}

func newLedgerFundCmd(g *globals, lf *ledgerFlags) *cobra.Command {
	var ether, tokens string
	cmd := &cobra.Command{
		Use:   "fund <address>",
		Short: "Send ether for gas and dev stake tokens from this account to another (dev chains)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			to, err := parseAddress(args[0])
			if err != nil {
				return err
			}
			eth, err := parseTokens(ether) // ether has 18 decimals too
			if err != nil {
				return err
			}
			tok, err := parseTokens(tokens)
			if err != nil {
				return err
			}
			return withSession(g, lf, func(ctx context.Context, c *ledger.Client) error {
				if eth.Sign() > 0 {
					if _, err := c.SendEther(ctx, to, eth); err != nil {
						return err
					}
				}
				if tok.Sign() > 0 {
					if err := c.Transfer(ctx, to, tok); err != nil {
						return err
					}
				}
				fmt.Fprintf(g.stdout, "sent %s ether and %s tokens to %s\n", formatTokens(eth), formatTokens(tok), to.Hex())
				return nil
			})(cmd, args)
		},
	}
	cmd.Flags().StringVar(&ether, "ether", "10", "ether to send for gas")
	cmd.Flags().StringVar(&tokens, "tokens", "0", "stake tokens to transfer")
	return cmd
}

// ----- pools -----

func newLedgerPoolCreateCmd(g *globals, lf *ledgerFlags) *cobra.Command {
	var metadata, rate, fund string
	var domain uint64
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a compute pool owned by this account",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if metadata == "" {
				return usagef("--metadata is required (the CID of the pool's metadata)")
			}
			r, ok := new(big.Int).SetString(rate, 10)
			if !ok || r.Sign() < 0 {
				return usagef("bad --reward-rate %q: want token wei per node-second", rate)
			}
			funds, err := parseTokens(fund)
			if err != nil {
				return err
			}
			return withSession(g, lf, func(ctx context.Context, c *ledger.Client) error {
				d := domain
				if d == 0 {
					d = c.Deployment().DomainID
				}
				id, err := c.CreatePool(ctx, d, metadata, r)
				if err != nil {
					return err
				}
				if funds.Sign() > 0 {
					if err := c.FundPool(ctx, id, funds); err != nil {
						return fmt.Errorf("pool %d created but not funded: %w", id, err)
					}
				}
				fmt.Fprintf(g.stdout, "pool %d\n", id)
				return nil
			})(cmd, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&metadata, "metadata", "", "CID of the pool's metadata (model, data, hyper-parameters)")
	f.StringVar(&rate, "reward-rate", "0", "reward in token wei per node-second of active time")
	f.StringVar(&fund, "fund", "0", "tokens to deposit as the pool's reward budget")
	f.Uint64Var(&domain, "domain", 0, "domain ID (default: the deployment's first domain)")
	return cmd
}

func newLedgerPoolInviteCmd(g *globals, lf *ledgerFlags) *cobra.Command {
	var nonce uint64
	var ttl time.Duration
	var out string
	cmd := &cobra.Command{
		Use:   "invite <pool> <node-address>",
		Short: "Sign an EIP-712 invite for a node to join your pool (prints JSON)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parsePoolID(args[0])
			if err != nil {
				return err
			}
			node, err := parseAddress(args[1])
			if err != nil {
				return err
			}
			if ttl <= 0 {
				return usagef("--ttl must be positive")
			}
			return withSession(g, lf, func(ctx context.Context, c *ledger.Client) error {
				n := nonce
				if n == 0 {
					n = uint64(time.Now().UnixNano())
				}
				inv, err := c.Invite(ctx, id, node, n, ttl)
				if err != nil {
					return err
				}
				b, err := json.MarshalIndent(inv, "", "  ")
				if err != nil {
					return err
				}
				if out != "" {
					if err := os.WriteFile(out, append(b, '\n'), 0o600); err != nil {
						return err
					}
					fmt.Fprintf(g.stdout, "invite for %s to pool %d written to %s\n", node.Hex(), id, out)
					return nil
				}
				fmt.Fprintln(g.stdout, string(b))
				return nil
			})(cmd, args)
		},
	}
	cmd.Flags().Uint64Var(&nonce, "nonce", 0, "invite nonce (default: unique from the clock)")
	cmd.Flags().DurationVar(&ttl, "ttl", 1000*time.Second, "how long the invite is valid (chain time)")
	cmd.Flags().StringVarP(&out, "out", "o", "", "write the invite to this file instead of stdout")
	return cmd
}

func newLedgerPoolJoinCmd(g *globals, lf *ledgerFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "join <invite-file|->",
		Short: "Join a pool with an invite from its owner",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var b []byte
			var err error
			if args[0] == "-" {
				b, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<16))
			} else {
				b, err = os.ReadFile(args[0])
			}
			if err != nil {
				return usagef("read invite: %v", err)
			}
			inv, err := ledger.ParseInvite(b)
			if err != nil {
				return usagef("%v", err)
			}
			return withSession(g, lf, func(ctx context.Context, c *ledger.Client) error {
				if inv.Contract != c.Deployment().Pools || inv.ChainID != c.ChainID().Uint64() {
					return usagef("invite is for contract %s on chain %d, not this deployment (%s on chain %s)", inv.Contract.Hex(), inv.ChainID, c.Deployment().Pools.Hex(), c.ChainID())
				}
				if _, err := c.JoinPool(ctx, inv); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "joined pool %d as %s\n", inv.PoolID, c.Address().Hex())
				return nil
			})(cmd, args)
		},
	}
}

func newLedgerPoolLeaveCmd(g *globals, lf *ledgerFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "leave <pool>",
		Short: "Leave a pool (ends this node's active interval)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parsePoolID(args[0])
			if err != nil {
				return err
			}
			return withSession(g, lf, func(ctx context.Context, c *ledger.Client) error {
				if _, err := c.LeavePool(ctx, id); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "left pool %d\n", id)
				return nil
			})(cmd, args)
		},
	}
}

// ----- work -----

func parseHash(what, s string) (common.Hash, error) {
	b, err := hexutil.Decode(s)
	if err != nil || len(b) != 32 {
		return common.Hash{}, usagef("bad %s %q: want 0x and 64 hex digits", what, s)
	}
	return common.BytesToHash(b), nil
}

func newLedgerWorkSubmitCmd(g *globals, lf *ledgerFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "submit <pool> <work-hash> <proof-hash>",
		Short: "Record a work submission: the hash of the work and of its TOPLOC proof",
		Args:  cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parsePoolID(args[0])
			if err != nil {
				return err
			}
			wh, err := parseHash("work hash", args[1])
			if err != nil {
				return err
			}
			ph, err := parseHash("proof hash", args[2])
			if err != nil {
				return err
			}
			return withSession(g, lf, func(ctx context.Context, c *ledger.Client) error {
				r, err := c.SubmitWork(ctx, id, wh, ph)
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "submitted work %s to pool %d in block %s\n", wh.Hex(), id, r.BlockNumber)
				return nil
			})(cmd, args)
		},
	}
}

func newLedgerWorkInvalidateCmd(g *globals, lf *ledgerFlags) *cobra.Command {
	var slash string
	cmd := &cobra.Command{
		Use:   "invalidate <pool> <work-hash>",
		Short: "Invalidate a submission within its validation window and slash (validators only)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parsePoolID(args[0])
			if err != nil {
				return err
			}
			wh, err := parseHash("work hash", args[1])
			if err != nil {
				return err
			}
			amount, err := parseTokens(slash)
			if err != nil {
				return err
			}
			return withSession(g, lf, func(ctx context.Context, c *ledger.Client) error {
				if _, err := c.InvalidateWork(ctx, id, wh, amount); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "invalidated work %s in pool %d, slashed %s\n", wh.Hex(), id, formatTokens(amount))
				return nil
			})(cmd, args)
		},
	}
	cmd.Flags().StringVar(&slash, "slash", "0", "tokens to slash from the node's provider (paid to you)")
	return cmd
}

// ----- rewards -----

func newLedgerRewardsCmd(g *globals, lf *ledgerFlags) *cobra.Command {
	var nodeFlag string
	cmd := &cobra.Command{
		Use:   "rewards <pool>",
		Short: "Show a node's active time and claimable rewards in a pool",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parsePoolID(args[0])
			if err != nil {
				return err
			}
			return withSession(g, lf, func(ctx context.Context, c *ledger.Client) error {
				node := c.Address()
				if nodeFlag != "" {
					if node, err = parseAddress(nodeFlag); err != nil {
						return err
					}
				}
				m, err := c.Member(ctx, id, node)
				if err != nil {
					return err
				}
				pending, err := c.PendingRewards(ctx, id, node)
				if err != nil {
					return err
				}
				state := "not in pool"
				if m.JoinedAt != 0 {
					state = "active since " + time.Unix(int64(m.JoinedAt), 0).UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(g.stdout, "pool %d node %s: %s, %ds in closed intervals, %ds claimed, claimable %s\n",
					id, node.Hex(), state, m.ActiveSeconds, m.ClaimedSeconds, formatTokens(pending))
				return nil
			})(cmd, args)
		},
	}
	cmd.Flags().StringVar(&nodeFlag, "node", "", "node address (default: this account)")
	return cmd
}

func newLedgerClaimCmd(g *globals, lf *ledgerFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "claim <pool>",
		Short: "Claim this node's rewards from a pool",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parsePoolID(args[0])
			if err != nil {
				return err
			}
			return withSession(g, lf, func(ctx context.Context, c *ledger.Client) error {
				amount, _, err := c.Claim(ctx, id)
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "claimed %s from pool %d\n", formatTokens(amount), id)
				return nil
			})(cmd, args)
		},
	}
}

func newLedgerStatusCmd(g *globals, lf *ledgerFlags) *cobra.Command {
	var pool uint64
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show this account's balances, stake and (with --pool) pool membership",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = withSession(g, lf, func(ctx context.Context, c *ledger.Client) error {
		home, _ := g.dataDir()
		dep := c.Deployment()
		token, err := c.TokenBalance(ctx, c.Address())
		if err != nil {
			return err
		}
		info, err := c.Provider(ctx, c.Address())
		if err != nil {
			return err
		}
		staked, err := c.IsNodeStaked(ctx, c.Address())
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "account\t%s\n", c.Address().Hex())
		fmt.Fprintf(tw, "keystore\t%s\n", ledger.KeystoreDir(home))
		fmt.Fprintf(tw, "chain\t%s via %s\n", c.ChainID(), lf.rpc)
		fmt.Fprintf(tw, "pools contract\t%s\n", dep.Pools.Hex())
		fmt.Fprintf(tw, "tokens\t%s\n", formatTokens(token))
		fmt.Fprintf(tw, "provider\tregistered=%v nodes=%d\n", info.Registered, info.Nodes)
		fmt.Fprintf(tw, "stake\t%s staked, %s unbonding, %s withdrawable\n", formatTokens(info.Staked), formatTokens(info.Unbonding), formatTokens(info.Withdrawable))
		fmt.Fprintf(tw, "may join pools\t%v\n", staked)
		if pool != 0 {
			p, err := c.Pool(ctx, pool)
			if err != nil {
				return err
			}
			m, err := c.Member(ctx, pool, c.Address())
			if err != nil {
				return err
			}
			fmt.Fprintf(tw, "pool %d\towner %s, %d active nodes, metadata %s, funds %s, rate %s wei/s\n", pool, p.Owner.Hex(), p.ActiveNodes, p.MetadataCID, formatTokens(p.Funds), p.RewardRate)
			fmt.Fprintf(tw, "membership\tjoinedAt=%d activeSeconds=%d claimedSeconds=%d\n", m.JoinedAt, m.ActiveSeconds, m.ClaimedSeconds)
		}
		return tw.Flush()
	})
	cmd.Flags().Uint64Var(&pool, "pool", 0, "also show this pool and this node's membership")
	return cmd
}
