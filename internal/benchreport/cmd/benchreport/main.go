// Command benchreport writes docs/BENCHMARKS.md from a run directory of
// scripts/bench-report.sh (see package benchreport).
//
//	go run ./internal/benchreport/cmd/benchreport -run DIR -out docs/BENCHMARKS.md
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	"github.com/openpool/openpool/internal/benchreport"
)

func main() {
	run := flag.String("run", "", "run directory written by scripts/bench-report.sh")
	out := flag.String("out", "docs/BENCHMARKS.md", "report to write (- for stdout)")
	flag.Parse()
	if err := write(*run, *out); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func write(run, out string) error {
	if run == "" {
		return fmt.Errorf("-run is required")
	}
	r, err := benchreport.Load(run)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := benchreport.Write(&buf, r); err != nil {
		return err
	}
	if out == "-" {
		_, err = os.Stdout.Write(buf.Bytes())
		return err
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	v := r.Verdicts()
	fmt.Fprintf(os.Stderr, "benchreport: wrote %s: %d sections, %d figures met, %d missed, %d without a target\n",
		out, len(r.Sections), v[benchreport.Met], v[benchreport.Missed], v[benchreport.NoTarget])
	return nil
}
