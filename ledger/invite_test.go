package ledger_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/openpool/openpool/ledger"
)

func TestInviteJSONRoundTrip(t *testing.T) {
	key := testKey(0)
	inv := ledger.Invite{ChainID: 1337, Contract: common.HexToAddress("0x1000000000000000000000000000000000000001"), DomainID: 1, PoolID: 2, Node: common.HexToAddress("0x2000000000000000000000000000000000000002"), Nonce: 3, Expiry: 4}
	if err := inv.Sign(key); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ledger.ParseInvite(b)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := got.Signer()
	if err != nil || signer != crypto.PubkeyToAddress(key.PublicKey) {
		t.Fatalf("signer %s, %v", signer, err)
	}
	// Changing any field changes the signer.
	got.Nonce++
	if s, _ := got.Signer(); s == signer {
		t.Fatal("signature still verifies after changing the nonce")
	}
}

func FuzzParseInvite(f *testing.F) {
	inv := ledger.Invite{ChainID: 1337, Contract: common.HexToAddress("0x1000000000000000000000000000000000000001"), DomainID: 1, PoolID: 2, Node: common.HexToAddress("0x2000000000000000000000000000000000000002"), Nonce: 3, Expiry: 4}
	_ = inv.Sign(testKey(0))
	good, _ := json.Marshal(inv)
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"poolId":1,"signature":"0x00"}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte) {
		inv, err := ledger.ParseInvite(b)
		if err != nil {
			if !errors.Is(err, ledger.ErrInvalidInvite) {
				t.Fatalf("error %v is not ErrInvalidInvite", err)
			}
			return
		}
		_, _ = inv.Signer() // must not panic
		_ = inv.Digest()
	})
}
