package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openpool/openpool/internal/nodetest"
	"github.com/openpool/openpool/node"
	"github.com/openpool/openpool/p2p"
)

// TestStatusPageInBrowser renders one node's status page in a real headless
// Chromium and checks what a person would see: the pool, its three members
// alive, a contributed section as a table, and then a member that left.
func TestStatusPageInBrowser(t *testing.T) {
	chromium := findChromium(t)
	const pool = "browser-pool"
	boot := nodetest.Bootstrap(t)
	nodes := []*node.Node{nodetest.Node(t, boot, node.WithStatusAddr("127.0.0.1:0")), nodetest.Node(t, boot), nodetest.Node(t, boot)}
	for i, n := range nodes {
		if err := n.Join(context.Background(), pool); err != nil {
			t.Fatalf("node %d join: %v", i, err)
		}
	}
	watcher := nodes[0]
	watcher.SetStatusSection("rounds", func() any {
		return []map[string]any{{"round": 7, "group_size": 3, "outcome": "applied"}, {"round": 8, "group_size": 3, "outcome": "running"}}
	})
	if !nodetest.WaitFor(30*time.Second, func() bool { return nodetest.AliveCount(watcher, pool) == 3 }) {
		t.Fatalf("node 0 sees %d of 3 members alive", nodetest.AliveCount(watcher, pool))
	}
	url := "http://" + watcher.StatusAddr() + "/"

	dom := dumpDOM(t, chromium, url)
	if !strings.Contains(dom, `data-rendered="true"`) {
		t.Fatalf("the page did not render /status; DOM:\n%s", dom)
	}
	if !strings.Contains(dom, `data-pool="`+pool+`"`) {
		t.Errorf("rendered page lacks pool %s", pool)
	}
	states := memberStates(dom)
	for i, n := range nodes {
		if got := states[n.ID().String()]; got != "alive" {
			t.Errorf("member %d (%s) shown as %q, want alive", i, n.ID(), got)
		}
	}
	if len(states) != 3 {
		t.Errorf("page lists %d members, want 3: %v", len(states), states)
	}
	section := regexp.MustCompile(`(?s)data-section="rounds".*?</table>`).FindString(dom)
	for _, want := range []string{"<th>round</th>", "<th>outcome</th>", "<td>7</td>", "<td>running</td>"} {
		if !strings.Contains(section, want) {
			t.Errorf("rounds section lacks %s: %q", want, section)
		}
	}

	// A member leaves: the next render shows it as left, the others alive.
	gone := nodes[2]
	if err := gone.Close(); err != nil {
		t.Fatal(err)
	}
	left := func() bool {
		for _, m := range watcher.Members(pool) {
			if m.ID == gone.ID() {
				return m.State == p2p.StateLeft || m.State == p2p.StateDead
			}
		}
		return true // already forgotten
	}
	if !nodetest.WaitFor(30*time.Second, left) {
		t.Fatalf("node 0 still sees the closed member as live: %+v", watcher.Members(pool))
	}
	states = memberStates(dumpDOM(t, chromium, url))
	if got := states[gone.ID().String()]; got != "left" && got != "dead" && got != "" {
		t.Errorf("closed member shown as %q, want left, dead or absent", got)
	}
	for i, n := range nodes[:2] {
		if got := states[n.ID().String()]; got != "alive" {
			t.Errorf("after the leave, member %d shown as %q, want alive", i, got)
		}
	}
}

// memberStates maps each pool member row of the rendered page (a <tr> with
// data-peer and data-state) to its state.
func memberStates(dom string) map[string]string {
	out := map[string]string{}
	peerRe := regexp.MustCompile(`data-peer="([^"]+)"`)
	stateRe := regexp.MustCompile(`data-state="([^"]+)"`)
	for _, tag := range regexp.MustCompile(`<tr [^>]*class="member[^>]*>`).FindAllString(dom, -1) {
		p, s := peerRe.FindStringSubmatch(tag), stateRe.FindStringSubmatch(tag)
		if p != nil && s != nil {
			out[p[1]] = s[1]
		}
	}
	return out
}

// findChromium returns Debian's Chromium (or $OPENPOOL_CHROMIUM) and skips
// the test when there is none.
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("OPENPOOL_CHROMIUM"); p != "" {
		return p
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("headless browser test skipped: chromium is not installed (Debian: apt-get install --no-install-recommends chromium, or set OPENPOOL_CHROMIUM)")
	}
	return p
}

