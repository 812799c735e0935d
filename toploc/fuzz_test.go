package toploc

import (
	"context"
	"encoding/base64"
	"testing"
)

func fuzzSeeds(f *testing.F) {
	p := &Proof{Params: Params{ChunkSize: 3, TopK: 4}, Chunks: []ChunkProof{
		{Modulus: 65497, Coeffs: []uint16{0x1b42, 0x2b67, 0xba4b, 0x756d}},
		{Modulus: 65496, Coeffs: []uint16{1, 2, 3, 65535}},
		NullChunkProof(4),
	}}
	b, _ := p.MarshalBinary()
	j, _ := p.MarshalJSON()
	f.Add(b)
	f.Add(j)
	f.Add([]byte(`{"decode_batching_size":32,"topk":128,"skip_prefill":true,"proofs":["/9kbQitnukt1bQ=="]}`))
	f.Add([]byte("TPLC\x01\x00\x00\x20\x00\x80\xff\xff\xff\xff"))
	f.Add([]byte{})
}

// FuzzParseProof: decoding never panics, never allocates more than the input
// justifies, and whatever decodes re-encodes and verifies without panicking.
func FuzzParseProof(f *testing.F) {
	fuzzSeeds(f)
	seq := Sequence{DType: BF16, Hidden: 16, PromptLen: 5, States: make([]uint16, 16*15)}
	for i := range seq.States {
		seq.States[i] = uint16(i * 2654435761 >> 7)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProof(b)
		if err != nil {
			return
		}
		if n := len(p.Chunks) * p.TopK * 2; n > 2*len(b)+64 {
			t.Fatalf("%d input bytes decoded into %d coefficient bytes", len(b), n)
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("decoded proof does not validate: %v", err)
		}
		if _, err := p.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
		if len(p.Chunks) <= 16 {
			_, _ = Verify(context.Background(), p, seq, WithParallelism(1))
		}
	})
}

// FuzzChunkProof: the reference's bytes and base64 forms.
func FuzzChunkProof(f *testing.F) {
	f.Add([]byte{0xff, 0xd9, 0x1b, 0x42, 0x2b, 0x67})
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var c ChunkProof
		if err := c.UnmarshalBinary(b); err == nil {
			out, _ := c.MarshalBinary()
			if string(out) != string(b) {
				t.Fatalf("round trip %x -> %x", b, out)
			}
			x := []uint32{0, 1, 65534, 65535}
			evaluate(c.Coeffs, x, make([]uint32, len(x)))
		}
		if c2, err := ParseChunkProof(base64.StdEncoding.EncodeToString(b)); err == nil && len(c2.Coeffs) != (len(b)-2)/2 {
			t.Fatalf("base64 decode: %d coefficients from %d bytes", len(c2.Coeffs), len(b))
		}
		_, _ = ParseChunkProof(string(b))
	})
}
