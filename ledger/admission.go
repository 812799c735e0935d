package ledger

import (
	"crypto/ecdsa"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// A chain admission token lets a node into an invite-only pool with the
// same EIP-712 invite the ComputePools contract accepts. The invite names an
// Ethereum address, so the token also carries that address's signature over
// the node's libp2p peer ID (the binding): only the invited node can use it.
//
// Encoding (AdmissionTag first, integers big-endian uint64):
//
//	tag 0xC1 | chainId | contract[20] | domainId | poolId | node[20] | nonce | expiry | inviteSig[65] | bindingSig[65]
const (
	// AdmissionTag is the first byte of a chain admission token; p2p pool
	// invites start with their version byte (1) instead.
	AdmissionTag   = 0xC1
	admissionSize  = 1 + 8 + 20 + 8 + 8 + 20 + 8 + 8 + 65 + 65
	bindingLabel   = "openpool/peer-binding/v1\x00"
	maxBindingPeer = 64
)

// Admission errors (an expired invite gives ErrInviteExpired).
var (
	ErrBadAdmission = errors.New("ledger: invalid chain admission token")
	ErrWrongBinding = errors.New("ledger: admission token is bound to another peer")
)

// AdmissionPool is what a pool descriptor says about its on-chain pool:
// the token must match it.
type AdmissionPool struct {
	ChainID  uint64
	Contract common.Address
	DomainID uint64
	PoolID   uint64
	Owner    common.Address // the address that signs invites
}

func bindingDigest(id peer.ID) []byte {
	return crypto.Keccak256(append([]byte(bindingLabel), []byte(id)...))
}

// NewAdmissionToken binds inv (signed by the pool owner, naming the
// address of nodeKey) to the node's peer ID.
func NewAdmissionToken(inv Invite, nodeKey *ecdsa.PrivateKey, id peer.ID) ([]byte, error) {
	if crypto.PubkeyToAddress(nodeKey.PublicKey) != inv.Node {
		return nil, fmt.Errorf("%w: the invite names %s, not this node's key", ErrBadAdmission, inv.Node)
	}
	if len(inv.Signature) != 65 {
		return nil, fmt.Errorf("%w: invite is not signed", ErrBadAdmission)
	}
	if len(id) == 0 || len(id) > maxBindingPeer {
		return nil, fmt.Errorf("%w: peer ID", ErrBadAdmission)
	}
	binding, err := crypto.Sign(bindingDigest(id), nodeKey)
	if err != nil {
		return nil, fmt.Errorf("ledger: sign peer binding: %w", err)
	}
	b := make([]byte, 0, admissionSize)
	b = append(b, AdmissionTag)
	b = binary.BigEndian.AppendUint64(b, inv.ChainID)
	b = append(b, inv.Contract[:]...)
	b = binary.BigEndian.AppendUint64(b, inv.DomainID)
	b = binary.BigEndian.AppendUint64(b, inv.PoolID)
	b = append(b, inv.Node[:]...)
	b = binary.BigEndian.AppendUint64(b, inv.Nonce)
	b = binary.BigEndian.AppendUint64(b, inv.Expiry)
	b = append(b, inv.Signature...)
	return append(b, binding...), nil
}

// DecodeAdmissionToken splits a token into its invite and binding signature.
func DecodeAdmissionToken(b []byte) (Invite, []byte, error) {
	var inv Invite
	if len(b) != admissionSize || b[0] != AdmissionTag {
		return inv, nil, fmt.Errorf("%w: %d bytes", ErrBadAdmission, len(b))
	}
	r := b[1:]
	u64 := func() uint64 { v := binary.BigEndian.Uint64(r); r = r[8:]; return v }
	inv.ChainID = u64()
	copy(inv.Contract[:], r)
	r = r[20:]
	inv.DomainID = u64()
	inv.PoolID = u64()
	copy(inv.Node[:], r)
	r = r[20:]
	inv.Nonce = u64()
	inv.Expiry = u64()
	inv.Signature = append([]byte(nil), r[:65]...)
	return inv, append([]byte(nil), r[65:]...), nil
}

// VerifyAdmissionToken checks a chain admission token for peer who against
// the pool: the invite is for this chain, contract, domain and pool, signed
// by the pool owner, not expired at now, and bound to who by the invited
// address.
func VerifyAdmissionToken(b []byte, pool AdmissionPool, who peer.ID, now time.Time) error {
	inv, binding, err := DecodeAdmissionToken(b)
	if err != nil {
		return err
	}
	if inv.ChainID != pool.ChainID || inv.Contract != pool.Contract || inv.DomainID != pool.DomainID || inv.PoolID != pool.PoolID {
		return fmt.Errorf("%w: invite is for chain %d contract %s domain %d pool %d", ErrBadAdmission, inv.ChainID, inv.Contract, inv.DomainID, inv.PoolID)
	}
	signer, err := inv.Signer()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadAdmission, err)
	}
	if signer != pool.Owner {
		return fmt.Errorf("%w: invite signed by %s, not the pool owner %s", ErrBadAdmission, signer, pool.Owner)
	}
	if now.Unix() >= int64(inv.Expiry) {
		return fmt.Errorf("%w at %s", ErrInviteExpired, time.Unix(int64(inv.Expiry), 0).UTC().Format(time.RFC3339))
	}
	pub, err := crypto.SigToPub(bindingDigest(who), binding)
	if err != nil || crypto.PubkeyToAddress(*pub) != inv.Node {
		return fmt.Errorf("%w: %s", ErrWrongBinding, who)
	}
	return nil
}
