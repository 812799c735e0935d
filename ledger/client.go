// Package ledger is openpool's Ethereum ledger: Solidity contracts for the
// compute registry, stake, domains, compute pools, work submissions and
// rewards (in contracts/), their generated Go bindings (in bindings/), a
// typed client over them, EIP-712 pool invites, keystore handling and an
// embedded development chain served over JSON-RPC.
package ledger

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/openpool/openpool/ledger/bindings"
)

// Backend is what the client needs from an Ethereum endpoint. Both
// *ethclient.Client and the simulated backend's client implement it.
type Backend interface {
	bind.ContractBackend
	bind.DeployBackend
	ChainID(ctx context.Context) (*big.Int, error)
	BalanceAt(ctx context.Context, account common.Address, blockNumber *big.Int) (*big.Int, error)
}

// Defaults of the client's options.
const (
	// DefaultRetries is how many times a send is retried after a transient
	// endpoint error or a stale nonce before giving up.
	DefaultRetries = 4
	// DefaultRetryDelay is the first backoff; it doubles on each retry.
	DefaultRetryDelay = 250 * time.Millisecond
	// DefaultReceiptTimeout bounds the wait for a transaction to be mined.
	DefaultReceiptTimeout = 2 * time.Minute
)

// Option configures a Client.
type Option func(*config) error

type config struct {
	logger         *slog.Logger
	chainID        *big.Int
	mine           func()
	retries        int
	retryDelay     time.Duration
	receiptTimeout time.Duration
}

// WithLogger sets the client's logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error { c.logger = l; return nil }
}

// WithChainID makes New fail with ErrChainIDMismatch unless the endpoint
// reports this chain ID; it guards against signing for the wrong chain.
func WithChainID(id uint64) Option {
	return func(c *config) error {
		if id == 0 {
			return fmt.Errorf("ledger: chain ID must not be 0: %w", ErrInvalidArgument)
		}
		c.chainID = new(big.Int).SetUint64(id)
		return nil
	}
}

// WithMiner sets a function called after each transaction is sent, for
// backends that produce blocks only on demand (go-ethereum's simulated
// backend: pass its Commit, serialised if several clients share it).
func WithMiner(mine func()) Option {
	return func(c *config) error { c.mine = mine; return nil }
}

// WithRetries sets how often a send is retried and the first backoff.
func WithRetries(n int, delay time.Duration) Option {
	return func(c *config) error {
		if n < 0 || delay < 0 {
			return fmt.Errorf("ledger: negative retries or delay: %w", ErrInvalidArgument)
		}
		c.retries, c.retryDelay = n, delay
		return nil
	}
}

// WithReceiptTimeout bounds the wait for each transaction to be mined.
func WithReceiptTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("ledger: receipt timeout must be positive: %w", ErrInvalidArgument)
		}
		c.receiptTimeout = d
		return nil
	}
}

// Client sends typed ledger transactions from one account. It is safe for
// concurrent use: sends are serialised so that nonces stay in order.
type Client struct {
	backend Backend
	key     *ecdsa.PrivateKey
	from    common.Address
	chainID *big.Int
	signer  types.Signer
	dep     Deployment
	cfg     config
	dec     *revertDecoder

	tokenABI    *bindings.DevStakeToken
	registryABI *bindings.ComputeRegistry
	poolsABI    *bindings.ComputePools
	token       *bind.BoundContract
	registry    *bind.BoundContract
	pools       *bind.BoundContract

	mu       sync.Mutex // serialises sends and guards nonce
	nonce    uint64
	nonceSet bool
}

