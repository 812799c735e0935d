package ledger

import (
	"errors"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/openpool/openpool/ledger/bindings"
)

// Every custom error of every contract maps to a sentinel, and every
// mapping names a real error, so a renamed Solidity error cannot silently
// lose its Go sentinel.
func TestEveryContractErrorHasSentinel(t *testing.T) {
	seen := map[string]bool{}
	for _, a := range []abi.ABI{bindings.NewDevStakeToken().GetABI(), bindings.NewComputeRegistry().GetABI(), bindings.NewComputePools().GetABI()} {
		for name := range a.Errors {
			seen[name] = true
			if _, ok := sentinelByError[name]; !ok {
				t.Errorf("contract error %s has no sentinel in sentinelByError", name)
			}
		}
	}
	for name := range sentinelByError {
		if !seen[name] {
			t.Errorf("sentinelByError names %s, which no contract defines", name)
		}
	}
}

func TestDecodeRevert(t *testing.T) {
	d := newRevertDecoder()
	pools := bindings.NewComputePools().GetABI()
	node := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	data, err := pools.Errors["AlreadyInPool"].Inputs.Pack(u64(3), node)
	if err != nil {
		t.Fatal(err)
	}
	id := pools.Errors["AlreadyInPool"].ID
	sel := id[:4]
	re := d.decode("join pool", append(append([]byte{}, sel...), data...))
	if !errors.Is(re, ErrAlreadyInPool) || !errors.Is(re, ErrReverted) {
		t.Fatalf("decoded %v does not match sentinels", re)
	}
	want := "ledger: join pool: reverted: AlreadyInPool(poolId=3, node=" + node.Hex() + "): node is already in the pool"
	if re.Error() != want {
		t.Fatalf("message\n got %s\nwant %s", re.Error(), want)
	}

	// require(..., "reason") strings.
	errSel := crypto.Keccak256([]byte("Error(string)"))[:4]
	strArg, _ := abi.NewType("string", "", nil)
	packed, _ := abi.Arguments{{Type: strArg}}.Pack("boom")
	re = d.decode("x", append(append([]byte{}, errSel...), packed...))
	if re.Name != "Error" || !strings.Contains(re.Error(), `"boom"`) || !errors.Is(re, ErrReverted) {
		t.Fatalf("string revert decoded as %v", re)
	}

	// Unknown selectors and short data still give an error, never a panic.
	for _, raw := range [][]byte{nil, {1, 2}, {0xde, 0xad, 0xbe, 0xef, 1}} {
		if re := d.decode("x", raw); !errors.Is(re, ErrReverted) {
			t.Fatalf("decode(%x) = %v", raw, re)
		}
	}
}

// FuzzDecodeRevert: arbitrary revert data (it comes from the endpoint)
// never panics and always yields an ErrReverted.
func FuzzDecodeRevert(f *testing.F) {
	d := newRevertDecoder()
	pools := bindings.NewComputePools().GetABI()
	for _, e := range pools.Errors {
		f.Add(append(append([]byte{}, e.ID[:4]...), make([]byte, 64)...))
	}
	f.Add([]byte{})
	f.Add([]byte{0x08, 0xc3, 0x79, 0xa0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if re := d.decode("fuzz", data); !errors.Is(re, ErrReverted) || re.Error() == "" {
			t.Fatalf("decode(%x) = %v", data, re)
		}
	})
}
