package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"

	"github.com/openpool/openpool/node"
)

// bootstrapConfig is the file read by `openpool bootstrap --config`
// (TOML; examples/bootstrap.toml shows every key). Flags given on the
// command line override it; what neither sets keeps the flag's default.
type bootstrapConfig struct {
	// DataDir holds the identity key and api.addr (--home).
	DataDir string `toml:"data_dir"`
	// Listen are the multiaddrs to listen on (--listen).
	Listen []string `toml:"listen"`
	// Bootstrap are other bootstrap nodes to peer with (--bootstrap).
	Bootstrap []string `toml:"bootstrap"`
	// StatusAddr serves the status page, /status and /metrics; "" turns
	// them off (--status-addr).
	StatusAddr string `toml:"status_addr"`
	// NAT and UPnP as --nat and --upnp.
	NAT  bool `toml:"nat"`
	UPnP bool `toml:"upnp"`

	Limits limitsConfig `toml:"limits"`
	Log    logConfig    `toml:"log"`
}

type limitsConfig struct {
	// ConnLow and ConnHigh are the connection manager's watermarks
	// (--conn-low, --conn-high; 0 keeps 400/2000).
	ConnLow  int `toml:"conn_low"`
	ConnHigh int `toml:"conn_high"`
	// MaxConns is the libp2p resource manager's system-wide connection
	// limit, total and inbound (--max-conns; 0 keeps the limit scaled to
	// the machine's memory, about 250 inbound on a 24 GiB machine and 96
	// on a 4 GiB VPS). At least conn_high.
	MaxConns int `toml:"max_conns"`
	// MaxOpenFiles sets the soft RLIMIT_NOFILE before the node starts; the
	// libp2p resource manager allows half of it for connections
	// (--max-open-files; 0 keeps the process limit, which Go raises to the
	// hard limit).
	MaxOpenFiles uint64 `toml:"max_open_files"`
	// MemoryLimitMiB is the Go runtime's soft memory limit, as GOMEMLIMIT
	// (--memory-limit-mib; 0 is none).
	MemoryLimitMiB int64 `toml:"memory_limit_mib"`
}

type logConfig struct {
	// Level is debug, info, warn or error (--log-level).
	Level string `toml:"level"`
	// Format is text or json (--log-format).
	Format string `toml:"format"`
}

// loadBootstrapConfig reads path. Syntax errors, wrong types and unknown
// keys (usually typos) are usage errors that name the file.
func loadBootstrapConfig(path string) (bootstrapConfig, toml.MetaData, error) {
	var c bootstrapConfig
	b, err := os.ReadFile(path)
	if err != nil {
		return c, toml.MetaData{}, usagef("config: %v", err)
	}
	md, err := toml.Decode(string(b), &c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return c, md, usagef("config %s: line %d: %s", path, pe.Position.Line, pe.Message)
		}
		return c, md, usagef("config %s: %v", path, err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		keys := make([]string, len(u))
		for i, k := range u {
			keys[i] = k.String()
		}
		return c, md, usagef("config %s: unknown key %s (see examples/bootstrap.toml for the keys)", path, strings.Join(keys, ", "))
	}
	return c, md, nil
}

// bootstrapSettings are the bootstrap command's own flags.
type bootstrapSettings struct {
	configPath  string
	printConfig bool
	logFormat   string
	limits      limitsConfig
}

func (s *bootstrapSettings) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&s.configPath, "config", "", "TOML configuration file (see examples/bootstrap.toml); flags override it")
	fl.BoolVar(&s.printConfig, "print-config", false, "print the effective configuration (file, then flags) as TOML and exit")
	fl.StringVar(&s.logFormat, "log-format", "text", "log format: text or json")
	fl.IntVar(&s.limits.ConnLow, "conn-low", 0, "connection manager low watermark (0: default 400)")
	fl.IntVar(&s.limits.ConnHigh, "conn-high", 0, "connection manager high watermark (0: default 2000)")
	fl.IntVar(&s.limits.MaxConns, "max-conns", 0, "resource manager connection limit, total and inbound (0: scaled to memory)")
	fl.Uint64Var(&s.limits.MaxOpenFiles, "max-open-files", 0, "soft open-file limit to set before starting (0: keep the process limit)")
	fl.Int64Var(&s.limits.MemoryLimitMiB, "memory-limit-mib", 0, "Go soft memory limit in MiB, like GOMEMLIMIT (0: none)")
}

