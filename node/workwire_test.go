package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/openpool/openpool/toploc"
)

func sampleWork(tb testing.TB) *WorkSubmission {
	tb.Helper()
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := toploc.NewToyModel(toploc.ToyConfig{Vocab: 64, Hidden: 64, FF: 64, Layers: 1}, []byte("w"))
	if err != nil {
		tb.Fatal(err)
	}
	seq, err := m.Forward(context.Background(), toploc.ToyTokens([]byte("in"), 40, 64), 8, toploc.ToyBF16, 1)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := toploc.Prove(context.Background(), seq, toploc.WithParams(toploc.Params{ChunkSize: 16, TopK: 8}))
	if err != nil {
		tb.Fatal(err)
	}
	proof, err := p.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	return &WorkSubmission{
		Pool: "demo", Worker: id, OuterStep: 7, CheckpointVersion: 3,
		Input: []byte("task 42"), OutputHash: sha256.Sum256([]byte("out")), Proof: proof,
	}
}

func TestWorkSubmissionRoundTrip(t *testing.T) {
	w := sampleWork(t)
	b, err := w.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got WorkSubmission
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if got.Pool != w.Pool || got.Worker != w.Worker || got.OuterStep != 7 || got.CheckpointVersion != 3 ||
		!bytes.Equal(got.Input, w.Input) || got.OutputHash != w.OutputHash || !bytes.Equal(got.Proof, w.Proof) {
		t.Fatalf("round trip changed the submission:\n%+v\n%+v", got, *w)
	}
	if got.ID() != WorkID(sha256.Sum256(b)) || got.ID() == (WorkID{}) {
		t.Fatal("ID is not the SHA-256 of the encoding")
	}
	w2 := *w
	w2.OuterStep++
	if w2.ID() == w.ID() {
		t.Fatal("different submissions share an ID")
	}
	if _, err := got.ParseProof(); err != nil {
		t.Fatal(err)
	}
	// The decoder does not alias its input.
	b[len(b)-1] ^= 1
	if got.Proof[len(got.Proof)-1] == b[len(b)-1] {
		t.Fatal("decoded proof aliases the message")
	}
}

func TestWorkSubmissionRejects(t *testing.T) {
	w := sampleWork(t)
	good, err := w.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := toploc.ParseProof(w.Proof)
	jsonProof, _ := p.MarshalJSON()
	enc := func(f func(*WorkSubmission)) []byte {
		c := *w
		f(&c)
		// Encode by hand so that the encoder's own checks do not stop us.
		b := []byte{workWireVersion}
		b = appendWorkBytes(b, []byte(c.Pool))
		b = appendWorkBytes(b, []byte(c.Worker))
		b = binary.AppendUvarint(b, c.OuterStep)
		b = binary.AppendUvarint(b, c.CheckpointVersion)
		b = appendWorkBytes(b, c.Input)
		b = append(b, c.OutputHash[:]...)
		return appendWorkBytes(b, c.Proof)
	}
	if !bytes.Equal(enc(func(*WorkSubmission) {}), good) {
		t.Fatal("hand encoder differs from MarshalBinary")
	}
	overlong := bytes.Clone(good)
	// Outer step 7 as a two-byte varint: same value, second encoding.
	i := 1 + 1 + len(w.Pool) + 1 + len(w.Worker)
	overlong = append(append(append([]byte{}, overlong[:i]...), 0x87, 0x00), overlong[i+1:]...)
	for name, tc := range map[string]struct {
		data []byte
		want error
	}{
		"empty":             {nil, ErrWorkMalformed},
		"version 2":         {append([]byte{2}, good[1:]...), ErrWorkMalformed},
		"truncated":         {good[:len(good)-1], ErrWorkMalformed},
		"trailing byte":     {append(bytes.Clone(good), 0), ErrWorkMalformed},
		"overlong varint":   {overlong, ErrWorkMalformed},
		"bad pool":          {enc(func(c *WorkSubmission) { c.Pool = "no/slash" }), ErrWorkMalformed},
		"bad peer ID":       {enc(func(c *WorkSubmission) { c.Worker = peer.ID("xyz") }), ErrWorkMalformed},
		"no proof":          {enc(func(c *WorkSubmission) { c.Proof = nil }), ErrWorkMalformed},
		"JSON proof":        {enc(func(c *WorkSubmission) { c.Proof = jsonProof }), ErrWorkMalformed},
		"garbage proof":     {enc(func(c *WorkSubmission) { c.Proof = []byte("TPLC garbage") }), ErrWorkMalformed},
		"input over limit":  {enc(func(c *WorkSubmission) { c.Input = make([]byte, MaxWorkInputSize+1) }), ErrWorkMalformed},
		"message oversize":  {make([]byte, MaxWorkSubmissionSize+1), ErrWorkOversize},
		"proof with suffix": {enc(func(c *WorkSubmission) { c.Proof = append(bytes.Clone(c.Proof), 0, 0) }), ErrWorkMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			var got WorkSubmission
			if err := got.UnmarshalBinary(tc.data); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	// The encoder refuses what the decoder would.
	for name, f := range map[string]func(*WorkSubmission){
		"bad pool":   func(c *WorkSubmission) { c.Pool = "" },
		"no worker":  func(c *WorkSubmission) { c.Worker = "" },
		"big input":  func(c *WorkSubmission) { c.Input = make([]byte, MaxWorkInputSize+1) },
		"no proof":   func(c *WorkSubmission) { c.Proof = nil },
		"big proof":  func(c *WorkSubmission) { c.Proof = make([]byte, MaxWorkProofSize+1) },
		"JSON proof": func(c *WorkSubmission) { c.Proof = jsonProof },
	} {
		c := *w
		f(&c)
		if _, err := c.MarshalBinary(); err == nil {
			t.Errorf("%s: encoded", name)
		}
		if c.ID() != (WorkID{}) {
			t.Errorf("%s: unencodable submission has an ID", name)
		}
	}
}

func FuzzDecodeWorkSubmission(f *testing.F) {
	w := sampleWork(f)
	good, err := w.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	w.Input = nil
	noInput, _ := w.MarshalBinary()
	f.Add(noInput)
	f.Add(good[:len(good)/2])
	f.Add([]byte{workWireVersion, 4, 'd', 'e', 'm', 'o'})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var w WorkSubmission
		if err := w.UnmarshalBinary(data); err != nil {
			return
		}
		again, err := w.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded submission does not encode: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("non-canonical encoding accepted:\n in  %x\n out %x", data, again)
		}
		if w.ID() != WorkID(sha256.Sum256(data)) {
			t.Fatal("ID differs from the hash of the encoding")
		}
	})
}
