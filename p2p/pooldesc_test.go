package p2p

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

func testKey(t testing.TB) crypto.PrivKey {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sampleDescriptor(t testing.TB, key crypto.PrivKey) *PoolDescriptor {
	t.Helper()
	id, err := DerivePoolID(key.GetPublic(), "toy-mlp")
	if err != nil {
		t.Fatal(err)
	}
	h, _ := mh.Sum([]byte("checkpoint"), mh.SHA2_256, -1)
	d := &PoolDescriptor{
		ID: id, Seq: 1, Updated: time.UnixMilli(1_700_000_000_123),
		Name: "Toy MLP", Description: "DiLoCo on synthetic data",
		Model: "mlp 32x64x2", ModelCID: cid.NewCidV1(cid.Raw, h), Data: "synthetic",
		Params:      PoolParams{InnerSteps: 50, OuterLR: 0.7, OuterMomentum: 0.9, Quantization: QuantInt8, ShardSize: 4 << 20},
		MinHardware: MinHardware{GPUMemoryMiB: 0, CPUCores: 1},
		Admission:   AdmitInvite, Checkpoint: cid.NewCidV1(cid.Raw, h), ChainID: 1337, ChainPoolID: 7,
	}
	if err := d.Sign(key); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestPoolIDSelfCertifying(t *testing.T) {
	a, b := testKey(t), testKey(t)
	id, err := DerivePoolID(a.GetPublic(), "llama-7b")
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidatePoolID(id); err != nil {
		t.Fatalf("derived ID %q is not a valid pool ID: %v", id, err)
	}
	if slug, ok := SplitPoolID(id); !ok || slug != "llama-7b" {
		t.Fatalf("SplitPoolID(%q) = %q, %v", id, slug, ok)
	}
	if err := CheckOwner(id, a.GetPublic()); err != nil {
		t.Fatal(err)
	}
	if err := CheckOwner(id, b.GetPublic()); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("other key: got %v, want ErrNotOwner", err)
	}
	if _, ok := SplitPoolID("demo"); ok {
		t.Fatal("plain name taken for a self-certifying ID")
	}
	for _, bad := range []string{"", "UPPER", strings.Repeat("a", 48), "-x", "a/b"} {
		if _, err := DerivePoolID(a.GetPublic(), bad); err == nil {
			t.Errorf("slug %q accepted", bad)
		}
	}
	long, err := DerivePoolID(a.GetPublic(), strings.Repeat("a", 47))
	if err != nil || len(long) != 64 {
		t.Fatalf("longest slug: %q %v", long, err)
	}
}

func TestPoolDescriptorRoundTrip(t *testing.T) {
	key := testKey(t)
	d := sampleDescriptor(t, key)
	raw, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodePoolDescriptor(raw)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := got.MarshalBinary()
	if !bytes.Equal(raw, again) {
		t.Fatal("round trip changed the encoding")
	}
	if got.ID != d.ID || got.Params != d.Params || got.MinHardware != d.MinHardware || !got.Checkpoint.Equals(d.Checkpoint) ||
		got.Admission != AdmitInvite || got.ChainPoolID != 7 || !got.Updated.Equal(d.Updated) || got.OwnerID() == "" {
		t.Fatalf("round trip lost fields: %+v", got)
	}
	if len(raw) > 600 {
		t.Errorf("descriptor is %d bytes; expected a few hundred", len(raw))
	}
}

func TestPoolDescriptorRejects(t *testing.T) {
	key, other := testKey(t), testKey(t)
	d := sampleDescriptor(t, key)
	raw, _ := d.MarshalBinary()

	// Signed by a key that does not own the ID.
	forged := *d
	forged.Seq = 2
	if err := forged.Sign(other); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("signing another owner's ID: got %v", err)
	}
	// Owner key swapped in the bytes: the ID no longer matches.
	swapped := *d
	swapped.Owner = other.GetPublic()
	// A signature over different content.
	tampered := bytes.Clone(raw)
	idx := bytes.Index(tampered, []byte("Toy MLP"))
	tampered[idx] = 'J'
	badSig := bytes.Clone(raw)
	badSig[len(badSig)-1] ^= 1

	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrBadDescriptor},
		{"truncated", raw[:len(raw)-10], ErrBadDescriptor},
		{"trailing", append(bytes.Clone(raw), 0), ErrBadDescriptor},
		{"oversize", make([]byte, MaxDescriptorSize+1), ErrBadDescriptor},
		{"version", append([]byte{9}, raw[1:]...), ErrBadDescriptor},
		{"tampered", tampered, ErrBadSignature},
		{"bad signature", badSig, ErrBadSignature},
	}
	for _, c := range cases {
		if _, err := DecodePoolDescriptor(c.data); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := swapped.unsigned(); !errors.Is(err, ErrNotOwner) {
		t.Errorf("swapped owner: got %v", err)
	}
	bad := *d
	bad.Params.OuterLR = math.NaN()
	if err := bad.Sign(key); !errors.Is(err, ErrBadDescriptor) {
		t.Errorf("NaN learning rate: got %v", err)
	}
	bad = *d
	bad.Params.InnerSteps = 0
	if err := bad.Sign(key); !errors.Is(err, ErrBadDescriptor) {
		t.Errorf("zero inner steps: got %v", err)
	}
	bad = *d
	bad.Description = strings.Repeat("x", maxPoolDescLen+1)
	if err := bad.Sign(key); !errors.Is(err, ErrBadDescriptor) {
		t.Errorf("long description: got %v", err)
	}
}

