package ledger

import (
	"context"
	"fmt"
	"maps"
	"math/big"
	"net"
	"strconv"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/eth"
	"github.com/ethereum/go-ethereum/eth/catalyst"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/eth/filters"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/p2p"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"
)

// DevChainID is the chain ID of the embedded development chain (the same
// as geth --dev and the simulated backend).
const DevChainID = 1337

// DefaultDevListen is where `openpool ledger devchain` serves JSON-RPC.
const DefaultDevListen = "127.0.0.1:8545"

// DevChainConfig is the dev chain's fork set: every fork Ethereum mainnet
// has activated (through Osaka) from genesis, and none that mainnet has
// not, so gas used on the dev chain is what mainnet would charge.
// (go-ethereum's own dev config also enables the unreleased Bogota rules,
// which price new storage several times higher.)
func DevChainConfig() *params.ChainConfig {
	c := *params.AllDevChainProtocolChanges
	c.AmsterdamTime, c.BogotaTime = nil, nil
	return &c
}

// DevChain is an in-process Ethereum development chain, the same machinery
// as `geth --dev`: every fork active from genesis and a block sealed as soon
// as a transaction arrives. It serves JSON-RPC over HTTP and WebSocket on
// one loopback port so other local processes can use it.
type DevChain struct {
	stack *node.Node
	eth   *eth.Ethereum
	url   string
	ws    string
}

// DevChainOption configures StartDevChain.
type DevChainOption func(*devConfig) error

type devConfig struct {
	listen string
	alloc  types.GenesisAlloc
}

// WithDevListen sets the JSON-RPC listen address (default 127.0.0.1:0, a
// free port). Only loopback addresses are accepted.
func WithDevListen(addr string) DevChainOption {
	return func(c *devConfig) error {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("ledger: dev chain listen %q: %w", addr, err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("ledger: dev chain listen %q: only loopback addresses: %w", addr, ErrInvalidArgument)
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return fmt.Errorf("ledger: dev chain listen %q: bad port: %w", addr, ErrInvalidArgument)
		}
		c.listen = addr
		return nil
	}
}

// WithDevFunds gives account balance wei of ether at genesis.
func WithDevFunds(account common.Address, balance *big.Int) DevChainOption {
	return func(c *devConfig) error {
		c.alloc[account] = types.Account{Balance: new(big.Int).Set(balance)}
		return nil
	}
}

// DevEther is a generous genesis balance for dev accounts: 1e6 ether.
func DevEther() *big.Int { return Tokens(1_000_000) }

// StartDevChain starts an in-memory development chain. Close stops it.
func StartDevChain(opts ...DevChainOption) (*DevChain, error) {
	cfg := devConfig{listen: "127.0.0.1:0", alloc: types.GenesisAlloc{}}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	host, portStr, _ := net.SplitHostPort(cfg.listen)
	port, _ := strconv.Atoi(portStr)

	nodeConf := node.Config{
		Name:             "openpool-devchain",
		DataDir:          "", // in memory
		HTTPHost:         host,
		HTTPPort:         port,
		HTTPModules:      []string{"eth", "net", "web3", "dev"},
		WSHost:           host,
		WSPort:           port, // served on the HTTP port
		WSModules:        []string{"eth", "net", "web3"},
		WSOrigins:        []string{"*"},
		HTTPVirtualHosts: []string{"localhost", "127.0.0.1", "[::1]", "::1"},
		P2P:              p2p.Config{NoDiscovery: true, MaxPeers: 0, ListenAddr: ""},
	}
	stack, err := node.New(&nodeConf)
	if err != nil {
		return nil, fmt.Errorf("ledger: dev chain: %w", err)
	}
	alloc := core.SystemContractAllocs()
	maps.Copy(alloc, cfg.alloc)
	ethConf := ethconfig.Defaults
	ethConf.Genesis = &core.Genesis{
		Config:   DevChainConfig(),
		GasLimit: ethconfig.Defaults.Miner.GasCeil,
		Alloc:    alloc,
	}
	ethConf.SyncMode = ethconfig.FullSync
	backend, err := eth.New(stack, &ethConf)
	if err != nil {
		stack.Close()
		return nil, fmt.Errorf("ledger: dev chain: %w", err)
	}
	fs := filters.NewFilterSystem(backend.APIBackend, filters.Config{})
	stack.RegisterAPIs([]rpc.API{{Namespace: "eth", Service: filters.NewFilterAPI(fs)}})
	beacon, err := catalyst.NewSimulatedBeacon(0, common.Address{}, backend)
	if err != nil {
		stack.Close()
		return nil, fmt.Errorf("ledger: dev chain: %w", err)
	}
	// Period 0: the beacon API seals a block whenever a transaction arrives.
	catalyst.RegisterSimulatedBeaconAPIs(stack, beacon)
	stack.RegisterLifecycle(beacon)
	if err := stack.Start(); err != nil {
		stack.Close()
		return nil, fmt.Errorf("ledger: dev chain: start: %w", err)
	}
	return &DevChain{stack: stack, eth: backend, url: stack.HTTPEndpoint(), ws: stack.WSEndpoint()}, nil
}

// URL is the chain's HTTP JSON-RPC endpoint.
func (d *DevChain) URL() string { return d.url }

// WSURL is the chain's WebSocket endpoint (for event subscriptions).
func (d *DevChain) WSURL() string { return d.ws }

// Dial connects an ethclient to the chain over its WebSocket endpoint.
func (d *DevChain) Dial(ctx context.Context) (*ethclient.Client, error) {
	return ethclient.DialContext(ctx, d.ws)
}

// Close stops the chain and its RPC server.
func (d *DevChain) Close() error { return d.stack.Close() }
