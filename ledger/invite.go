package ledger

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
)

// EIP-712 names; they must match ComputePools' EIP712("openpool", "1") and
// INVITE_TYPEHASH.
const (
	eip712Name    = "openpool"
	eip712Version = "1"
)

var (
	eip712DomainTypeHash = crypto.Keccak256Hash([]byte("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"))
	inviteTypeHash       = crypto.Keccak256Hash([]byte("Invite(uint256 domainId,uint256 poolId,address node,uint256 nonce,uint256 expiry)"))
)

// Invite is a pool owner's signed permission for one node to join a pool
// once (per nonce) before Expiry (unix seconds, chain time).
type Invite struct {
	ChainID   uint64         `json:"chainId"`
	Contract  common.Address `json:"contract"`
	DomainID  uint64         `json:"domainId"`
	PoolID    uint64         `json:"poolId"`
	Node      common.Address `json:"node"`
	Nonce     uint64         `json:"nonce"`
	Expiry    uint64         `json:"expiry"`
	Signature hexutil.Bytes  `json:"signature"`
}

func word(v uint64) []byte { return common.LeftPadBytes(new(big.Int).SetUint64(v).Bytes(), 32) }

// Digest is the EIP-712 hash the pool owner signs.
func (inv Invite) Digest() common.Hash {
	domainSep := crypto.Keccak256(
		eip712DomainTypeHash[:],
		crypto.Keccak256([]byte(eip712Name)),
		crypto.Keccak256([]byte(eip712Version)),
		word(inv.ChainID),
		common.LeftPadBytes(inv.Contract[:], 32),
	)
	structHash := crypto.Keccak256(
		inviteTypeHash[:],
		word(inv.DomainID),
		word(inv.PoolID),
		common.LeftPadBytes(inv.Node[:], 32),
		word(inv.Nonce),
		word(inv.Expiry),
	)
	return crypto.Keccak256Hash([]byte{0x19, 0x01}, domainSep, structHash)
}

// Sign signs the invite with the pool owner's key.
func (inv *Invite) Sign(key *ecdsa.PrivateKey) error {
	d := inv.Digest()
	sig, err := crypto.Sign(d[:], key)
	if err != nil {
		return fmt.Errorf("ledger: sign invite: %w", err)
	}
	sig[64] += 27 // Ethereum's v
	inv.Signature = sig
	return nil
}

// Signer recovers the address that signed the invite.
func (inv Invite) Signer() (common.Address, error) {
	if len(inv.Signature) != 65 {
		return common.Address{}, fmt.Errorf("ledger: invite signature is %d bytes, want 65: %w", len(inv.Signature), ErrInvalidInvite)
	}
	sig := make([]byte, 65)
	copy(sig, inv.Signature)
	if sig[64] >= 27 {
		sig[64] -= 27
	}
	d := inv.Digest()
	pub, err := crypto.SigToPub(d[:], sig)
	if err != nil {
		return common.Address{}, fmt.Errorf("ledger: invite signature: %v: %w", err, ErrInvalidInvite)
	}
	return crypto.PubkeyToAddress(*pub), nil
}

// ParseInvite decodes an invite from its JSON form and checks its shape.
func ParseInvite(b []byte) (Invite, error) {
	var inv Invite
	if err := json.Unmarshal(b, &inv); err != nil {
		return inv, fmt.Errorf("ledger: parse invite: %v: %w", err, ErrInvalidInvite)
	}
	if inv.PoolID == 0 || inv.Node == (common.Address{}) || inv.Contract == (common.Address{}) || len(inv.Signature) != 65 {
		return inv, fmt.Errorf("ledger: parse invite: missing pool, node, contract or 65-byte signature: %w", ErrInvalidInvite)
	}
	return inv, nil
}

// InviteDigestOnChain asks the pools contract for the digest of inv, to
// check an invite signed elsewhere.
func InviteDigestOnChain(ctx context.Context, c *Client, inv Invite) (common.Hash, error) {
	d, err := call(ctx, c, "invite digest", c.pools, c.poolsABI.PackInviteDigest(u64(inv.DomainID), u64(inv.PoolID), inv.Node, u64(inv.Nonce), u64(inv.Expiry)), c.poolsABI.UnpackInviteDigest)
	return common.Hash(d), err
}