// New returns a client for account key on backend. dep may be the zero
// Deployment when the client is only used to Deploy.
func New(ctx context.Context, backend Backend, key *ecdsa.PrivateKey, dep Deployment, opts ...Option) (*Client, error) {
	cfg := config{
		logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		retries:        DefaultRetries,
		retryDelay:     DefaultRetryDelay,
		receiptTimeout: DefaultReceiptTimeout,
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if key == nil {
		return nil, fmt.Errorf("ledger: no key: %w", ErrInvalidArgument)
	}
	id, err := backend.ChainID(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledger: read chain ID: %w", err)
	}
	if cfg.chainID != nil && cfg.chainID.Cmp(id) != 0 {
		return nil, fmt.Errorf("ledger: --chain-id %s but the endpoint is chain %s: %w", cfg.chainID, id, ErrChainIDMismatch)
	}
	if dep.ChainID != 0 && dep.ChainID != id.Uint64() {
		return nil, fmt.Errorf("ledger: deployment is for chain %d but the endpoint is chain %s: %w", dep.ChainID, id, ErrChainIDMismatch)
	}
	c := &Client{
		backend:     backend,
		key:         key,
		from:        crypto.PubkeyToAddress(key.PublicKey),
		chainID:     id,
		signer:      types.LatestSignerForChainID(id),
		cfg:         cfg,
		dec:         newRevertDecoder(),
		tokenABI:    bindings.NewDevStakeToken(),
		registryABI: bindings.NewComputeRegistry(),
		poolsABI:    bindings.NewComputePools(),
	}
	c.setDeployment(dep)
	return c, nil
}

func (c *Client) setDeployment(dep Deployment) {
	c.dep = dep
	c.token = c.tokenABI.Instance(c.backend, dep.Token)
	c.registry = c.registryABI.Instance(c.backend, dep.Registry)
	c.pools = c.poolsABI.Instance(c.backend, dep.Pools)
}

// Address is the account the client sends from.
func (c *Client) Address() common.Address { return c.from }

// ChainID is the endpoint's chain ID.
func (c *Client) ChainID() *big.Int { return new(big.Int).Set(c.chainID) }

// Deployment is the set of contracts the client talks to.
func (c *Client) Deployment() Deployment { return c.dep }

func (c *Client) requireDeployment() error {
	if c.dep.Pools == (common.Address{}) || c.dep.Registry == (common.Address{}) || c.dep.Token == (common.Address{}) {
		return fmt.Errorf("ledger: %w (run `openpool ledger deploy` or pass the deployment file)", ErrNoDeployment)
	}
	return nil
}

// transactOpts builds signing options for one send.
func (c *Client) transactOpts(ctx context.Context, nonce uint64) *bind.TransactOpts {
	return &bind.TransactOpts{
		From:  c.from,
		Nonce: new(big.Int).SetUint64(nonce),
		Signer: func(addr common.Address, tx *types.Transaction) (*types.Transaction, error) {
			if addr != c.from {
				return nil, bind.ErrNotAuthorized
			}
			return types.SignTx(tx, c.signer, c.key)
		},
		Context: ctx,
	}
}

// send signs and sends one transaction built by build, retrying transient
// endpoint errors and stale nonces, then waits for its receipt. A revert,
// whether found by gas estimation or in the mined receipt, comes back as a
// *RevertError.
func (c *Client) send(ctx context.Context, op string, build func(*bind.TransactOpts) (*types.Transaction, error)) (*types.Receipt, error) {
	tx, err := c.sendOnly(ctx, op, build)
	if err != nil {
		return nil, err
	}
	if c.cfg.mine != nil {
		c.cfg.mine()
	}
	return c.wait(ctx, op, tx)
}

func (c *Client) sendOnly(ctx context.Context, op string, build func(*bind.TransactOpts) (*types.Transaction, error)) (*types.Transaction, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delay := c.cfg.retryDelay
	var (
		lastErr error
		tx      *types.Transaction // signed, possibly already sent
		tried   bool               // tx was handed to the endpoint at least once
	)
	for attempt := 0; attempt <= c.cfg.retries; attempt++ {
		if attempt > 0 {
			c.cfg.logger.Debug("ledger: retrying send", "op", op, "attempt", attempt, "err", lastErr)
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("ledger: %s: %w (last error: %v)", op, ctx.Err(), lastErr)
			case <-time.After(delay):
			}
			delay *= 2
		}
		if tx == nil {
			if !c.nonceSet {
				n, err := c.backend.PendingNonceAt(ctx, c.from)
				if err != nil {
					lastErr = err
					if isTransient(err) {
						continue
					}
					return nil, fmt.Errorf("ledger: %s: read nonce: %w", op, err)
				}
				c.nonce, c.nonceSet = n, true
			}
			opts := c.transactOpts(ctx, c.nonce)
			opts.NoSend = true
			built, err := build(opts)
			if err != nil {
				if rerr := c.dec.asRevert(op, err); rerr != nil {
					return nil, rerr
				}
				lastErr = err
				if isTransient(err) {
					continue
				}
				return nil, fmt.Errorf("ledger: %s: %w", op, err)
			}
			tx, tried = built, false
		}
		err := c.backend.SendTransaction(ctx, tx)
		switch {
		case err == nil, isAlreadyKnown(err), tried && isNonceTooLow(err):
			// Sent now, or by an earlier attempt whose answer was lost.
			c.nonce = tx.Nonce() + 1
			c.cfg.logger.Debug("ledger: sent", "op", op, "tx", tx.Hash(), "nonce", tx.Nonce())
			return tx, nil
		case isNonceError(err):
			// Another sender used this account: resync and rebuild.
			c.nonceSet, tx = false, nil
		case isTransient(err):
			tried = true
		default:
			if rerr := c.dec.asRevert(op, err); rerr != nil {
				return nil, rerr
			}
			return nil, fmt.Errorf("ledger: %s: send: %w", op, err)
		}
		lastErr = err
	}
	c.nonceSet = false
	return nil, fmt.Errorf("ledger: %s: giving up after %d retries: %w", op, c.cfg.retries, lastErr)
}