// resolve merges the config file under the flags: a flag the user gave
// wins, then the file, then the flag's default. It updates g and f in place
// and returns the effective configuration.
func (s *bootstrapSettings) resolve(cmd *cobra.Command, g *globals, f *nodeFlags) (bootstrapConfig, error) {
	changed := cmd.Flags().Changed
	if s.configPath != "" {
		file, md, err := loadBootstrapConfig(s.configPath)
		if err != nil {
			return bootstrapConfig{}, err
		}
		set := func(key string, flag string, apply func()) {
			if !changed(flag) && md.IsDefined(strings.Split(key, ".")...) {
				apply()
			}
		}
		set("data_dir", "home", func() { g.home = file.DataDir })
		set("listen", "listen", func() { f.listen = file.Listen })
		set("bootstrap", "bootstrap", func() { f.bootstrap = file.Bootstrap })
		set("status_addr", "status-addr", func() { f.statusAddr = file.StatusAddr })
		set("nat", "nat", func() { f.nat = file.NAT })
		set("upnp", "upnp", func() { f.upnp = file.UPnP })
		set("limits.conn_low", "conn-low", func() { s.limits.ConnLow = file.Limits.ConnLow })
		set("limits.conn_high", "conn-high", func() { s.limits.ConnHigh = file.Limits.ConnHigh })
		set("limits.max_conns", "max-conns", func() { s.limits.MaxConns = file.Limits.MaxConns })
		set("limits.max_open_files", "max-open-files", func() { s.limits.MaxOpenFiles = file.Limits.MaxOpenFiles })
		set("limits.memory_limit_mib", "memory-limit-mib", func() { s.limits.MemoryLimitMiB = file.Limits.MemoryLimitMiB })
		set("log.level", "log-level", func() { g.logLevel = file.Log.Level })
		set("log.format", "log-format", func() { s.logFormat = file.Log.Format })
	}
	dir, err := g.dataDir()
	if err != nil {
		return bootstrapConfig{}, err
	}
	if _, err := f.options(g); err != nil {
		return bootstrapConfig{}, err // bad addresses, from the file or flags
	}
	eff := bootstrapConfig{
		DataDir: dir, Listen: f.listen, Bootstrap: f.bootstrap, StatusAddr: f.statusAddr, NAT: f.nat, UPnP: f.upnp,
		Limits: s.limits, Log: logConfig{Level: g.logLevel, Format: s.logFormat},
	}
	return eff, eff.validate()
}

// validate checks what the node options do not: limits and logging.
func (c bootstrapConfig) validate() error {
	if err := (node.Limits{ConnLow: c.Limits.ConnLow, ConnHigh: c.Limits.ConnHigh, MaxConns: c.Limits.MaxConns}).Validate(); err != nil {
		return usagef("limits: %v", strings.TrimPrefix(err.Error(), "node: "))
	}
	if c.Limits.MemoryLimitMiB < 0 {
		return usagef("limits: memory_limit_mib %d must not be negative", c.Limits.MemoryLimitMiB)
	}
	if c.Limits.MaxOpenFiles != 0 && c.Limits.MaxOpenFiles < 64 {
		return usagef("limits: max_open_files %d is too small to run a node (minimum 64)", c.Limits.MaxOpenFiles)
	}
	if c.Limits.MaxOpenFiles != 0 {
		var rl syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && c.Limits.MaxOpenFiles > rl.Max {
			return usagef("limits: max_open_files %d is above the hard limit %d; raise it first (systemd: LimitNOFILE=)", c.Limits.MaxOpenFiles, rl.Max)
		}
	}
	if c.StatusAddr != "" {
		if _, _, err := net.SplitHostPort(c.StatusAddr); err != nil {
			return usagef("status address %q: want host:port, for example 127.0.0.1:9401: %v", c.StatusAddr, err)
		}
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.Log.Level)); err != nil {
		return usagef("log level %q: use debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		return usagef("log format %q: use text or json", c.Log.Format)
	}
	return nil
}

// encode writes c as TOML.
func (c bootstrapConfig) encode() ([]byte, error) {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(c); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// logger builds the process logger the configuration asks for.
func (c bootstrapConfig) logger(g *globals) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Log.Level)) // validated
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(g.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(g.stderr, opts))
}

// applyProcessLimits sets the open-file and memory limits for this
// process and returns a function that restores the previous ones. Both are
// process-wide, so they are set before the node (and its resource
// manager, which reads the open-file limit once) starts.
func applyProcessLimits(l limitsConfig) (restore func(), err error) {
	var undo []func()
	restore = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	if l.MaxOpenFiles > 0 {
		var old syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
			return restore, fmt.Errorf("read the open-file limit: %w", err)
		}
		if l.MaxOpenFiles > old.Max {
			return restore, usagef("limits: max_open_files %d is above the hard limit %d; raise it first (systemd: LimitNOFILE=)", l.MaxOpenFiles, old.Max)
		}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: l.MaxOpenFiles, Max: old.Max}); err != nil {
			return restore, fmt.Errorf("set the open-file limit to %d: %w", l.MaxOpenFiles, err)
		}
		undo = append(undo, func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
	}
	if l.MemoryLimitMiB > 0 {
		prev := debug.SetMemoryLimit(l.MemoryLimitMiB << 20)
		undo = append(undo, func() { debug.SetMemoryLimit(prev) })
	}
	return restore, nil
}
