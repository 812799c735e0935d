package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/openpool/openpool/node"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bootstrap.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// effectiveConfig runs `openpool bootstrap --print-config` and decodes what
// it prints.
func effectiveConfig(t *testing.T, args ...string) bootstrapConfig {
	t.Helper()
	code, out, errOut := runCLI(t, append([]string{"bootstrap", "--print-config"}, args...)...)
	if code != exitOK {
		t.Fatalf("bootstrap %v: exit %d: %s", args, code, errOut)
	}
	var c bootstrapConfig
	if _, err := toml.Decode(out, &c); err != nil {
		t.Fatalf("decode printed config: %v\n%s", err, out)
	}
	return c
}

const fullConfig = `
data_dir = "%DIR%"
listen = ["/ip4/127.0.0.1/tcp/4101", "/ip4/127.0.0.1/udp/4101/quic-v1"]
bootstrap = []
status_addr = "127.0.0.1:9401"
nat = false
upnp = false

[limits]
conn_low = 50
conn_high = 80
max_conns = 3000
max_open_files = 4096
memory_limit_mib = 512

[log]
level = "warn"
format = "json"
`

func TestBootstrapConfigPrecedence(t *testing.T) {
	t.Setenv("OPENPOOL_HOME", "")
	dir := t.TempDir()
	path := writeConfig(t, strings.ReplaceAll(fullConfig, "%DIR%", dir))
	flagDir := t.TempDir()

	// The file alone.
	c := effectiveConfig(t, "--config", path)
	if c.DataDir != dir || len(c.Listen) != 2 || c.Listen[0] != "/ip4/127.0.0.1/tcp/4101" || c.StatusAddr != "127.0.0.1:9401" || c.NAT {
		t.Errorf("file values not applied: %+v", c)
	}
	if c.Limits != (limitsConfig{ConnLow: 50, ConnHigh: 80, MaxConns: 3000, MaxOpenFiles: 4096, MemoryLimitMiB: 512}) || c.Log != (logConfig{Level: "warn", Format: "json"}) {
		t.Errorf("file limits/log not applied: %+v %+v", c.Limits, c.Log)
	}

	// Flags win over the file, key by key; the rest still comes from the file.
	c = effectiveConfig(t, "--config", path, "--home", flagDir, "--listen", "/ip4/127.0.0.1/tcp/4999",
		"--status-addr", "", "--nat=true", "--conn-high", "90", "--log-level", "debug", "--log-format", "text")
	if c.DataDir != flagDir || len(c.Listen) != 1 || c.Listen[0] != "/ip4/127.0.0.1/tcp/4999" || c.StatusAddr != "" || !c.NAT {
		t.Errorf("flags did not override the file: %+v", c)
	}
	if c.Limits.ConnLow != 50 || c.Limits.ConnHigh != 90 || c.Limits.MemoryLimitMiB != 512 || c.Log.Level != "debug" || c.Log.Format != "text" {
		t.Errorf("flag/file mix wrong: %+v %+v", c.Limits, c.Log)
	}

	// A partial file keeps the defaults for what it does not set.
	partial := writeConfig(t, "[limits]\nconn_high = 3000\nconn_low = 100\n")
	c = effectiveConfig(t, "--config", partial, "--home", flagDir)
	if len(c.Listen) != 2 || c.Listen[0] != "/ip4/0.0.0.0/tcp/4001" || c.StatusAddr != "127.0.0.1:0" || !c.NAT || c.Log.Level != "info" || c.Log.Format != "text" {
		t.Errorf("defaults lost with a partial file: %+v", c)
	}
	if c.Limits.ConnHigh != 3000 || c.Limits.MaxOpenFiles != 0 {
		t.Errorf("partial limits: %+v", c.Limits)
	}

	// No file at all: the flag defaults.
	c = effectiveConfig(t, "--home", flagDir)
	if c.DataDir != flagDir || c.Limits != (limitsConfig{}) || c.StatusAddr != "127.0.0.1:0" {
		t.Errorf("no-file defaults: %+v", c)
	}
}

func TestBootstrapConfigErrors(t *testing.T) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	for _, tc := range []struct {
		name, file string
		args       []string
		want       string
	}{
		{name: "missing file", args: []string{"--config", filepath.Join(home, "nope.toml")}, want: "no such file"},
		{name: "syntax", file: "listen = [\"/ip4/127.0.0.1/tcp/1\"\nnat = \n", want: "line "},
		{name: "unknown key", file: "[limits]\nconn_hgih = 10\n", want: "unknown key limits.conn_hgih"},
		{name: "wrong type", file: "listen = \"/ip4/127.0.0.1/tcp/1\"\n", want: "listen"},
		{name: "watermarks", file: "[limits]\nconn_low = 500\nconn_high = 400\n", want: "high watermark 400 must be above the low watermark 500"},
		{name: "one watermark", file: "[limits]\nconn_high = 400\n", want: "set both connection watermarks"},
		{name: "flag breaks file watermarks", file: "[limits]\nconn_low = 10\nconn_high = 20\n", args: []string{"--conn-low", "30"}, want: "must be above"},
		{name: "negative memory", file: "[limits]\nmemory_limit_mib = -1\n", want: "memory_limit_mib -1"},
		{name: "few fds", file: "[limits]\nmax_open_files = 10\n", want: "too small"},
		{name: "fds above hard limit", file: "[limits]\nmax_open_files = " + itoa(rl.Max+1) + "\n", want: "above the hard limit"},
		{name: "log level", file: "[log]\nlevel = \"loud\"\n", want: `log level "loud"`},
		{name: "log format", file: "[log]\nformat = \"xml\"\n", want: `log format "xml"`},
		{name: "listen addr", file: "listen = [\"tcp://0.0.0.0:4001\"]\n", want: "bad --listen address"},
		{name: "bootstrap addr", file: "bootstrap = [\"/ip4/1.2.3.4/tcp/4001\"]\n", want: "bootstrap"},
		{name: "status addr", file: "status_addr = \"localhost\"\n", want: "status address \"localhost\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"bootstrap", "--home", home}
			if tc.file != "" {
				args = append(args, "--config", writeConfig(t, tc.file))
			}
			args = append(args, tc.args...)
			// Without --print-config too: a bad file must stop the node
			// before it starts.
			for _, extra := range [][]string{{"--print-config"}, nil} {
				code, _, errOut := runCLI(t, append(args, extra...)...)
				if code != exitUsage {
					t.Fatalf("%v: exit %d, want %d; stderr: %s", extra, code, exitUsage, errOut)
				}
				if !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
					t.Errorf("%v: stderr %q, want one line containing %q", extra, errOut, tc.want)
				}
			}
		})
	}
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

