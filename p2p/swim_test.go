package p2p

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

func swimConfig() MembershipConfig {
	return MembershipConfig{Mode: ModeSWIM, Interval: testInterval}
}

// swimPool starts n fully connected stacks that join pool in ModeSWIM.
func swimPool(t *testing.T, n int, pool string) ([]*Stack, []*Membership) {
	t.Helper()
	return swimPoolConfig(t, n, pool, swimConfig())
}

// swimPoolConfig is swimPool with a configuration.
func swimPoolConfig(t *testing.T, n int, pool string, cfg MembershipConfig) ([]*Stack, []*Membership) {
	t.Helper()
	stacks := make([]*Stack, n)
	ms := make([]*Membership, n)
	for i := range stacks {
		stacks[i] = newTestStack(t, Config{})
		for j := 0; j < i; j++ {
			connect(t, stacks[i].Host, stacks[j].Host)
		}
	}
	for i := range stacks {
		ms[i] = join(t, stacks[i], pool, cfg)
	}
	return stacks, ms
}

func waitConverged(t *testing.T, ms []*Membership, want int) {
	t.Helper()
	waitFor(t, 30*time.Second, "convergence", func() bool {
		for _, m := range ms {
			if aliveCount(m) != want {
				return false
			}
		}
		return true
	})
}

func swimTestKey(t testing.TB) (crypto.PrivKey, peer.ID) {
	t.Helper()
	priv, pub, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return priv, id
}

func sampleRecord(t testing.TB) (*MemberRecord, crypto.PrivKey) {
	key, id := swimTestKey(t)
	return &MemberRecord{
		Kind: SwimAlive, Pool: "pool-1", Peer: id, Seq: 1234567890123, Time: time.UnixMilli(1_790_000_000_000),
		OuterStep: 7, CheckpointVersion: 3,
		Hardware:  Hardware{CPUCores: 16, MemoryMiB: 65536, GPUs: 1, GPUMemoryMiB: 81559, BandwidthMbps: 1000, GPUModel: "NVIDIA H100 80GB HBM3"},
		Admission: []byte("invite"),
		Addrs:     []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/4001"), ma.StringCast("/ip4/127.0.0.1/udp/4001/quic-v1")},
	}, key
}

