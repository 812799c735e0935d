// Command openpool is the one binary of openpool: bootstrap nodes, workers,
// researchers' pool tools, checkpoints, proofs and the ledger.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes scripts can rely on.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed
	exitUsage   = 2 // bad flag, argument or input file
)

// usageError marks an error caused by how the command was invoked.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// exitError carries a specific exit code (for example "proof rejected").
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// globals holds the flags every subcommand shares.
type globals struct {
	home     string
	logLevel string
	stdout   io.Writer
	stderr   io.Writer
}

// logger builds the process logger from --log-level.
func (g *globals) logger() *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
		lvl = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: lvl}))
}

// dataDir resolves the data directory: --home, then $OPENPOOL_HOME, then ~/.openpool.
func (g *globals) dataDir() (string, error) {
	if g.home != "" {
		return filepath.Abs(g.home)
	}
	if h := os.Getenv("OPENPOOL_HOME"); h != "" {
		return filepath.Abs(h)
	}
	u, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no home directory (set --home or OPENPOOL_HOME): %w", err)
	}
	return filepath.Join(u, ".openpool"), nil
}

func newRootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "openpool",
		Short:         "Train AI models together across GPUs on the open internet",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	root.PersistentFlags().StringVar(&g.home, "home", "", "data directory (default $OPENPOOL_HOME or ~/.openpool)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	// Subcommands: one constructor per file.
	root.AddCommand(
		newVersionCmd(g),
		newToplocCmd(g),
		newIDCmd(g),
		newBootstrapCmd(g),
		newJoinCmd(g),
		newStatusCmd(g),
		newDevCmd(g),
		newLedgerCmd(g),
		newCheckpointCmd(g),
		newPoolCmd(g),
	)
	return root
}

// run executes the CLI and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRootCmd(g)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "openpool: %v\n", err)
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var ue usageError
	if errors.As(err, &ue) || isCobraUsageError(err) {
		return exitUsage
	}
	return exitFailure
}

// isCobraUsageError recognises cobra's own argument errors, which are plain
// errors with no type to match.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "unknown flag", "unknown shorthand", "invalid argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
