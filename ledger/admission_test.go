package ledger_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/openpool/openpool/ledger"
)

func peerID(t testing.TB) peer.ID {
	t.Helper()
	k, _, err := lcrypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := peer.IDFromPrivateKey(k)
	return id
}

// TestAdmissionTokenIsTheContractsInvite: the invite the pool contract
// accepts, bound to a peer ID, admits that peer off chain and nobody else;
// the same invite then joins the pool on chain.
func TestAdmissionTokenIsTheContractsInvite(t *testing.T) {
	e := newEnv(t, testParams())
	owner := e.client(1, e.dep)
	poolID, err := owner.CreatePool(e.ctx, e.dep.DomainID, "bafyPool", ledger.Tokens(1))
	must(t, err)
	nodeClient := e.provider(2, e.params.MinStakePerNode)
	inv, err := owner.Invite(e.ctx, poolID, nodeClient.Address(), 1, time.Hour)
	must(t, err)

	me, other := peerID(t), peerID(t)
	tok, err := ledger.NewAdmissionToken(inv, e.keys[2], me)
	must(t, err)
	pool := ledger.AdmissionPool{ChainID: inv.ChainID, Contract: e.dep.Pools, DomainID: e.dep.DomainID, PoolID: poolID, Owner: owner.Address()}
	now := time.Now()
	must(t, ledger.VerifyAdmissionToken(tok, pool, me, now))

	if err := ledger.VerifyAdmissionToken(tok, pool, other, now); !errors.Is(err, ledger.ErrWrongBinding) {
		t.Errorf("token used by another peer: %v", err)
	}
	wrongPool := pool
	wrongPool.PoolID++
	if err := ledger.VerifyAdmissionToken(tok, wrongPool, me, now); !errors.Is(err, ledger.ErrBadAdmission) {
		t.Errorf("token for another pool: %v", err)
	}
	wrongOwner := pool
	wrongOwner.Owner = e.addr(4)
	if err := ledger.VerifyAdmissionToken(tok, wrongOwner, me, now); !errors.Is(err, ledger.ErrBadAdmission) {
		t.Errorf("invite not signed by the owner: %v", err)
	}
	if err := ledger.VerifyAdmissionToken(tok, pool, me, time.Unix(int64(inv.Expiry), 0)); !errors.Is(err, ledger.ErrInviteExpired) {
		t.Errorf("expired invite: %v", err)
	}
	if _, err := ledger.NewAdmissionToken(inv, e.keys[3], me); !errors.Is(err, ledger.ErrBadAdmission) {
		t.Errorf("binding with a key the invite does not name: %v", err)
	}
	// Flipping any byte breaks it.
	for _, i := range []int{1, 10, 40, 100, len(tok) - 70, len(tok) - 1} {
		bad := bytes.Clone(tok)
		bad[i] ^= 0x40
		if ledger.VerifyAdmissionToken(bad, pool, me, now) == nil {
			t.Errorf("token with byte %d flipped accepted", i)
		}
	}
	if ledger.VerifyAdmissionToken(tok[:len(tok)-1], pool, me, now) == nil {
		t.Error("truncated token accepted")
	}

	// The very invite in the token joins on chain.
	back, _, err := ledger.DecodeAdmissionToken(tok)
	must(t, err)
	if _, err := nodeClient.JoinPool(e.ctx, back); err != nil {
		t.Fatalf("contract refused the invite carried in the token: %v", err)
	}
}

func FuzzDecodeAdmissionToken(f *testing.F) {
	f.Add(make([]byte, 1+8+20+8+8+20+8+8+65+65))
	f.Add([]byte{ledger.AdmissionTag})
	f.Fuzz(func(t *testing.T, b []byte) {
		inv, binding, err := ledger.DecodeAdmissionToken(b)
		if err != nil {
			return
		}
		if len(inv.Signature) != 65 || len(binding) != 65 {
			t.Fatal("decoded token with wrong signature sizes")
		}
		_ = ledger.VerifyAdmissionToken(b, ledger.AdmissionPool{}, "", time.Now())
	})
}
