// Package artifacts turns the compiled contracts in ledger/contracts/build
// into Go bindings. It is shared by the generator and by the test that checks
// the committed bindings match the committed ABIs and bytecode.
package artifacts

import (
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi/abigen"
)

// Contracts lists the contracts that get bindings, in deployment order.
var Contracts = []string{"DevStakeToken", "ComputeRegistry", "ComputePools"}

// Package is the Go package name of the bindings.
const Package = "bindings"

// FileName is the bindings file of a contract, e.g. compute_pools.go.
func FileName(contract string) string {
	var b strings.Builder
	for i, r := range contract {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToLower(b.String()) + ".go"
}

// Generate returns the gofmt'ed v2 binding of one contract.
func Generate(buildDir, contract string) ([]byte, error) {
	abiJSON, err := os.ReadFile(filepath.Join(buildDir, contract+".abi"))
	if err != nil {
		return nil, fmt.Errorf("artifacts: %w", err)
	}
	bin, err := os.ReadFile(filepath.Join(buildDir, contract+".bin"))
	if err != nil {
		return nil, fmt.Errorf("artifacts: %w", err)
	}
	code, err := abigen.BindV2([]string{contract}, []string{string(abiJSON)}, []string{strings.TrimSpace(string(bin))}, Package, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("artifacts: bind %s: %w", contract, err)
	}
	// abigen's templates capitalise an error string; the file is generated.
	code = strings.Replace(code, "\npackage "+Package, "\n//lint:file-ignore ST1005 abigen writes these error strings\n\npackage "+Package, 1)
	src, err := format.Source([]byte(code))
	if err != nil {
		return nil, fmt.Errorf("artifacts: format %s: %w", contract, err)
	}
	return src, nil
}