// wait polls for the receipt of tx and decodes a failed execution.
func (c *Client) wait(ctx context.Context, op string, tx *types.Transaction) (*types.Receipt, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.receiptTimeout)
	defer cancel()
	poll := 5 * time.Millisecond
	for {
		r, err := c.backend.TransactionReceipt(ctx, tx.Hash())
		if err == nil {
			if r.Status == types.ReceiptStatusSuccessful {
				return r, nil
			}
			return r, c.explainFailure(ctx, op, tx, r)
		}
		if !errors.Is(err, ethereum.NotFound) && !isTransient(err) && !strings.Contains(err.Error(), "indexing is in progress") {
			return nil, fmt.Errorf("ledger: %s: receipt of %s: %w", op, tx.Hash(), err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("ledger: %s: tx %s: %w: %w", op, tx.Hash(), ErrTransactionNotMined, ctx.Err())
		case <-time.After(poll):
		}
		poll = min(2*poll, 500*time.Millisecond)
	}
}

// explainFailure replays a reverted transaction as a call on the parent
// block's state to recover its revert reason.
func (c *Client) explainFailure(ctx context.Context, op string, tx *types.Transaction, r *types.Receipt) error {
	msg := ethereum.CallMsg{From: c.from, To: tx.To(), Gas: tx.Gas(), Value: tx.Value(), Data: tx.Data()}
	parent := new(big.Int).Sub(r.BlockNumber, big.NewInt(1))
	_, err := c.backend.CallContract(ctx, msg, parent)
	if rerr := c.dec.asRevert(op, err); rerr != nil {
		return rerr
	}
	return &RevertError{Op: op, Name: "revert", Args: []string{"tx=" + tx.Hash().Hex()}, reason: ErrReverted}
}

// call runs a read-only contract call and decodes reverts.
func call[T any](ctx context.Context, c *Client, op string, bc *bind.BoundContract, data []byte, unpack func([]byte) (T, error)) (T, error) {
	v, err := bind.Call(bc, &bind.CallOpts{Context: ctx, From: c.from}, data, unpack)
	if err != nil {
		if rerr := c.dec.asRevert(op, err); rerr != nil {
			return v, rerr
		}
		return v, fmt.Errorf("ledger: %s: %w", op, err)
	}
	return v, nil
}

func isAlreadyKnown(err error) bool {
	return strings.Contains(strings.ToLower(err.Error()), "already known")
}

func isNonceTooLow(err error) bool {
	return strings.Contains(strings.ToLower(err.Error()), "nonce too low")
}

func isNonceError(err error) bool {
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"nonce too low", "nonce too high", "replacement transaction underpriced", "invalid nonce"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func isTransient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"connection refused", "connection reset", "502 bad gateway", "503 service unavailable", "504 gateway timeout", "429 too many requests", "eof"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