func TestMemberRecordSignVerify(t *testing.T) {
	rec, key := sampleRecord(t)
	raw, err := rec.Sign(key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeMemberRecord(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if got.Peer != rec.Peer || got.Seq != rec.Seq || !got.Time.Equal(rec.Time) || got.Hardware != rec.Hardware ||
		got.OuterStep != 7 || got.CheckpointVersion != 3 || string(got.Admission) != "invite" || len(got.Addrs) != 2 || !got.Addrs[1].Equal(rec.Addrs[1]) {
		t.Fatalf("round trip: got %+v", got)
	}
	if !bytes.Equal(got.Raw(), raw) {
		t.Fatal("Raw differs from the encoding")
	}

	// A record signed by another key, or altered after signing, fails.
	other, _ := swimTestKey(t)
	forged, err := (&MemberRecord{Kind: SwimAlive, Pool: "pool-1", Peer: rec.Peer, Seq: rec.Seq + 1, Time: rec.Time}).Sign(other)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := DecodeMemberRecord(forged); err != nil || !errors.Is(r.Verify(), ErrBadRecordSignature) {
		t.Fatalf("record signed by another key: decode %v, verify %v", err, r.Verify())
	}
	tampered := bytes.Clone(raw)
	tampered[len(tampered)-70] ^= 1 // inside the signed part, before the signature
	if r, err := DecodeMemberRecord(tampered); err == nil && r.Verify() == nil {
		t.Fatal("tampered record verifies")
	}
}

func TestSwimGossipDecode(t *testing.T) {
	_, id := swimTestKey(t)
	sus := Suspicion{Pool: "p", Subject: id, Seq: 42, Time: time.UnixMilli(1_790_000_000_000)}
	data, err := sus.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	rec, got, err := DecodeSwimGossip(data)
	if err != nil || rec != nil || *got != sus {
		t.Fatalf("suspicion round trip: %v %+v %v", rec, got, err)
	}
	def := sus
	def.Definite = true
	ddata, err := def.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if rec, got, err := DecodeSwimGossip(ddata); err != nil || rec != nil || *got != def || bytes.Equal(ddata, data) {
		t.Fatalf("definite suspicion round trip: %v %+v %v", rec, got, err)
	}
	r, key := sampleRecord(t)
	raw, _ := r.Sign(key)
	if rec, got, err := DecodeSwimGossip(raw); err != nil || got != nil || rec.Peer != r.Peer {
		t.Fatalf("record: %v %v %v", rec, got, err)
	}
	for name, bad := range map[string][]byte{
		"empty":     {},
		"version":   {2, 3},
		"kind":      {swimWireVersion, 9},
		"trailing":  append(bytes.Clone(data), 0),
		"truncated": data[:len(data)-1],
		"oversize":  make([]byte, MaxSwimGossipSize+1),
	} {
		if _, _, err := DecodeSwimGossip(bad); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

func TestSwimFrameRoundTrip(t *testing.T) {
	_, id := swimTestKey(t)
	frames := []*swimFrame{
		{Type: swimFramePing, KnownSeq: 5, Seq: 9},
		{Type: swimFramePing, KnownSeq: 5, Seq: 9, Flags: pingSuspected},
		{Type: swimFrameAck, Seq: 9, Flags: ackWantRecord | ackSuspectYou, Records: [][]byte{[]byte("rec")}},
		{Type: swimFramePingReq, Target: id, KnownSeq: 77},
		{Type: swimFrameResult, OK: true},
		{Type: swimFrameSync, Digest: bytes.Repeat([]byte{7}, 32), Records: [][]byte{[]byte("mine")}},
		{Type: swimFrameRecords, Digest: bytes.Repeat([]byte{8}, 32), Records: [][]byte{[]byte("a"), []byte("bb")}},
	}
	for _, f := range frames {
		body, err := f.encode()
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeSwimFrame(body)
		if err != nil {
			t.Fatalf("frame %d: %v", f.Type, err)
		}
		again, _ := got.encode()
		if !bytes.Equal(again, body) || got.Target != f.Target || got.OK != f.OK || got.Flags != f.Flags || len(got.Records) != len(f.Records) {
			t.Fatalf("frame %d: round trip %+v", f.Type, got)
		}
	}
	if _, err := decodeSwimFrame([]byte{swimFrameAck, 1, 4, 0}); err == nil {
		t.Error("unknown ack flags accepted")
	}
	if _, err := decodeSwimFrame([]byte{swimFramePing, 1, 1, 2}); err == nil {
		t.Error("unknown ping flags accepted")
	}
	if _, err := decodeSwimFrame([]byte{99}); err == nil {
		t.Error("unknown frame type accepted")
	}
}

// FuzzMemberRecordDecode: decoding never panics, and what decodes encodes
// back to the same signed bytes.
func FuzzMemberRecordDecode(f *testing.F) {
	rec, key := sampleRecord(f)
	raw, _ := rec.Sign(key)
	f.Add(raw)
	rec.Kind, rec.Addrs, rec.Admission = SwimLeave, nil, nil
	leave, _ := rec.Sign(key)
	f.Add(leave)
	f.Add([]byte{swimWireVersion, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := DecodeMemberRecord(data)
		if err != nil {
			return
		}
		body, err := rec.appendUnsigned(nil)
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		if !bytes.Equal(appendBytes(body, rec.Signature), data) {
			t.Fatalf("non-canonical record accepted: %x", data)
		}
		_ = rec.Verify()
	})
}

// FuzzSwimGossipDecode drives the topic decoder.
func FuzzSwimGossipDecode(f *testing.F) {
	rec, key := sampleRecord(f)
	raw, _ := rec.Sign(key)
	f.Add(raw)
	sus, _ := (&Suspicion{Pool: "p", Subject: rec.Peer, Seq: 3, Time: time.Now()}).MarshalBinary()
	f.Add(sus)
	def, _ := (&Suspicion{Pool: "p", Subject: rec.Peer, Seq: 3, Time: time.Now(), Definite: true}).MarshalBinary()
	f.Add(def)
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, sus, err := DecodeSwimGossip(data)
		if err != nil {
			return
		}
		if (rec == nil) == (sus == nil) {
			t.Fatal("want exactly one of record and suspicion")
		}
		if sus != nil {
			again, err := sus.MarshalBinary()
			if err != nil || !bytes.Equal(again, data) {
				t.Fatalf("non-canonical suspicion accepted: %x (%v)", data, err)
			}
		}
	})
}

// FuzzSwimFrameDecode drives the probe-protocol frame decoder.
func FuzzSwimFrameDecode(f *testing.F) {
	_, id := swimTestKey(f)
	for _, fr := range []*swimFrame{
		{Type: swimFramePing, KnownSeq: 5, Seq: 9, Flags: pingSuspected},
		{Type: swimFrameAck, Seq: 9, Flags: ackWantRecord, Records: [][]byte{[]byte("rec")}},
		{Type: swimFramePingReq, Target: id},
		{Type: swimFrameResult, OK: true},
		{Type: swimFrameRecords, Digest: make([]byte, 32), Records: [][]byte{[]byte("a")}},
	} {
		b, _ := fr.encode()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := decodeSwimFrame(data)
		if err != nil {
			return
		}
		if _, err := fr.encode(); err != nil {
			t.Fatalf("decoded frame does not encode: %v", err)
		}
	})
}

// TestSwimCrashAndDeathrattle: in ModeSWIM a crashed member is declared dead
// by every other member, and a clean exit is seen through its deathrattle.
func TestSwimCrashAndDeathrattle(t *testing.T) {
	stacks, ms := swimPool(t, 6, "swim-fd")
	waitConverged(t, ms, len(ms))
	subs := make([]*Subscription, 4)
	for i := range subs {
		subs[i] = ms[i].Subscribe(0)
	}
	crashed := stacks[5].ID()
	start := time.Now()
	ms[5].Close()
	_ = stacks[5].Close()
	for _, sub := range subs {
		waitEvent(t, sub, EventDead, crashed, 20*testInterval)
	}
	t.Logf("crash seen as dead by all within %v (%.2f intervals)", time.Since(start), float64(time.Since(start))/float64(testInterval))

	left := stacks[4].ID()
	start = time.Now()
	if err := ms[4].Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, sub := range subs {
		t.Logf("stats %d: %+v %v", i, ms[i].Stats(), stateOf(ms[i], left))
		waitEvent(t, sub, EventLeave, left, 2*testInterval+time.Second)
	}
	t.Logf("deathrattle seen by all within %v", time.Since(start))
	for i := range subs {
		if s := stateOf(ms[i], left); s != StateLeft {
			t.Errorf("node %d: %s is %v, want left", i, left, s)
		}
		if s := stateOf(ms[i], crashed); s != StateDead {
			t.Errorf("node %d: %s is %v, want dead", i, crashed, s)
		}
	}
}

// TestSwimLiarCannotKill: a member that keeps publishing suspicions about an
// honest member makes the others suspect it, but the subject refutes with a
// higher incarnation before the (unconfirmed, so longest) suspicion timeout
// and nobody declares it dead.
func TestSwimLiarCannotKill(t *testing.T) {
	stacks, ms := swimPool(t, 4, "swim-liar")
	waitConverged(t, ms, len(ms))
	victim := stacks[0].ID()
	seq0 := ms[1].Members()[0].Seq
	for _, mem := range ms[1].Members() {
		if mem.ID == victim {
			seq0 = mem.Seq
		}
	}
	subs := []*Subscription{ms[1].Subscribe(0), ms[2].Subscribe(0)}
	liar := ms[3]
	for range 10 {
		sus := Suspicion{Pool: liar.Pool(), Subject: victim, Seq: seq0 + 1000, Time: time.Now()}
		data, err := sus.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if err := liar.topic.Publish(context.Background(), data); err != nil {
			t.Fatal(err)
		}
		time.Sleep(testInterval / 2)
	}
	waitFor(t, 10*time.Second, "the victim's refutation", func() bool {
		for _, mem := range ms[1].Members() {
			if mem.ID == victim && mem.Seq > seq0 {
				return true
			}
		}
		return false
	})
	time.Sleep(3 * testInterval)
	for i, sub := range subs {
	drain:
		for {
			select {
			case ev := <-sub.C:
				if ev.Member.ID == victim && (ev.Type == EventDead || ev.Type == EventLeave) {
					t.Errorf("observer %d: %s event for the victim", i+1, ev.Type)
				}
			default:
				break drain
			}
		}
		if s := stateOf(ms[i+1], victim); s != StateAlive {
			t.Errorf("observer %d: victim is %v", i+1, s)
		}
	}
}

// TestSwimJoinerLearnsTable: a member that joins long after the others'
// join announcements, connected to one member only, learns the whole table
// through anti-entropy and probes, and everyone learns it.
func TestSwimJoinerLearnsTable(t *testing.T) {
	stacks, ms := swimPool(t, 5, "swim-sync")
	waitConverged(t, ms, len(ms))
	time.Sleep(8 * testInterval) // the join announcements are over
	late := newTestStack(t, Config{})
	connect(t, late.Host, stacks[0].Host)
	ml := join(t, late, "swim-sync", swimConfig())
	all := append(ms, ml)
	waitConverged(t, all, len(all))
	for _, mem := range ml.Members() {
		if mem.Seq == 0 || mem.State != StateAlive {
			t.Errorf("member %s: seq %d, %v", mem.ID, mem.Seq, mem.State)
		}
	}
	// Its status change reaches the others.
	ml.SetStatus(Status{OuterStep: 12, CheckpointVersion: 4})
	waitFor(t, 10*time.Second, "the new status", func() bool {
		for _, m := range ms {
			ok := false
			for _, mem := range m.Members() {
				ok = ok || (mem.ID == late.ID() && mem.OuterStep == 12 && mem.CheckpointVersion == 4)
			}
			if !ok {
				return false
			}
		}
		return true
	})
}

// TestSwimRejectsBadInput: a non-member connected to every honest node
// publishes malformed, oversize, wrong-pool, spoofed, badly signed, future,
// replayed and non-member messages on the SWIM topic and writes junk on the
// probe protocol. Every honest node refuses and counts them, and the
// attacker never appears in the view.
func TestSwimRejectsBadInput(t *testing.T) {
	const pool = "swim-guarded"
	stacks, ms := swimPool(t, 3, pool)
	waitConverged(t, ms, len(ms))
	attacker := newTestStack(t, Config{})
	for _, s := range stacks {
		connect(t, attacker.Host, s.Host)
	}
	at, err := attacker.PubSub.Join(ms[0].Topic())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the attacker to see the topic's peers", func() bool { return len(at.ListPeers()) >= 3 })
	key := attacker.Host.Peerstore().PrivKey(attacker.ID())
	other, _ := swimTestKey(t)
	rec := func(k crypto.PrivKey, mod func(*MemberRecord)) []byte {
		r := &MemberRecord{Kind: SwimAlive, Pool: pool, Peer: attacker.ID(), Seq: uint64(time.Now().UnixMicro()), Time: time.Now()}
		mod(r)
		raw, err := r.Sign(k)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	sus, _ := (&Suspicion{Pool: pool, Subject: stacks[0].ID(), Seq: 1 << 60, Time: time.Now()}).MarshalBinary()
	oversize := make([]byte, MaxSwimGossipSize+1)
	copy(oversize, rec(key, func(*MemberRecord) {}))
	bad := []struct {
		reason string
		data   []byte
	}{
		{RejectMalformed, []byte("this is not a record")},
		{RejectOversize, oversize},
		{RejectWrongPool, rec(key, func(r *MemberRecord) { r.Pool = "other-pool" })},
		{RejectSpoofed, rec(key, func(r *MemberRecord) { r.Peer = stacks[0].ID() })},
		{RejectBadSignature, rec(other, func(*MemberRecord) {})},
		{RejectFuture, rec(key, func(r *MemberRecord) { r.Time = time.Now().Add(time.Hour) })},
		{RejectReplay, rec(key, func(r *MemberRecord) { r.Time = time.Now().Add(-time.Hour) })},
		{RejectNotMember, sus},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, b := range bad {
		if err := at.Publish(ctx, b.data); err != nil {
			t.Fatalf("publish %s: %v", b.reason, err)
		}
	}
	// Junk on the probe protocol: garbage, an oversize length, a sync from
	// a non-member.
	for _, junk := range [][]byte{{5, 99, 1, 2, 3, 4}, {0xff, 0xff, 0xff, 0x7f}, append([]byte{34, swimFrameSync}, make([]byte, 33)...)} {
		str, err := attacker.Host.NewStream(ctx, stacks[0].ID(), SwimProtocol(pool))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = str.Write(junk)
		_ = str.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _ := str.Read(make([]byte, 64))
		if n > 0 {
			t.Errorf("junk %x got an answer", junk)
		}
		_ = str.Close()
	}
	for i, m := range ms {
		waitFor(t, 10*time.Second, "rejections to be counted", func() bool {
			st := m.Stats()
			for _, b := range bad {
				if st.Rejected[b.reason] == 0 {
					return false
				}
			}
			return true
		})
		for _, mem := range m.Members() {
			if mem.ID == attacker.ID() {
				t.Errorf("node %d lists the attacker as a member", i)
			}
		}
		if s := stateOf(m, stacks[0].ID()); s != StateAlive {
			t.Errorf("node %d: node 0 is %v", i, s)
		}
	}
}

// TestSwimFalseDeathRevived: a member wrongly held dead by another (as after
// an overload) is alive again there once it next pings that member: the ack
// tells it, it refutes with a higher incarnation and sends the new record.
func TestSwimFalseDeathRevived(t *testing.T) {
	stacks, ms := swimPool(t, 3, "swim-revive")
	waitConverged(t, ms, len(ms))
	victim := stacks[0].ID()
	ms[1].mu.Lock()
	mem := ms[1].members[victim]
	old := mem.Seq
	ms[1].swim.markDead(mem, time.Now())
	ms[1].mu.Unlock()
	if s := stateOf(ms[1], victim); s != StateDead {
		t.Fatalf("victim is %v", s)
	}
	waitFor(t, 20*time.Second, "the victim to be alive again", func() bool { return stateOf(ms[1], victim) == StateAlive })
	for _, mem := range ms[1].Members() {
		if mem.ID == victim && mem.Seq <= old {
			t.Errorf("revived at seq %d, not above %d", mem.Seq, old)
		}
	}
}

// TestSwimSuspicionTimeout: the timeout is the longest with one author,
// falls with each independent confirmation, and reaches the shortest at k
// further authors; the bounds grow with log10 of the table.
func TestSwimSuspicionTimeout(t *testing.T) {
	lo, hi := 2*time.Second, 6*time.Second
	prev := hi + 1
	for authors := 1; authors <= 4; authors++ {
		d := suspicionTimeout(lo, hi, authors, 3)
		if d >= prev || d < lo || d > hi {
			t.Errorf("%d authors: %v after %v", authors, d, prev)
		}
		prev = d
	}
	if d := suspicionTimeout(lo, hi, 1, 3); d != hi {
		t.Errorf("one author: %v, want %v", d, hi)
	}
	if d := suspicionTimeout(lo, hi, 4, 3); d != lo {
		t.Errorf("four authors: %v, want %v", d, lo)
	}
	if d := suspicionTimeout(lo, hi, 9, 3); d != lo {
		t.Errorf("nine authors: %v, want %v", d, lo)
	}
	s := &swimState{m: &Membership{cfg: swimConfig().withDefaults(), members: map[peer.ID]*Member{}}}
	small, _ := s.suspicionBounds()
	for i := range 1000 {
		s.m.members[peer.ID(fmt.Sprint(i))] = &Member{State: StateAlive}
	}
	big, bigHi := s.suspicionBounds()
	if big != 3*small || bigHi != time.Duration(float64(big)*s.m.cfg.SuspectMaxMult) {
		t.Errorf("bounds at 1000 members %v..%v, at 0 members %v", big, bigHi, small)
	}
}

// TestSwimConfirmationsAndHealth: suspicions from distinct authors count
// once each up to IndirectProbes+1; an own probe that only helpers could
// complete, or whose helpers did not answer, raises the local health
// multiplier (bounded), and a direct answer lowers it.
func TestSwimConfirmationsAndHealth(t *testing.T) {
	stacks, ms := swimPool(t, 3, "swim-confirm")
	waitConverged(t, ms, len(ms))
	m := ms[0]
	subject := stacks[1].ID()
	m.mu.Lock()
	mem := m.members[subject]
	for i := range 10 {
		m.swim.suspect(mem, peer.ID(fmt.Sprint("author", i%6)), time.Now())
	}
	m.swim.suspect(mem, peer.ID("author0"), time.Now())
	if got, want := len(m.swim.confirmed[subject]), m.cfg.IndirectProbes+1; got != want || mem.State != StateSuspect {
		t.Errorf("confirmations %d (want %d), state %v", got, want, mem.State)
	}
	m.mu.Unlock()
	ctx := context.Background()
	for range 2 * m.cfg.AwarenessMax {
		m.mu.Lock()
		m.probing[subject] = true
		m.mu.Unlock()
		m.swim.probeDone(ctx, subject, probeResult{alive: true}, time.Now())
	}
	if h := m.Stats().LocalHealth; h != m.cfg.AwarenessMax {
		t.Errorf("health after indirect-only answers: %d, want %d", h, m.cfg.AwarenessMax)
	}
	if s := stateOf(m, subject); s != StateAlive {
		t.Errorf("subject is %v after it answered", s)
	}
	m.swim.probeDone(ctx, subject, probeResult{alive: true, direct: true}, time.Now())
	if h := m.Stats().LocalHealth; h != m.cfg.AwarenessMax-1 {
		t.Errorf("health after a direct answer: %d, want %d", h, m.cfg.AwarenessMax-1)
	}
	m.swim.probeDone(ctx, subject, probeResult{missed: 2}, time.Now())
	if h := m.Stats().LocalHealth; h != m.cfg.AwarenessMax {
		t.Errorf("health after missed helper answers: %d, want %d", h, m.cfg.AwarenessMax)
	}
}

// TestSwimMutualFalseDeathHeals: two members that hold each other dead (as
// the two sides of a partition do once it heals) never probe each other in
// the round-robin, and their records do not change; reaching out to a dead
// member with the suspected flag makes them refute and revives both. (A
// pool of two, whose dead are not forgotten within the test: no third
// member can heal them by a ping-req or by teaching a forgotten record.)
func TestSwimMutualFalseDeathHeals(t *testing.T) {
	cfg := swimConfig()
	cfg.ForgetAfter = 10 * time.Minute
	stacks, ms := swimPoolConfig(t, 2, "swim-heal", cfg)
	waitConverged(t, ms, len(ms))
	time.Sleep(10 * testInterval) // past the repeats of the join announcements, which would revive them
	for _, pair := range [][2]int{{0, 1}, {1, 0}} {
		m := ms[pair[0]]
		m.mu.Lock()
		m.swim.markDead(m.members[stacks[pair[1]].ID()], time.Now())
		m.mu.Unlock()
	}
	if stateOf(ms[0], stacks[1].ID()) != StateDead || stateOf(ms[1], stacks[0].ID()) != StateDead {
		t.Fatal("not dead to each other")
	}
	waitFor(t, 30*time.Second, "both to be alive to each other again", func() bool {
		return stateOf(ms[0], stacks[1].ID()) == StateAlive && stateOf(ms[1], stacks[0].ID()) == StateAlive
	})
}
