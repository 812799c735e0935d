package toploc_test

import (
	"context"
	"fmt"

	"github.com/openpool/openpool/toploc"
)

// A worker proves its inference; a validator parses the proof it received
// and checks it against the activations of its own prefill pass.
func Example() {
	ctx := context.Background()
	const hidden = 256
	states := make([]uint16, 48*hidden) // 16 prompt + 32 generated tokens, bf16
	for i := range states {
		states[i] = uint16(0x3c00 + (i*7919)%0x0600) // stand-in for real hidden states
	}
	seq := toploc.Sequence{DType: toploc.BF16, Hidden: hidden, PromptLen: 16, States: states}

	proof, err := toploc.Prove(ctx, seq)
	if err != nil {
		panic(err)
	}
	wire, _ := proof.MarshalBinary()

	received, err := toploc.ParseProof(wire)
	if err != nil {
		panic(err)
	}
	res, err := toploc.Verify(ctx, received, seq, toploc.WithParams(toploc.DefaultParams))
	if err != nil {
		panic(err)
	}
	fmt.Println(len(wire), "bytes,", len(res.Chunks), "chunks, accepted:", res.Accepted)
	// Output: 530 bytes, 2 chunks, accepted: true
}
