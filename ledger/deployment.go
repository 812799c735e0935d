package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/openpool/openpool/ledger/bindings"
)

// Deployment names the contracts of one ledger on one chain.
type Deployment struct {
	ChainID  uint64         `json:"chainId"`
	Token    common.Address `json:"token"`
	Registry common.Address `json:"registry"`
	Pools    common.Address `json:"pools"`
	// DomainID is the domain created at deploy time, the default for new pools.
	DomainID uint64 `json:"domainId"`
	// Block is the block the last contract was deployed in; event queries
	// start there.
	Block uint64 `json:"block"`
}

// DeploymentFile is where the CLI keeps the deployment under a data directory.
func DeploymentFile(dataDir string) string {
	return filepath.Join(dataDir, "ledger", "deployment.json")
}

// SaveDeployment writes d as JSON to path (creating its directory).
func SaveDeployment(path string, d Deployment) error {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return fmt.Errorf("ledger: encode deployment: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("ledger: save deployment: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("ledger: save deployment: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("ledger: save deployment: %w", err)
	}
	return nil
}

// LoadDeployment reads a deployment file written by SaveDeployment.
func LoadDeployment(path string) (Deployment, error) {
	var d Deployment
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return d, fmt.Errorf("ledger: %s: %w (run `openpool ledger deploy` first)", path, ErrNoDeployment)
	}
	if err != nil {
		return d, fmt.Errorf("ledger: load deployment: %w", err)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("ledger: load deployment %s: %w", path, err)
	}
	if d.Token == (common.Address{}) || d.Registry == (common.Address{}) || d.Pools == (common.Address{}) {
		return d, fmt.Errorf("ledger: deployment %s is missing contract addresses: %w", path, ErrNoDeployment)
	}
	return d, nil
}

// DeployParams are the parameters of a new ledger.
type DeployParams struct {
	// MinStakePerNode is the stake a provider needs per registered node.
	MinStakePerNode *big.Int
	// UnbondingPeriod is how long unstaked tokens stay slashable.
	UnbondingPeriod time.Duration
	// Mint is how many dev tokens the deployer mints to itself.
	Mint *big.Int
	// Validators may invalidate work and slash; the deployer is always one.
	Validators []common.Address
	// DomainName and ValidationWindow describe the first domain.
	DomainName       string
	ValidationWindow time.Duration
}

// DefaultDeployParams suits a development chain: 100 tokens per node,
// 7-day unbonding (as Prime Intellect's protocol), a 1-hour validation window.
func DefaultDeployParams() DeployParams {
	return DeployParams{
		MinStakePerNode:  Tokens(100),
		UnbondingPeriod:  7 * 24 * time.Hour,
		Mint:             Tokens(1_000_000),
		DomainName:       "default",
		ValidationWindow: time.Hour,
	}
}

// Tokens converts whole tokens (18 decimals) to wei.
func Tokens(n int64) *big.Int {
	return new(big.Int).Mul(big.NewInt(n), new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil))
}

// Deploy deploys the dev stake token, the registry and the pools contract
// from the client's account, wires them together, creates the first domain
// and returns the deployment (also installed in the client).
func (c *Client) Deploy(ctx context.Context, p DeployParams) (Deployment, error) {
	if p.MinStakePerNode == nil || p.MinStakePerNode.Sign() < 0 || p.UnbondingPeriod < 0 || p.ValidationWindow < 0 {
		return Deployment{}, fmt.Errorf("ledger: deploy: bad parameters: %w", ErrInvalidArgument)
	}
	deploy := func(op string, meta *bind.MetaData, input []byte) (common.Address, *types.Receipt, error) {
		bin := common.FromHex(meta.Bin)
		r, err := c.send(ctx, "deploy "+op, func(o *bind.TransactOpts) (*types.Transaction, error) {
			_, tx, err := bind.DeployContract(o, bin, c.backend, input)
			return tx, err
		})
		if err != nil {
			return common.Address{}, nil, err
		}
		return r.ContractAddress, r, nil
	}
	d := Deployment{ChainID: c.chainID.Uint64()}
	var err error
	if d.Token, _, err = deploy("token", &bindings.DevStakeTokenMetaData, c.tokenABI.PackConstructor(c.from)); err != nil {
		return d, err
	}
	regInput := c.registryABI.PackConstructor(d.Token, p.MinStakePerNode, uint64(p.UnbondingPeriod/time.Second), c.from)
	if d.Registry, _, err = deploy("registry", &bindings.ComputeRegistryMetaData, regInput); err != nil {
		return d, err
	}
	var r *types.Receipt
	if d.Pools, r, err = deploy("pools", &bindings.ComputePoolsMetaData, c.poolsABI.PackConstructor(d.Registry, c.from)); err != nil {
		return d, err
	}
	d.Block = r.BlockNumber.Uint64()
	c.setDeployment(d)
	if _, err := c.transact(ctx, "set slasher", c.registry, c.registryABI.PackSetSlasher(d.Pools, true)); err != nil {
		return d, err
	}
	for _, v := range append([]common.Address{c.from}, p.Validators...) {
		if err := c.SetValidator(ctx, v, true); err != nil {
			return d, err
		}
	}
	if p.Mint != nil && p.Mint.Sign() > 0 {
		if err := c.Mint(ctx, c.from, p.Mint); err != nil {
			return d, err
		}
	}
	name := p.DomainName
	if name == "" {
		name = "default"
	}
	if d.DomainID, err = c.CreateDomain(ctx, name, p.ValidationWindow); err != nil {
		return d, err
	}
	c.setDeployment(d)
	return d, nil
}
