package p2p

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func testPeer(t testing.TB) peer.ID {
	t.Helper()
	_, pub, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func sampleHeartbeat(t testing.TB) Heartbeat {
	return Heartbeat{
		Kind: KindHeartbeat, Pool: "pool-1", Peer: testPeer(t), Seq: 1234567890123, Time: time.UnixMilli(1_790_000_000_000),
		OuterStep: 7, CheckpointVersion: 3,
		Hardware: Hardware{CPUCores: 16, MemoryMiB: 65536, GPUs: 1, GPUMemoryMiB: 81559, BandwidthMbps: 1000, GPUModel: "NVIDIA H100 80GB HBM3"},
	}
}

func TestHeartbeatRoundTrip(t *testing.T) {
	for _, kind := range []MessageKind{KindHeartbeat, KindDeathrattle} {
		hb := sampleHeartbeat(t)
		hb.Kind = kind
		data, err := hb.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Heartbeat
		if err := got.UnmarshalBinary(data); err != nil {
			t.Fatal(err)
		}
		if got.Kind != hb.Kind || got.Pool != hb.Pool || got.Peer != hb.Peer || got.Seq != hb.Seq ||
			!got.Time.Equal(hb.Time) || got.OuterStep != hb.OuterStep || got.CheckpointVersion != hb.CheckpointVersion || got.Hardware != hb.Hardware {
			t.Fatalf("round trip: got %+v, want %+v", got, hb)
		}
	}
}

func TestHeartbeatDecodeErrors(t *testing.T) {
	good, err := func() ([]byte, error) { hb := sampleHeartbeat(t); return hb.MarshalBinary() }()
	if err != nil {
		t.Fatal(err)
	}
	wrongPool := sampleHeartbeat(t)
	wrongPool.Pool = "x"
	wp, _ := wrongPool.MarshalBinary()
	badPool := bytes.Replace(wp, []byte{1, 'x'}, []byte{1, '/'}, 1)
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"version", append([]byte{9}, good[1:]...), ErrBadVersion},
		{"kind", append([]byte{wireVersion, 7}, good[2:]...), ErrUnknownKind},
		{"old version", append([]byte{1}, good[1:]...), ErrBadVersion},
		{"truncated", good[:len(good)-3], ErrMalformed},
		{"trailing", append(append([]byte{}, good...), 0), ErrMalformed},
		{"oversize", make([]byte, MaxMembershipMessageSize+1), ErrOversize},
		{"pool charset", badPool, ErrBadPoolID},
		{"overlong varint", append(append([]byte{}, good[:2]...), append([]byte{0x86, 0x00}, good[3:]...)...), ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hb Heartbeat
			err := hb.UnmarshalBinary(c.data)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestHeartbeatEncodeLimits(t *testing.T) {
	hb := sampleHeartbeat(t)
	hb.Pool = strings.Repeat("p", 65)
	if _, err := hb.MarshalBinary(); !errors.Is(err, ErrBadPoolID) {
		t.Fatalf("long pool: %v", err)
	}
	hb = sampleHeartbeat(t)
	hb.Hardware.GPUModel = strings.Repeat("g", 65)
	if _, err := hb.MarshalBinary(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("long GPU model: %v", err)
	}
}

// FuzzHeartbeatDecode: decoding never panics, and whatever decodes encodes
// back to the same bytes (one encoding per message).
func FuzzHeartbeatDecode(f *testing.F) {
	hb := sampleHeartbeat(f)
	good, _ := hb.MarshalBinary()
	f.Add(good)
	hb.Kind = KindDeathrattle
	dr, _ := hb.MarshalBinary()
	f.Add(dr)
	hb.Admission = []byte("invite token bytes")
	withInvite, _ := hb.MarshalBinary()
	f.Add(withInvite)
	f.Add([]byte{wireVersion, 1, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var hb Heartbeat
		if err := hb.UnmarshalBinary(data); err != nil {
			return
		}
		again, err := hb.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded message does not encode: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("non-canonical encoding accepted:\n in  %x\n out %x", data, again)
		}
	})
}
