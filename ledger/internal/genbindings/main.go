// Command genbindings writes the Go bindings in ledger/bindings from the
// committed ABIs and bytecode in ledger/contracts/build, using go-ethereum's
// abigen (v2 bindings). Run through `go generate ./ledger/...`.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/openpool/openpool/ledger/internal/artifacts"
)

func main() {
	build := flag.String("build", "contracts/build", "directory with <Contract>.abi and <Contract>.bin")
	out := flag.String("out", "bindings", "output directory for the Go bindings")
	flag.Parse()
	if err := run(*build, *out); err != nil {
		fmt.Fprintln(os.Stderr, "genbindings:", err)
		os.Exit(1)
	}
}

func run(build, out string) error {
	for _, name := range artifacts.Contracts {
		src, err := artifacts.Generate(build, name)
		if err != nil {
			return err
		}
		path := filepath.Join(out, artifacts.FileName(name))
		if err := os.WriteFile(path, src, 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", path)
	}
	return nil
}
