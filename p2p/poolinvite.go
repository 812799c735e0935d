package p2p

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// A pool invite is the owner's signed permission for one peer to join an
// invite-only pool until an expiry time. Members carry it in their
// heartbeats, so every member can check every other without asking anyone.
//
// Wire format (version 1):
//
//	version   byte (1)
//	pool      string  (the self-certifying pool ID)
//	invitee   bytes   (peer ID)
//	expiry    uvarint (unix seconds)
//	signature bytes   (owner Ed25519 over "openpool/invite/v1\x00" || all bytes above)
const (
	inviteVersion  = 1
	inviteSigLabel = "openpool/invite/v1\x00"
	// MaxInviteSize bounds an encoded invite.
	MaxInviteSize = 256
)

// Invite errors; a joining node shows them to its user.
var (
	ErrNoInvite         = errors.New("pool is invite-only and no invite was given")
	ErrBadInvite        = errors.New("invalid pool invite")
	ErrInviteExpired    = errors.New("pool invite expired")
	ErrInviteWrongPeer  = errors.New("pool invite is for another peer")
	ErrInviteWrongPool  = errors.New("pool invite is for another pool")
	ErrInviteWrongOwner = errors.New("pool invite is not signed by the pool owner")
)

// PoolInvite admits Invitee to Pool until Expiry.
type PoolInvite struct {
	Pool      string
	Invitee   peer.ID
	Expiry    time.Time // second precision
	Signature []byte
}

func (inv *PoolInvite) unsigned() ([]byte, error) {
	if _, ok := SplitPoolID(inv.Pool); !ok {
		return nil, fmt.Errorf("%w: pool %q is not a self-certifying pool ID", ErrBadInvite, inv.Pool)
	}
	pid := []byte(inv.Invitee)
	if len(pid) == 0 || len(pid) > maxPeerIDLen {
		return nil, fmt.Errorf("%w: invitee peer ID", ErrBadInvite)
	}
	b := make([]byte, 0, 192)
	b = append(b, inviteVersion)
	b = appendBytes(b, []byte(inv.Pool))
	b = appendBytes(b, pid)
	b = binary.AppendUvarint(b, uint64(max(inv.Expiry.Unix(), 0)))
	return b, nil
}

// NewPoolInvite signs an invite with the pool owner's key.
func NewPoolInvite(owner crypto.PrivKey, pool string, invitee peer.ID, expiry time.Time) (*PoolInvite, error) {
	if err := CheckOwner(pool, owner.GetPublic()); err != nil {
		return nil, fmt.Errorf("invite: %w", err)
	}
	inv := &PoolInvite{Pool: pool, Invitee: invitee, Expiry: expiry.Truncate(time.Second)}
	u, err := inv.unsigned()
	if err != nil {
		return nil, err
	}
	inv.Signature, err = owner.Sign(append([]byte(inviteSigLabel), u...))
	if err != nil {
		return nil, fmt.Errorf("invite: sign: %w", err)
	}
	return inv, nil
}

// MarshalBinary encodes a signed invite.
func (inv *PoolInvite) MarshalBinary() ([]byte, error) {
	u, err := inv.unsigned()
	if err != nil {
		return nil, err
	}
	if len(inv.Signature) == 0 || len(inv.Signature) > maxSignatureLen {
		return nil, fmt.Errorf("%w: not signed", ErrBadInvite)
	}
	b := appendBytes(u, inv.Signature)
	if len(b) > MaxInviteSize {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrBadInvite, len(b), MaxInviteSize)
	}
	return b, nil
}

// DecodePoolInvite decodes an invite without checking its signature (that
// needs the pool's owner key: see Verify).
func DecodePoolInvite(data []byte) (*PoolInvite, error) {
	if len(data) > MaxInviteSize {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrBadInvite, len(data), MaxInviteSize)
	}
	r := newWireReader(data)
	if v := r.U8(); r.Err == nil && v != inviteVersion {
		return nil, fmt.Errorf("%w: unsupported version %d", ErrBadInvite, v)
	}
	pool := r.Bytes(maxPoolIDLen)
	pid := r.Bytes(maxPeerIDLen)
	exp := r.UvarintMax(1 << 40)
	sig := r.Bytes(maxSignatureLen)
	if r.Err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInvite, r.Err)
	}
	if len(r.B) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadInvite, len(r.B))
	}
	if len(sig) == 0 {
		return nil, fmt.Errorf("%w: not signed", ErrBadInvite)
	}
	id, err := peer.IDFromBytes(pid)
	if err != nil {
		return nil, fmt.Errorf("%w: invitee: %v", ErrBadInvite, err)
	}
	inv := &PoolInvite{Pool: string(pool), Invitee: id, Expiry: time.Unix(int64(exp), 0), Signature: bytes.Clone(sig)}
	if _, ok := SplitPoolID(inv.Pool); !ok {
		return nil, fmt.Errorf("%w: pool %q", ErrBadInvite, inv.Pool)
	}
	return inv, nil
}

// Verify checks that the invite admits who to pool, signed by owner, at now.
func (inv *PoolInvite) Verify(owner crypto.PubKey, pool string, who peer.ID, now time.Time) error {
	if inv.Pool != pool {
		return fmt.Errorf("%w: invite names %s", ErrInviteWrongPool, inv.Pool)
	}
	if inv.Invitee != who {
		return fmt.Errorf("%w: invite names %s", ErrInviteWrongPeer, inv.Invitee)
	}
	u, err := inv.unsigned()
	if err != nil {
		return err
	}
	ok, err := owner.Verify(append([]byte(inviteSigLabel), u...), inv.Signature)
	if err != nil || !ok {
		return ErrInviteWrongOwner
	}
	if !now.Before(inv.Expiry) {
		return fmt.Errorf("%w at %s", ErrInviteExpired, inv.Expiry.UTC().Format(time.RFC3339))
	}
	return nil
}

// VerifyInviteBytes decodes and verifies an invite in one step. An empty
// token gives ErrNoInvite.
func VerifyInviteBytes(token []byte, owner crypto.PubKey, pool string, who peer.ID, now time.Time) error {
	if len(token) == 0 {
		return ErrNoInvite
	}
	inv, err := DecodePoolInvite(token)
	if err != nil {
		return err
	}
	return inv.Verify(owner, pool, who, now)
}
