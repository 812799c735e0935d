package p2p

import (
	"context"
	"encoding/binary"
	"log/slog"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"
)

var quiet = slog.New(slog.DiscardHandler)

const testInterval = 200 * time.Millisecond

func newTestStack(t *testing.T, cfg Config) *Stack {
	t.Helper()
	cfg.ListenAddrs = []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}
	cfg.Unlimited = true
	cfg.Logger = quiet
	s, err := NewStack(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func connect(t *testing.T, a, b host.Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
}

func join(t *testing.T, s *Stack, pool string, cfg MembershipConfig) *Membership {
	t.Helper()
	m, err := JoinMembership(context.Background(), s.Host, s.PubSub, pool, WithMembershipConfig(cfg), WithMembershipLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// testPool starts n fully connected stacks that all join pool in
// ModeHeartbeat (swim_test.go covers ModeSWIM).
func testPool(t *testing.T, n int, pool string) ([]*Stack, []*Membership) {
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
		ms[i] = join(t, stacks[i], pool, MembershipConfig{Mode: ModeHeartbeat, Interval: testInterval})
	}
	return stacks, ms
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func aliveCount(m *Membership) int {
	n := 0
	for _, mem := range m.Members() {
		if mem.State == StateAlive {
			n++
		}
	}
	return n
}

func stateOf(m *Membership, id peer.ID) MemberState {
	for _, mem := range m.Members() {
		if mem.ID == id {
			return mem.State
		}
	}
	return 0
}

// waitEvent reads sub until an event of type typ about id arrives.
func waitEvent(t *testing.T, sub *Subscription, typ EventType, id peer.ID, timeout time.Duration) Event {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-sub.C:
			if !ok {
				t.Fatal("subscription closed")
			}
			if ev.Type == typ && ev.Member.ID == id {
				return ev
			}
		case <-timer.C:
			t.Fatalf("no %s event for %s within %v", typ, id, timeout)
		}
	}
}

func TestMembershipCrashAndDeathrattle(t *testing.T) {
	stacks, ms := testPool(t, 5, "fd")
	waitFor(t, 20*time.Second, "convergence", func() bool {
		for _, m := range ms {
			if aliveCount(m) != len(ms) {
				return false
			}
		}
		return true
	})
	subs := make([]*Subscription, 3)
	for i := range subs {
		subs[i] = ms[i].Subscribe(0)
	}

	// Crash: node 4 stops without a deathrattle and its host disappears.
	crashed := stacks[4].ID()
	ms[4].Close()
	_ = stacks[4].Close()
	for i, sub := range subs {
		ev := waitEvent(t, sub, EventDead, crashed, 10*testInterval)
		if silent := ev.Time.Sub(ev.Member.LastSeen); silent < time.Duration(3*float64(testInterval)) {
			t.Errorf("node %d declared %s dead after only %v of silence", i, crashed, silent)
		}
	}

	// Clean exit: node 3's deathrattle makes it "left" without waiting for
	// the failure detector.
	left := stacks[3].ID()
	start := time.Now()
	if err := ms[3].Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, sub := range subs {
		waitEvent(t, sub, EventLeave, left, 2*testInterval+time.Second)
	}
	t.Logf("deathrattle seen by all within %v", time.Since(start))
	for i := 0; i < 3; i++ {
		if s := stateOf(ms[i], left); s != StateLeft {
			t.Errorf("node %d: %s is %v, want left", i, left, s)
		}
		if s := stateOf(ms[i], crashed); s != StateDead {
			t.Errorf("node %d: %s is %v, want dead", i, crashed, s)
		}
	}
}

// TestMembershipRejectsBadInput: an attacker connected to every honest node
// publishes malformed, oversize, wrong-pool, spoofed and unsigned messages.
// Every honest node rejects and counts them, and none appears in the view.
func TestMembershipRejectsBadInput(t *testing.T) {
	const pool = "guarded"
	stacks, ms := testPool(t, 3, pool)
	topicName := TopicName(pool, "membership")

	attacker := newTestStack(t, Config{})
	unsignedHost, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.ResourceManager(&network.NullResourceManager{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unsignedHost.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	unsignedPS, err := pubsub.NewGossipSub(ctx, unsignedHost, pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign), pubsub.WithNoAuthor())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stacks {
		connect(t, attacker.Host, s.Host)
		connect(t, unsignedHost, s.Host)
	}
	at, err := attacker.PubSub.Join(topicName)
	if err != nil {
		t.Fatal(err)
	}
	ut, err := unsignedPS.Join(topicName)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "attackers to see the topic's peers", func() bool {
		return len(at.ListPeers()) >= 3 && len(ut.ListPeers()) >= 3
	})

	hb := func(mod func(*Heartbeat)) []byte {
		h := Heartbeat{Kind: KindHeartbeat, Pool: pool, Peer: attacker.ID(), Seq: uint64(time.Now().UnixMicro()), Time: time.Now()}
		mod(&h)
		data, err := h.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	oversize := make([]byte, MaxMembershipMessageSize+100)
	copy(oversize, hb(func(*Heartbeat) {}))
	bad := []struct {
		reason string
		data   []byte
	}{
		{RejectMalformed, []byte("this is not a heartbeat")},
		{RejectOversize, oversize},
		{RejectWrongPool, hb(func(h *Heartbeat) { h.Pool = "other-pool" })},
		{RejectSpoofed, hb(func(h *Heartbeat) { h.Peer = stacks[0].ID() })},
		{RejectFuture, hb(func(h *Heartbeat) { h.Time = time.Now().Add(time.Hour) })},
		{RejectReplay, hb(func(h *Heartbeat) { h.Time = time.Now().Add(-time.Hour) })},
	}
	for _, b := range bad {
		if err := at.Publish(ctx, b.data); err != nil {
			t.Fatalf("publish %s: %v", b.reason, err)
		}
	}
	if err := ut.Publish(ctx, hb(func(*Heartbeat) {})); err != nil {
		t.Fatalf("publish unsigned: %v", err)
	}

	for i, m := range ms {
		waitFor(t, 10*time.Second, "rejections to be counted", func() bool {
			st := m.Stats()
			for _, b := range bad {
				if st.Rejected[b.reason] == 0 {
					return false
				}
			}
			return stacks[i].Rejects.Count(topicName, pubsub.RejectMissingSignature) > 0
		})
		for _, mem := range m.Members() {
			if mem.ID == attacker.ID() || mem.ID == unsignedHost.ID() {
				t.Errorf("node %d lists attacker %s as a member", i, mem.ID)
			}
		}
		// Structural faults are rejected (the relay is penalised); timing
		// faults are ignored (a late relay may be honest).
		if got := stacks[i].Rejects.Count(topicName, pubsub.RejectValidationFailed); got < 4 {
			t.Errorf("node %d: gossipsub counted %d validation failures, want >= 4", i, got)
		}
		if got := stacks[i].Rejects.Count(topicName, pubsub.RejectValidationIgnored); got < 2 {
			t.Errorf("node %d: gossipsub counted %d ignored messages, want >= 2", i, got)
		}
	}
	// The honest members are unaffected.
	waitFor(t, 5*time.Second, "honest view", func() bool { return aliveCount(ms[0]) == 3 })
}

// TestMembershipReplay: a heartbeat captured off the wire and replayed later
// to a node that never saw it is refused: as stale when the node already has
// a newer one from that peer, as a replay when it is older than MaxAge.
func TestMembershipReplay(t *testing.T) {
	const pool = "replay"
	stacks, ms := testPool(t, 2, pool)
	waitFor(t, 10*time.Second, "convergence", func() bool { return aliveCount(ms[0]) == 2 && aliveCount(ms[1]) == 2 })

	// An eavesdropper subscribed to the topic captures one heartbeat of node 0.
	spy := newTestStack(t, Config{})
	connect(t, spy.Host, stacks[0].Host)
	st, err := spy.PubSub.Join(TopicName(pool, "membership"))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := st.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var captured *pb.Message
	for captured == nil {
		msg, err := sub.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if msg.GetFrom() == stacks[0].ID() {
			captured = msg.Message
		}
	}
	// Wait until gossip no longer offers it (IHAVE covers 3 s), so a new node
	// can only get it from the replayer.
	time.Sleep(4 * time.Second)

	fresh := newTestStack(t, Config{})  // MaxAge 10 s: the replay is merely stale
	strict := newTestStack(t, Config{}) // MaxAge 2 s: the replay is too old
	// The replayer is a bare host without pubsub: gossipsub resets a second
	// inbound stream from a peer, so a replayer whose own pubsub had opened
	// its stream first would lose the raw one (a flake before).
	replayer, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.ResourceManager(&network.NullResourceManager{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = replayer.Close() })
	for _, s := range []*Stack{fresh, strict} {
		connect(t, s.Host, stacks[0].Host)
		connect(t, s.Host, stacks[1].Host)
		connect(t, replayer, s.Host)
	}
	mFresh := join(t, fresh, pool, MembershipConfig{Mode: ModeHeartbeat, Interval: testInterval, MaxAge: 10 * time.Second})
	mStrict := join(t, strict, pool, MembershipConfig{Mode: ModeHeartbeat, Interval: testInterval, MaxAge: 2 * time.Second})
	waitFor(t, 10*time.Second, "new nodes to hear node 0", func() bool {
		return stateOf(mFresh, stacks[0].ID()) == StateAlive && stateOf(mStrict, stacks[0].ID()) == StateAlive
	})
	for _, s := range []*Stack{fresh, strict} {
		sendRawPublish(t, replayer, s.ID(), captured)
	}
	waitFor(t, 5*time.Second, "replay to be refused", func() bool {
		return mFresh.Stats().Rejected[RejectStale] > 0 && mStrict.Stats().Rejected[RejectReplay] > 0
	})
}

// sendRawPublish writes one gossipsub RPC carrying msg, byte for byte as
// captured, on a fresh pubsub stream from h to to.
func sendRawPublish(t *testing.T, h host.Host, to peer.ID, msg *pb.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := h.NewStream(ctx, to, pubsub.GossipSubID_v11)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rpc := &pb.RPC{Subscriptions: []*pb.RPC_SubOpts{{Subscribe: ptr(true), Topicid: msg.Topic}}, Publish: []*pb.Message{msg}}
	data, err := proto.Marshal(rpc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(binary.AppendUvarint(nil, uint64(len(data)))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(data); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the reader take it before the stream closes
}

func ptr[T any](v T) *T { return &v }