// dumpDOM loads url in headless Chromium, lets the page's scripts run for
// up to 5 s of virtual time (fetches pause the virtual clock) and returns
// the serialized DOM.
func dumpDOM(t *testing.T, chromium, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	profile := t.TempDir()
	cmd := exec.CommandContext(ctx, chromium,
		"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--disable-extensions", "--disable-breakpad", "--disable-crash-reporter",
		"--user-data-dir="+profile, "--virtual-time-budget=5000", "--dump-dom", url)
	cmd.Env = append(os.Environ(), "HOME="+profile)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium --dump-dom %s: %v\nstderr:\n%s", url, err, tail(stderr.String(), 3000))
	}
	return stdout.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// TestStatusPageServed checks the page's HTTP side without a browser: the
// files, their security headers, the Host check against DNS rebinding and
// contributed sections in /status.
func TestStatusPageServed(t *testing.T) {
	boot := nodetest.Bootstrap(t)
	n := nodetest.Node(t, boot, node.WithStatusAddr("127.0.0.1:0"))
	base := "http://" + n.StatusAddr()
	get := func(path, host string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	for _, tc := range []struct {
		path, host string
		code       int
		ctype      string
		body       string
	}{
		{path: "/", code: 200, ctype: "text/html", body: `src="/statuspage/status.js"`},
		{path: "/", host: "localhost:1234", code: 200, ctype: "text/html"},
		{path: "/statuspage/status.js", code: 200, ctype: "javascript", body: "textContent"},
		{path: "/statuspage/status.css", code: 200, ctype: "text/css"},
		{path: "/statuspage/", code: 404},
		{path: "/nope", code: 404},
		{path: "/", host: "attacker.example", code: http.StatusMisdirectedRequest},
		{path: "/status", host: "attacker.example:80", code: http.StatusMisdirectedRequest},
	} {
		resp, body := get(tc.path, tc.host)
		if resp.StatusCode != tc.code {
			t.Errorf("GET %s (Host %q): %s, want %d", tc.path, tc.host, resp.Status, tc.code)
			continue
		}
		if !strings.Contains(resp.Header.Get("Content-Type"), tc.ctype) {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, resp.Header.Get("Content-Type"), tc.ctype)
		}
		if tc.code == 200 && !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("GET %s: no restrictive Content-Security-Policy: %q", tc.path, resp.Header.Get("Content-Security-Policy"))
		}
		if !strings.Contains(string(body), tc.body) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.body)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.WaitBootstrapped(ctx); err != nil {
		t.Fatal(err)
	}
	n.SetStatusSection("chain", func() any { return map[string]any{"block": 42} })
	n.SetStatusSection("broken", func() any { panic("boom") })
	n.SetStatusSection("unencodable", func() any { return func() {} })
	n.SetStatusSection("removed", func() any { return 1 })
	n.SetStatusSection("removed", nil)
	_, body := get("/status", "")
	var st struct {
		Sections map[string]map[string]any `json:"sections"`
		Peers    []node.PeerStatus         `json:"peers"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("decode /status: %v\n%s", err, body)
	}
	if st.Sections["chain"]["block"] != 42.0 {
		t.Errorf("chain section: %v", st.Sections["chain"])
	}
	if e, _ := st.Sections["broken"]["error"].(string); !strings.Contains(e, "boom") {
		t.Errorf("panicking section: %v", st.Sections["broken"])
	}
	if _, ok := st.Sections["unencodable"]["error"]; !ok {
		t.Errorf("unencodable section: %v", st.Sections["unencodable"])
	}
	if _, ok := st.Sections["removed"]; ok {
		t.Errorf("removed section still listed")
	}
	var bootSeen bool
	for _, p := range st.Peers {
		if p.ID == boot.ID().String() {
			bootSeen = len(p.Addrs) > 0 && p.Direction == "outbound"
		}
	}
	if !bootSeen {
		t.Errorf("peers list lacks the bootstrap node as an outbound peer with an address: %+v", st.Peers)
	}
}

// TestStatusServerRefusesBusyAddr shows the error a user meets when the
// status address is taken.
func TestStatusServerRefusesBusyAddr(t *testing.T) {
	boot := nodetest.Bootstrap(t)
	n := nodetest.Node(t, boot, node.WithStatusAddr("127.0.0.1:0"))
	_, err := node.New(context.Background(), node.WithStatusAddr(n.StatusAddr()), node.WithListenAddrs(nodetest.Loopback), node.WithNAT(false))
	var opErr interface{ Timeout() bool }
	if err == nil || !strings.Contains(err.Error(), "status API") || !errors.As(err, &opErr) {
		t.Fatalf("second node on the same status address: %v", err)
	}
}