// TestBootstrapRunsFromConfig runs `openpool bootstrap --config` in this
// process: it applies the file's limits and log format, serves the status
// page and metrics, accepts a node and stops cleanly on cancel.
func TestBootstrapRunsFromConfig(t *testing.T) {
	var before syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &before); err != nil {
		t.Fatal(err)
	}
	maxFiles := min(before.Cur, 8192) // lower or equal: always allowed
	dir := t.TempDir()
	path := writeConfig(t, `
data_dir = "`+dir+`"
listen = ["/ip4/127.0.0.1/tcp/0"]
status_addr = "127.0.0.1:0"
nat = false
[limits]
conn_low = 20
conn_high = 40
max_open_files = `+itoa(maxFiles)+`
memory_limit_mib = 1024
[log]
format = "json"
`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"bootstrap", "--config", path}, &stdout, &stderr) }()

	addrLine := lineWith(t, &stdout, "/ip4/127.0.0.1/tcp/", 30*time.Second)
	var apiAddr string
	deadline := time.Now().Add(10 * time.Second)
	for apiAddr == "" && time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(dir, apiFile)); err == nil {
			apiAddr = strings.TrimSpace(string(b))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if apiAddr == "" {
		t.Fatalf("no %s in the configured data directory; stderr:\n%s", apiFile, stderr.String())
	}
	var during syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &during); err != nil || during.Cur != maxFiles {
		t.Errorf("open-file limit while running: %d (%v), want %d", during.Cur, err, maxFiles)
	}

	// A node bootstraps from the printed address.
	m, err := node.New(ctx, node.WithListenAddrs(ma.StringCast("/ip4/127.0.0.1/tcp/0")), node.WithNAT(false), node.WithBootstrap(ma.StringCast(addrLine)))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if err := m.WaitBootstrapped(wctx); err != nil {
		t.Fatalf("node did not reach the bootstrap node: %v", err)
	}

	get := func(p string) string {
		t.Helper()
		resp, err := http.Get("http://" + apiAddr + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", p, resp.Status)
		}
		return string(b)
	}
	// The bootstrap node registers the inbound connection on its own
	// schedule: wait for it before reading every metric.
	metrics := get("/metrics")
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(metrics, "openpool_connected_peers 1\n") && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		metrics = get("/metrics")
	}
	for _, want := range []string{"openpool_connected_peers 1", "openpool_libp2p_streams{direction=", "openpool_rcmgr_connections{direction=\"inbound\"} 1",
		"openpool_rcmgr_fds", `openpool_rcmgr_limit{resource="conns_inbound"}`, "openpool_rcmgr_memory_bytes", "openpool_dht_routing_table_peers", "go_goroutines", "go_gc_heap_live_bytes", "process_open_fds", "process_max_fds " + itoa(maxFiles)} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q; they have:\n%s", want, grepLines(metrics, strings.Fields(strings.Split(want, "{")[0])[0]))
		}
	}
	if !strings.Contains(get("/"), "status.js") {
		t.Errorf("status page not served at /")
	}
	if !strings.Contains(stderr.String(), `"msg":"bootstrap node ready"`) || !strings.Contains(stderr.String(), `"conn_high":40`) {
		t.Errorf("no JSON log line with the limits; stderr:\n%s", stderr.String())
	}

	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d after cancel; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("bootstrap did not stop after cancel")
	}
	if _, err := os.Stat(filepath.Join(dir, apiFile)); !os.IsNotExist(err) {
		t.Errorf("%s left behind: %v", apiFile, err)
	}
	var after syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &after); err != nil || after != before {
		t.Errorf("open-file limit not restored: %+v, want %+v", after, before)
	}
}

// TestExampleBootstrapConfig keeps examples/bootstrap.toml valid: every key
// known, every value accepted (the open-file limit aside, which depends on
// the machine's hard limit).
func TestExampleBootstrapConfig(t *testing.T) {
	c, _, err := loadBootstrapConfig(filepath.Join("..", "..", "examples", "bootstrap.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits.MaxOpenFiles == 0 || c.Limits.ConnHigh == 0 || c.StatusAddr == "" || len(c.Listen) == 0 {
		t.Errorf("example leaves keys out: %+v", c)
	}
	c.Limits.MaxOpenFiles = 0
	if err := c.validate(); err != nil {
		t.Errorf("example config: %v", err)
	}
	f := nodeFlags{listen: c.Listen, bootstrap: c.Bootstrap, heartbeat: 2 * time.Second}
	if _, err := f.options(&globals{home: t.TempDir(), stdout: io.Discard, stderr: io.Discard}); err != nil {
		t.Errorf("example addresses: %v", err)
	}
}

// grepLines returns the lines of s that start with prefix.
func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
