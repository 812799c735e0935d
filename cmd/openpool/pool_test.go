package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPoolCLI: a researcher creates an invite-only pool from a TOML file
// (the shipped example with admission changed), another data directory
// finds it with ls and show, a worker with the owner's invite joins it with
// the real binary, one without is refused with a clear error, and an update
// is seen by show.
func TestPoolCLI(t *testing.T) {
	root := t.TempDir()
	boot := startProc(t, "bootstrap", "--home", filepath.Join(root, "boot"), "bootstrap", "--listen", "/ip4/127.0.0.1/tcp/0", "--nat=false")
	bootAddr := boot.waitLine(30*time.Second, "bootstrap multiaddr", func(l string) bool { return strings.Contains(l, "/p2p/") })
	net := append([]string{"--bootstrap", bootAddr}, localNode[:3]...)

	example, err := os.ReadFile("../../examples/pool.toml")
	if err != nil {
		t.Fatal(err)
	}
	def := filepath.Join(root, "pool.toml")
	body := strings.Replace(string(example), `admission   = "open"`, `admission   = "invite"`, 1)
	if body == string(example) {
		t.Fatal("example pool.toml has no admission line to change")
	}
	if err := os.WriteFile(def, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	research := filepath.Join(root, "research")
	cli := func(home string, args ...string) (string, string, int) {
		t.Helper()
		var out, errb syncBuffer
		code := run(ctx, append([]string{"--home", home}, args...), &out, &errb)
		return out.String(), errb.String(), code
	}
	out, errs, code := cli(research, append([]string{"pool", "create", def}, net...)...)
	if code != 0 {
		t.Fatalf("pool create exited %d: %s%s", code, out, errs)
	}
	var id string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "pool" {
			id = f[1]
		}
	}
	if !strings.HasPrefix(id, "toy-mlp-") || !strings.Contains(out, "invite") {
		t.Fatalf("pool create output: %s", out)
	}

	other := filepath.Join(root, "other")
	out, errs, code = cli(other, append([]string{"pool", "show", id, "--json"}, net...)...)
	if code != 0 {
		t.Fatalf("pool show exited %d: %s%s", code, out, errs)
	}
	var shown struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		Admission string `json:"admission"`
		Seq       uint64 `json:"seq"`
		Owner     string `json:"owner"`
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil || shown.ID != id || shown.Name != "Toy MLP" || shown.Admission != "invite" {
		t.Fatalf("pool show --json: %v: %s", err, out)
	}
	researcherID, _, _ := cli(research, "id")
	if shown.Owner != strings.TrimSpace(researcherID) {
		t.Fatalf("owner %s, researcher is %s", shown.Owner, researcherID)
	}
	out, _, code = cli(other, append([]string{"pool", "ls", "--wait", "0s"}, net...)...)
	if code != 0 || !strings.Contains(out, id) {
		t.Fatalf("pool ls exited %d: %s", code, out)
	}

	// A worker without an invite is refused; one with an invite joins.
	worker := filepath.Join(root, "worker")
	workerID, _, _ := cli(worker, "id")
	workerID = strings.TrimSpace(workerID)
	_, errs, code = cli(worker, append([]string{"join", id, "--json"}, localNode...)...)
	if code != 2 || !strings.Contains(errs, "bootstrap") {
		t.Fatalf("join without --bootstrap: exit %d %s", code, errs)
	}
	_, errs, code = cli(filepath.Join(root, "uninvited"), append([]string{"join", id}, append(net, "--status-addr", "")...)...)
	if code == 0 || !strings.Contains(errs, "invite-only and no invite") {
		t.Fatalf("uninvited join: exit %d: %s", code, errs)
	}
	invFile := filepath.Join(root, "invite.txt")
	if _, errs, code = cli(research, "pool", "invite", id, workerID, "--ttl", "1h", "-o", invFile); code != 0 {
		t.Fatalf("pool invite exited %d: %s", code, errs)
	}
	if _, errs, code = cli(research, "pool", "invite", id, "0x1234"); code != 2 || !strings.Contains(errs, "ledger pool invite") {
		t.Fatalf("invite to an address: exit %d: %s", code, errs)
	}
	// A second invited worker: the two admit each other (each checks the
	// invite in the other's heartbeats).
	worker2 := filepath.Join(root, "worker2")
	worker2ID, _, _ := cli(worker2, "id")
	worker2ID = strings.TrimSpace(worker2ID)
	inv2 := filepath.Join(root, "invite2.txt")
	if _, errs, code = cli(research, "pool", "invite", id, worker2ID, "-o", inv2); code != 0 {
		t.Fatalf("pool invite exited %d: %s", code, errs)
	}
	w := startProc(t, "worker", append([]string{"--home", worker, "join", id, "--invite", invFile, "--json", "--bootstrap", bootAddr}, localNode[:3]...)...)
	w2 := startProc(t, "worker2", append([]string{"--home", worker2, "join", id, "--invite", inv2, "--json", "--bootstrap", bootAddr}, localNode[:3]...)...)
	if got := startedPeer(t, w); got != workerID {
		t.Fatalf("worker started as %s, want %s", got, workerID)
	}
	w.event(60*time.Second, "join", worker2ID)
	w2.event(60*time.Second, "join", workerID)

	// The owner updates the description; show sees the new sequence number.
	if out, errs, code = cli(research, append([]string{"pool", "update", id, "--description", "second version"}, net...)...); code != 0 {
		t.Fatalf("pool update exited %d: %s%s", code, out, errs)
	}
	out, _, code = cli(other, append([]string{"pool", "show", id, "--json"}, net...)...)
	var again struct {
		Seq         uint64 `json:"seq"`
		Description string `json:"description"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &again) != nil || again.Seq <= shown.Seq || again.Description != "second version" {
		t.Fatalf("show after update (exit %d): %s", code, out)
	}
	// Only the owner's data directory can update.
	if _, errs, code = cli(other, append([]string{"pool", "update", id, "--description", "hijack"}, net...)...); code != 2 || !strings.Contains(errs, "only the owner") {
		t.Fatalf("update by a stranger: exit %d: %s", code, errs)
	}
}