func TestPoolRecordValidatorSelect(t *testing.T) {
	key := testKey(t)
	d1 := sampleDescriptor(t, key)
	d2 := *d1
	d2.Seq, d2.Updated = 5, time.Time{}
	if err := d2.Sign(key); err != nil {
		t.Fatal(err)
	}
	r1, _ := d1.MarshalBinary()
	r2, _ := d2.MarshalBinary()
	v := PoolRecordValidator{}
	k := PoolRecordKey(d1.ID)
	if err := v.Validate(k, r1); err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(PoolRecordKey("other-aaaaaaaaaaaaaaaa"), r1); err == nil {
		t.Fatal("record accepted under another key")
	}
	if i, err := v.Select(k, [][]byte{r1, []byte("junk"), r2}); err != nil || i != 2 {
		t.Fatalf("Select = %d, %v; want 2 (highest seq)", i, err)
	}
	if _, err := v.Select(k, [][]byte{[]byte("junk")}); err == nil {
		t.Fatal("Select with no valid record succeeded")
	}
}

func TestPoolInvite(t *testing.T) {
	owner, stranger := testKey(t), testKey(t)
	id, _ := DerivePoolID(owner.GetPublic(), "closed")
	who, _ := peer.IDFromPrivateKey(testKey(t))
	other, _ := peer.IDFromPrivateKey(testKey(t))
	now := time.Now()
	inv, err := NewPoolInvite(owner, id, who, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := inv.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyInviteBytes(raw, owner.GetPublic(), id, who, now); err != nil {
		t.Fatalf("valid invite refused: %v", err)
	}
	if err := VerifyInviteBytes(nil, owner.GetPublic(), id, who, now); !errors.Is(err, ErrNoInvite) {
		t.Errorf("no invite: %v", err)
	}
	if err := VerifyInviteBytes(raw, owner.GetPublic(), id, other, now); !errors.Is(err, ErrInviteWrongPeer) {
		t.Errorf("other peer: %v", err)
	}
	if err := VerifyInviteBytes(raw, owner.GetPublic(), id, who, now.Add(2*time.Hour)); !errors.Is(err, ErrInviteExpired) {
		t.Errorf("expired: %v", err)
	}
	if err := VerifyInviteBytes(raw, stranger.GetPublic(), id, who, now); !errors.Is(err, ErrInviteWrongOwner) {
		t.Errorf("wrong owner key: %v", err)
	}
	sid, _ := DerivePoolID(stranger.GetPublic(), "closed")
	forged, err := NewPoolInvite(stranger, sid, who, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	forged.Pool = id // claims the owner's pool, signed by a stranger
	fraw, _ := forged.MarshalBinary()
	if err := VerifyInviteBytes(fraw, owner.GetPublic(), id, who, now); !errors.Is(err, ErrInviteWrongOwner) {
		t.Errorf("stranger's invite: %v", err)
	}
	if _, err := NewPoolInvite(stranger, id, who, now); !errors.Is(err, ErrNotOwner) {
		t.Errorf("stranger signing for the owner's pool: %v", err)
	}
	if err := VerifyInviteBytes(append(bytes.Clone(raw), 1), owner.GetPublic(), id, who, now); !errors.Is(err, ErrBadInvite) {
		t.Errorf("trailing byte: %v", err)
	}
}

func FuzzPoolDescriptorDecode(f *testing.F) {
	key := testKey(f)
	raw, _ := sampleDescriptor(f, key).MarshalBinary()
	f.Add(raw)
	f.Add([]byte{descriptorVersion})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := DecodePoolDescriptor(data)
		if err != nil {
			return
		}
		again, err := d.MarshalBinary()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted descriptor does not re-encode to the same bytes: %v", err)
		}
	})
}

func FuzzPoolInviteDecode(f *testing.F) {
	owner := testKey(f)
	id, _ := DerivePoolID(owner.GetPublic(), "closed")
	who, _ := peer.IDFromPrivateKey(testKey(f))
	inv, _ := NewPoolInvite(owner, id, who, time.Unix(1_900_000_000, 0))
	raw, _ := inv.MarshalBinary()
	f.Add(raw)
	f.Add([]byte{inviteVersion})
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := DecodePoolInvite(data)
		if err != nil {
			return
		}
		again, err := inv.MarshalBinary()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted invite does not re-encode to the same bytes: %v", err)
		}
	})
}

func FuzzPoolSummaryDecode(f *testing.F) {
	s := &PoolSummary{Pool: "demo", Members: 3, OuterStep: 9, CheckpointVersion: 2, Time: time.UnixMilli(1_700_000_000_000)}
	f.Add(s.marshal())
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decodePoolSummary(data, "")
		if err != nil {
			return
		}
		if !bytes.Equal(s.marshal(), data) {
			t.Fatal("accepted summary does not re-encode to the same bytes")
		}
	})
}
