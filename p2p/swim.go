package p2p

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"syscall"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"
)

// The SWIM mode (MembershipConfig.Mode = ModeSWIM) keeps the table of
// ModeHeartbeat with traffic per node that does not grow with the pool:
//
//   - Failure detection: every Interval/ProbesPerInterval a node pings the
//     next member of a shuffled round-robin list over the pool's probe
//     protocol. A member that misses the direct ping is pinged through
//     IndirectProbes other members. If that fails too the member is suspect
//     and the node publishes a Suspicion on the pool topic; a definite
//     failure (connection refused, protocol gone) makes it dead at once.
//   - Suspicions follow Lifeguard (Dadgar et al., 2018): a receiver marks
//     the subject suspect and declares it dead unless it refutes within the
//     suspicion timeout, which starts long and shrinks with each
//     independent suspicion from another member. The subject refutes by
//     publishing a new record with a higher seq (incarnation); a prober
//     that holds its target as suspect says so in the ping, so the target
//     refutes even if it missed the gossip. Only a definite suspicion makes
//     receivers probe the subject themselves (a crash is then seen by all
//     within about one probe), so suspicions cost no probe storm when an
//     overloaded pool times out: the storm that made 50 in-process members
//     accuse each other faster than they could refute.
//   - Local health (Lifeguard): a node that misses answers it should have
//     had counts itself slow and stretches its probe period and timeout
//     (MembershipConfig.AwarenessMax).
//   - Dissemination: only changes go on the topic: a member's signed record
//     when it joins (repeated 1, 3 and 7 intervals later), changes its
//     status (at most once per interval) or refutes a suspicion, and its
//     signed deathrattle when it leaves.
//   - Anti-entropy: every SyncEvery intervals (every interval until the
//     first exchange succeeds) a node sends a digest of its table and its
//     own record to one random member; if the digests differ the two
//     exchange the records the other lacks. Probe acks also carry the
//     target's record when the prober's copy is older, and ask for the
//     prober's when the target's is.
//
// Every record is signed by its subject, so it can travel through any
// member; every record, suspicion and frame is bounded in size.

// swimState is the SWIM part of a Membership; its maps are guarded by m.mu.
type swimState struct {
	m     *Membership
	key   crypto.PrivKey
	proto protocol.ID

	self        *MemberRecord
	records     map[peer.ID][]byte    // latest record of each alive or suspect member
	suspectedAt map[peer.ID]time.Time // when a suspicion began
	confirmed   map[peer.ID][]peer.ID // authors of the current suspicion (at most IndirectProbes+1)
	lastIP      map[peer.ID]string    // IP this node last reached each member on
	definite    map[peer.ID]bool      // a definite suspicion of the member is being checked
	sent        map[peer.ID]uint64    // seq of the last suspicion this node published per subject
	hintProbe   map[peer.ID]time.Time // last probe started on a definite suspicion
	reprobe     map[peer.ID]bool      // a definite suspicion arrived while a probe ran
	health      int                   // local health multiplier, 0..AwarenessMax
	ticks       int                   // protocol periods so far
	order       []peer.ID             // round-robin probe order
	next        int
	leaving     bool
	dirty       bool // status changed since the last record
	lastPublish time.Time
	lastRefute  time.Time
	synced      bool
	nextSync    time.Time
	announce    []time.Time // pending repeats of the join announcement
	syncing     bool

	ops     chan struct{} // bounds probes and syncs in flight
	handles chan struct{} // bounds inbound streams in service
}

const (
	maxSwimOps     = 64
	maxSwimHandles = 64
)

// SwimProtocol returns the probe protocol ID of a pool.
func SwimProtocol(pool string) protocol.ID {
	return protocol.ID("/openpool/pool/" + pool + "/swim/1.0.0")
}

func newSwimState(m *Membership) (*swimState, error) {
	key := m.h.Peerstore().PrivKey(m.h.ID())
	if key == nil {
		return nil, fmt.Errorf("p2p: pool %s: swim: no private key for %s", m.pool, m.h.ID())
	}
	return &swimState{
		m:           m,
		key:         key,
		proto:       SwimProtocol(m.pool),
		records:     make(map[peer.ID][]byte),
		suspectedAt: make(map[peer.ID]time.Time),
		confirmed:   make(map[peer.ID][]peer.ID),
		lastIP:      make(map[peer.ID]string),
		definite:    make(map[peer.ID]bool),
		sent:        make(map[peer.ID]uint64),
		hintProbe:   make(map[peer.ID]time.Time),
		reprobe:     make(map[peer.ID]bool),
		ops:         make(chan struct{}, maxSwimOps),
		handles:     make(chan struct{}, maxSwimHandles),
	}, nil
}

// start signs the first record, adds this node to its table and starts
// serving the probe protocol; m.mu must not be held.
func (s *swimState) start(now time.Time) error {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := s.newSelfRecord(SwimAlive, now); err != nil {
		return err
	}
	mem := &Member{ID: m.h.ID(), Self: true}
	m.members[mem.ID] = mem
	s.fill(mem, s.self)
	mem.LastSeen = now
	m.setState(mem, StateAlive, now)
	m.emit(EventJoin, mem, now)
	iv := m.cfg.Interval
	s.announce = []time.Time{now, now.Add(iv), now.Add(3 * iv), now.Add(7 * iv)}
	s.nextSync = now.Add(iv / 4)
	m.h.SetStreamHandler(s.proto, s.handle)
	return nil
}

// newSelfRecord signs a new record of this node with a higher seq; m.mu
// must be held.
func (s *swimState) newSelfRecord(kind SwimKind, now time.Time) ([]byte, error) {
	m := s.m
	m.seq = max(m.seq+1, uint64(now.UnixMicro()))
	rec := &MemberRecord{
		Kind:              kind,
		Pool:              m.pool,
		Peer:              m.h.ID(),
		Seq:               m.seq,
		Time:              now,
		OuterStep:         m.status.OuterStep,
		CheckpointVersion: m.status.CheckpointVersion,
		Hardware:          m.status.Hardware,
		Admission:         m.admission,
	}
	if kind == SwimAlive {
		rec.Addrs = m.h.Addrs()
	}
	raw, err := rec.Sign(s.key)
	if err != nil {
		return nil, fmt.Errorf("p2p: pool %s: sign member record: %w", m.pool, err)
	}
	s.self = rec
	if mem := m.members[rec.Peer]; mem != nil {
		s.fill(mem, rec)
	}
	s.records[rec.Peer] = raw
	m.highest[rec.Peer] = rec.Seq
	return raw, nil
}

// fill copies what a record says into the member.
func (s *swimState) fill(mem *Member, rec *MemberRecord) {
	mem.Seq = rec.Seq
	mem.OuterStep = rec.OuterStep
	mem.CheckpointVersion = rec.CheckpointVersion
	mem.Hardware = rec.Hardware
}

// publish puts raw on the pool topic in the background; m.mu must be held.
func (s *swimState) publish(ctx context.Context, raw []byte) {
	if s.m.closed {
		return
	}
	s.m.wg.Add(1)
	go func() {
		defer s.m.wg.Done()
		pctx, cancel := context.WithTimeout(ctx, s.m.cfg.Interval)
		defer cancel()
		if err := s.m.topic.Publish(pctx, raw); err != nil && ctx.Err() == nil {
			s.m.log.Debug("swim: publish", "err", err)
		}
	}()
}

// run is the protocol period loop: probes, suspicion timeouts, record
// publication and anti-entropy. It closes m.beatDone when it returns.
//
// A change of this host's addresses (a relay reservation behind a NAT, a
// new observed address) marks the record for republication, so that the
// others learn the addresses they can reach it on.
func (s *swimState) run(ctx context.Context, runCtx context.Context) {
	defer close(s.m.beatDone)
	period := s.m.cfg.Interval / time.Duration(s.m.cfg.ProbesPerInterval)
	t := time.NewTicker(period)
	defer t.Stop()
	var addrs <-chan any
	if sub, err := s.m.h.EventBus().Subscribe(new(event.EvtLocalAddressesUpdated)); err == nil {
		defer func() { _ = sub.Close() }()
		addrs = sub.Out()
	}
	s.tick(ctx, runCtx, time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.tick(ctx, runCtx, now)
		case ev := <-addrs:
			if e, ok := ev.(event.EvtLocalAddressesUpdated); ok && e.Diffs {
				s.m.log.Debug("swim: local addresses changed; republishing the record", "addrs", s.m.h.Addrs())
				s.m.mu.Lock()
				s.dirty = true
				s.m.mu.Unlock()
			}
		}
	}
}

func (s *swimState) tick(ctx, runCtx context.Context, now time.Time) {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || s.leaving {
		return
	}
	iv := m.cfg.Interval
	if self := m.members[m.h.ID()]; self != nil {
		self.LastSeen = now
	}
	// Publication: join announcements, then status changes at most once
	// per interval.
	switch {
	case len(s.announce) > 0 && !now.Before(s.announce[0]):
		// Each repeat is signed afresh, so that its time passes MaxAge
		// however late in the schedule it comes.
		s.announce = s.announce[1:]
		raw, err := s.newSelfRecord(SwimAlive, now)
		if err != nil {
			m.log.Warn("swim: record", "err", err)
			break
		}
		s.dirty, s.lastPublish = false, now
		s.publish(runCtx, raw)
	case s.dirty && now.Sub(s.lastPublish) >= iv:
		raw, err := s.newSelfRecord(SwimAlive, now)
		if err != nil {
			m.log.Warn("swim: record", "err", err)
			break
		}
		s.dirty, s.lastPublish = false, now
		s.publish(runCtx, raw)
	}
	// Suspicion timeouts and forgetting.
	lo, hi := s.suspicionBounds()
	for id, mem := range m.members {
		switch mem.State {
		case StateSuspect:
			at, ok := s.suspectedAt[id]
			if ok && now.Sub(at) >= suspicionTimeout(lo, hi, len(s.confirmed[id]), m.cfg.IndirectProbes) && !m.probing[id] {
				s.markDead(mem, now)
			}
		case StateDead, StateLeft:
			if now.Sub(mem.Since) >= m.cfg.ForgetAfter {
				delete(m.members, id)
				delete(m.highest, id)
				delete(s.sent, id)
				delete(s.lastIP, id)
				delete(s.definite, id)
				delete(s.hintProbe, id)
				delete(s.reprobe, id)
			}
		}
	}
	// One probe per period (per 1+health periods on a slow node),
	// round-robin over a shuffled list.
	s.ticks++
	if s.ticks%(1+s.health) == 0 {
		if id, ok := s.nextTarget(); ok {
			s.startProbe(runCtx, id)
		}
	}
	// Anti-entropy, and reaching out to one member held dead.
	if !s.syncing && !now.Before(s.nextSync) {
		s.syncing = true
		members := s.aliveOthers("")
		var dead []peer.ID
		for id, mem := range m.members {
			if mem.State == StateDead {
				dead = append(dead, id)
			}
		}
		timeout := s.probeTimeout()
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			var gained bool
			var err error
			// Asked without m.mu, as it waits for the gossipsub loop.
			topicPeers := m.topic.ListPeers()
			if len(members) == 0 {
				// No member known yet: any peer on the topic will do.
				members = topicPeers
			}
			if len(members) > 0 {
				target := members[rand.IntN(len(members))]
				if gained, err = s.sync(runCtx, target); err != nil {
					m.log.Debug("swim: anti-entropy", "peer", target, "err", err)
				}
			}
			s.reachOut(runCtx, dead, topicPeers, timeout)
			m.mu.Lock()
			defer m.mu.Unlock()
			s.syncing = false
			if len(members) > 0 && err == nil && (gained || len(m.members) > 1) {
				s.synced = true
			}
		}()
		next := iv
		if s.synced {
			// Jitter keeps the exchanges of a pool spread out.
			next = time.Duration(float64(m.cfg.after(m.cfg.SyncEvery)) * (0.75 + 0.5*rand.Float64()))
		}
		s.nextSync = now.Add(next)
	}
}

// reachOut pings one random peer that this node holds dead, or that is on
// the pool topic but not in its table, with the suspected flag: a member
// wrongly held dead (across a partition that healed, or after an overload)
// refutes, and its ack carries the new record that revives it here; if it
// holds this node dead in turn, this node refutes on the same stream. Without
// it, two sides of a healed partition would never probe each other again.
func (s *swimState) reachOut(ctx context.Context, dead, topicPeers []peer.ID, timeout time.Duration) {
	m := s.m
	m.mu.Lock()
	cands := dead
	for _, id := range topicPeers {
		if mem := m.members[id]; mem == nil && !slices.Contains(cands, id) {
			cands = append(cands, id)
		}
	}
	m.mu.Unlock()
	if len(cands) == 0 {
		return
	}
	id := cands[rand.IntN(len(cands))]
	if ok, _ := s.ping(ctx, id, 0, true, timeout); !ok {
		m.log.Debug("swim: reach out", "peer", id)
	}
}

// nextTarget returns the next member to probe; m.mu must be held.
func (s *swimState) nextTarget() (peer.ID, bool) {
	m := s.m
	for range 2 {
		for s.next < len(s.order) {
			id := s.order[s.next]
			s.next++
			if mem := m.members[id]; mem != nil && !mem.Self && (mem.State == StateAlive || mem.State == StateSuspect) {
				return id, true
			}
		}
		s.order = s.order[:0]
		for id, mem := range m.members {
			if !mem.Self && (mem.State == StateAlive || mem.State == StateSuspect) {
				s.order = append(s.order, id)
			}
		}
		rand.Shuffle(len(s.order), func(i, j int) { s.order[i], s.order[j] = s.order[j], s.order[i] })
		s.next = 0
	}
	return "", false
}

// aliveOthers returns the alive members other than this node and except;
// m.mu must be held.
func (s *swimState) aliveOthers(except peer.ID) []peer.ID {
	var ids []peer.ID
	for id, mem := range s.m.members {
		if !mem.Self && id != except && mem.State == StateAlive {
			ids = append(ids, id)
		}
	}
	return ids
}

// helpers returns up to k random alive members other than target; m.mu
// must be held.
func (s *swimState) helpers(target peer.ID, k int) []peer.ID {
	ids := s.aliveOthers(target)
	rand.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	return ids[:min(k, len(ids))]
}

// startProbe probes id in the background unless a probe of it is running
// or no slot is free; m.mu must be held.
func (s *swimState) startProbe(ctx context.Context, id peer.ID) {
	m := s.m
	if m.probing[id] || m.closed {
		return
	}
	select {
	case s.ops <- struct{}{}:
	default:
		return
	}
	mem := m.members[id]
	known, suspected := mem.Seq, mem.State == StateSuspect
	var helpers []peer.ID
	if !s.definite[id] {
		// Checking a definite suspicion needs no helpers: any failure
		// to reach the member confirms it (see probeDone).
		helpers = s.helpers(id, m.cfg.IndirectProbes)
	}
	timeout := s.probeTimeout()
	m.probing[id] = true
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer func() { <-s.ops }()
		res := s.probe(ctx, id, known, suspected, timeout, helpers)
		if ctx.Err() != nil {
			m.mu.Lock()
			delete(m.probing, id)
			m.mu.Unlock()
			return
		}
		s.probeDone(ctx, id, res, time.Now())
	}()
}

// probeResult is what one probe learnt.
type probeResult struct {
	alive    bool // id answered, directly or through a helper
	direct   bool // id answered the direct ping
	definite bool // the direct ping failed definitely (only when !alive)
	missed   int  // helpers that sent no result at all (Lifeguard's missed nacks)
}

// probe pings id directly within timeout, then through helpers.
func (s *swimState) probe(ctx context.Context, id peer.ID, known uint64, suspected bool, timeout time.Duration, helpers []peer.ID) probeResult {
	ok, definite := s.ping(ctx, id, known, suspected, timeout)
	if ok {
		return probeResult{alive: true, direct: true}
	}
	if len(helpers) == 0 {
		return probeResult{definite: definite}
	}
	type answer struct{ ok, answered bool }
	results := make(chan answer, len(helpers))
	ictx, cancel := context.WithTimeout(ctx, s.m.cfg.Interval+2*timeout)
	defer cancel()
	for _, h := range helpers {
		go func() {
			ok, answered := s.pingReq(ictx, h, id, known)
			results <- answer{ok, answered}
		}()
	}
	// Every helper goroutine is waited for (the first answer cancels the
	// others), so none outlives the probe.
	res := probeResult{definite: definite}
	for range helpers {
		a := <-results
		switch {
		case a.ok:
			res.alive, res.definite = true, false
			cancel()
		case !a.answered && !res.alive:
			res.missed++
		}
	}
	return res
}

func (s *swimState) probeDone(ctx context.Context, id peer.ID, res probeResult, now time.Time) {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.probing, id)
	switch {
	case res.direct:
		s.adjustHealth(-1)
	case res.alive, res.missed > 0:
		// Others reached the target, or could not even answer this node:
		// the slow one is probably this node.
		s.adjustHealth(+1)
	}
	mem := m.members[id]
	if m.closed || mem == nil || (mem.State != StateAlive && mem.State != StateSuspect) {
		return
	}
	if res.alive {
		s.markAlive(mem, now)
		if s.reprobe[id] {
			// The answer may predate a definite suspicion: probe again.
			delete(s.reprobe, id)
			s.hintProbe[id] = now
			s.startProbe(ctx, id)
		}
		return
	}
	delete(s.reprobe, id)
	s.suspect(mem, m.h.ID(), now)
	// Another member saw a definite failure and this node cannot reach the
	// member either: dead. (A member that lies about a definite failure
	// cannot kill: the check of a live member succeeds.)
	confirmed := res.definite || s.definite[id]
	if res.definite || s.sent[id] < mem.Seq {
		// Tell the others: an independent suspicion shortens their
		// timeout, a definite one makes them look for themselves.
		s.sent[id] = mem.Seq
		sus := Suspicion{Pool: m.pool, Subject: id, Seq: mem.Seq, Time: now, Definite: res.definite}
		if data, err := sus.MarshalBinary(); err == nil {
			s.publish(ctx, data)
		}
	}
	if confirmed {
		s.markDead(mem, now)
	}
}

// suspect marks mem suspect on the word of author (this node or the
// signer of a suspicion), or adds author to the confirmations of a running
// suspicion; m.mu must be held.
func (s *swimState) suspect(mem *Member, author peer.ID, now time.Time) {
	if mem.State == StateAlive {
		s.suspectedAt[mem.ID] = now
		s.confirmed[mem.ID] = []peer.ID{author}
		s.m.setState(mem, StateSuspect, now)
		s.m.emit(EventSuspect, mem, now)
		return
	}
	if _, ok := s.suspectedAt[mem.ID]; !ok {
		s.suspectedAt[mem.ID] = now
	}
	c := s.confirmed[mem.ID]
	if len(c) <= s.m.cfg.IndirectProbes && !slices.Contains(c, author) {
		s.confirmed[mem.ID] = append(c, author)
	}
}

// suspicionBounds returns the shortest and longest suspicion timeouts for
// the current table size; m.mu must be held.
func (s *swimState) suspicionBounds() (lo, hi time.Duration) {
	n := 0
	for _, mem := range s.m.members {
		if mem.State == StateAlive || mem.State == StateSuspect {
			n++
		}
	}
	lo = s.m.cfg.after(s.m.cfg.SuspectFor * max(1, math.Log10(float64(n))))
	return lo, time.Duration(float64(lo) * s.m.cfg.SuspectMaxMult)
}

// suspicionTimeout is Lifeguard's: hi with one author, falling with the
// logarithm of the further authors to lo at k of them.
func suspicionTimeout(lo, hi time.Duration, authors, k int) time.Duration {
	c := max(authors-1, 0)
	if k <= 0 || c >= k {
		return lo
	}
	frac := math.Log(float64(c)+1) / math.Log(float64(k)+1)
	return max(lo, hi-time.Duration(frac*float64(hi-lo)))
}

// probeTimeout is ProbeTimeout stretched by the local health multiplier;
// m.mu must be held.
func (s *swimState) probeTimeout() time.Duration {
	return s.m.cfg.ProbeTimeout * time.Duration(1+s.health)
}

// adjustHealth moves the local health multiplier by d within [0,
// AwarenessMax]; m.mu must be held.
func (s *swimState) adjustHealth(d int) {
	s.health = min(max(s.health+d, 0), s.m.cfg.AwarenessMax)
}

// markAlive records evidence that mem is alive; m.mu must be held.
func (s *swimState) markAlive(mem *Member, now time.Time) {
	mem.LastSeen = now
	delete(s.suspectedAt, mem.ID)
	delete(s.confirmed, mem.ID)
	delete(s.definite, mem.ID)
	if mem.State == StateSuspect {
		s.m.setState(mem, StateAlive, now)
		s.m.emit(EventAlive, mem, now)
	}
}

// markDead; m.mu must be held.
func (s *swimState) markDead(mem *Member, now time.Time) {
	delete(s.suspectedAt, mem.ID)
	delete(s.confirmed, mem.ID)
	delete(s.definite, mem.ID)
	delete(s.records, mem.ID)
	s.m.setState(mem, StateDead, now)
	s.m.emit(EventDead, mem, now)
}

// ping sends one ping to id within ProbeTimeout. Without a connection to
// id it dials first, within one Interval: a handshake on a loaded host or a
// long path can take longer than ProbeTimeout, and counting that as a missed
// ping made members suspect each other in bulk while a pool formed.
func (s *swimState) ping(ctx context.Context, id peer.ID, known uint64, suspected bool, timeout time.Duration) (ok, definite bool) {
	m := s.m
	if m.h.Network().Connectedness(id) != network.Connected {
		dctx, cancel := context.WithTimeout(ctx, m.cfg.Interval)
		err := m.h.Connect(dctx, peer.AddrInfo{ID: id})
		// Judged before cancel: a cancelled context makes every failure
		// look like a timeout.
		definite := err != nil && s.definiteDialFailure(dctx, id, err)
		cancel()
		if err != nil {
			return false, definite
		}
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	str, err := m.h.NewStream(network.WithAllowLimitedConn(pctx, "swim"), id, s.proto)
	if err != nil {
		return false, definiteFailure(pctx, err)
	}
	defer func() { _ = str.Close() }()
	deadline, _ := pctx.Deadline()
	_ = str.SetDeadline(deadline)
	m.mu.Lock()
	mySeq := s.self.Seq
	m.mu.Unlock()
	rd := bufio.NewReader(str)
	// Failures after the stream opened are never definite: a reset may be
	// an overloaded peer shedding streams (see handle).
	ping := &swimFrame{Type: swimFramePing, KnownSeq: known, Seq: mySeq}
	if suspected {
		ping.Flags = pingSuspected
	}
	if err := writeSwimFrame(str, ping); err != nil {
		_ = str.Reset()
		return false, false
	}
	ack, err := readSwimFrame(rd, maxSwimSmallFrame)
	if err == nil && ack.Type != swimFrameAck {
		err = fmt.Errorf("%w: frame type %d in answer to ping", ErrMalformed, ack.Type)
	}
	if err != nil {
		_ = str.Reset()
		return false, false
	}
	now := time.Now()
	for _, raw := range ack.Records {
		s.applyRaw(ctx, raw, id, now)
	}
	m.mu.Lock()
	if ip := addrIP(str.Conn().RemoteMultiaddr()); ip != "" {
		if mem := m.members[id]; mem != nil {
			s.lastIP[id] = ip
		}
	}
	if ack.Flags&ackSuspectYou != 0 {
		s.refute(ctx, now)
	}
	var mine []byte
	if ack.Flags&ackWantRecord != 0 {
		mine = s.records[m.h.ID()]
	}
	m.mu.Unlock()
	if mine != nil {
		_ = writeSwimFrame(str, &swimFrame{Type: swimFrameRecords, Digest: make([]byte, 32), Records: [][]byte{mine}})
	}
	return true, false
}

// definiteFailure tells a stream-opening failure that proves the peer is
// gone (connection refused, protocol no longer served) from a timeout,
// which may only mean a slow peer or link. A peer with no known address is
// not a definite failure either. A dial backoff is: it follows a failed dial
// (and a new incarnation of the peer clears it, see applyRecord).
func definiteFailure(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.Is(err, swarm.ErrNoAddresses) {
		return false
	}
	var ne net.Error
	return !errors.As(err, &ne) || !ne.Timeout()
}

// definiteDialFailure tells whether a failed dial of id proves it gone:
// some address of id on the IP where this node last reached it refused the
// connection (the process that answered there is gone; a QUIC address on
// the same host would only time out), or the failure is definite by
// definiteFailure.
func (s *swimState) definiteDialFailure(ctx context.Context, id peer.ID, err error) bool {
	s.m.mu.Lock()
	ip := s.lastIP[id]
	s.m.mu.Unlock()
	var de *swarm.DialError
	if ip != "" && errors.As(err, &de) {
		for _, te := range de.DialErrors {
			if errors.Is(te.Cause, syscall.ECONNREFUSED) && addrIP(te.Address) == ip {
				return true
			}
		}
	}
	return definiteFailure(ctx, err)
}

// addrIP returns the IP of a multiaddr, or "".
func addrIP(a ma.Multiaddr) string {
	if a == nil {
		return ""
	}
	for _, code := range []int{ma.P_IP4, ma.P_IP6} {
		if v, err := a.ValueForProtocol(code); err == nil {
			return v
		}
	}
	return ""
}

// pingReq asks helper to ping target and reports whether target answered
// and whether the helper sent a result at all.
func (s *swimState) pingReq(ctx context.Context, helper, target peer.ID, known uint64) (ok, answered bool) {
	str, err := s.m.h.NewStream(network.WithAllowLimitedConn(ctx, "swim"), helper, s.proto)
	if err != nil {
		return false, false
	}
	defer func() { _ = str.Close() }()
	if d, ok := ctx.Deadline(); ok {
		_ = str.SetDeadline(d)
	}
	if err := writeSwimFrame(str, &swimFrame{Type: swimFramePingReq, Target: target, KnownSeq: known}); err != nil {
		_ = str.Reset()
		return false, false
	}
	res, err := readSwimFrame(bufio.NewReader(str), maxSwimSmallFrame)
	if err != nil || res.Type != swimFrameResult {
		return false, false
	}
	return res.OK, true
}

// refute publishes a new record after a suspicion of this node, at most
// once per half interval; m.mu must be held.
func (s *swimState) refute(ctx context.Context, now time.Time) {
	if s.leaving || now.Sub(s.lastRefute) < s.m.cfg.Interval/2 {
		return
	}
	raw, err := s.newSelfRecord(SwimAlive, now)
	if err != nil {
		s.m.log.Warn("swim: refute", "err", err)
		return
	}
	s.lastRefute, s.lastPublish, s.dirty = now, now, false
	s.publish(ctx, raw)
}

// digest is a hash of the (peer, seq) pairs of the alive and suspect
// members; m.mu must be held.
func (s *swimState) digest() []byte {
	type entry struct {
		id  peer.ID
		seq uint64
	}
	var es []entry
	for id, mem := range s.m.members {
		if mem.State == StateAlive || mem.State == StateSuspect {
			es = append(es, entry{id, mem.Seq})
		}
	}
	slices.SortFunc(es, func(a, b entry) int { return cmpPeer(a.id, b.id) })
	h := sha256.New()
	var buf []byte
	for _, e := range es {
		buf = appendBytes(buf[:0], []byte(e.id))
		buf = binary.AppendUvarint(buf, e.seq)
		h.Write(buf)
	}
	return h.Sum(nil)
}

// tableRecords returns the records of the alive and suspect members that
// other does not list with the same or a higher seq (nil: all), within the
// sync frame limit; m.mu must be held.
func (s *swimState) tableRecords(other map[peer.ID]uint64) [][]byte {
	var out [][]byte
	size := 64
	for id, raw := range s.records {
		mem := s.m.members[id]
		if mem == nil || (mem.State != StateAlive && mem.State != StateSuspect) {
			continue
		}
		if seq, ok := other[id]; other != nil && ok && seq >= mem.Seq {
			continue
		}
		if size += len(raw) + 3; size > maxSwimSyncFrame {
			break
		}
		out = append(out, raw)
	}
	return out
}

// sync exchanges table digests with target and, when they differ, the
// records each side lacks. It reports whether this node learnt something.
func (s *swimState) sync(ctx context.Context, target peer.ID) (bool, error) {
	m := s.m
	sctx, cancel := context.WithTimeout(ctx, 2*m.cfg.Interval)
	defer cancel()
	str, err := m.h.NewStream(network.WithAllowLimitedConn(sctx, "swim"), target, s.proto)
	if err != nil {
		return false, err
	}
	defer func() { _ = str.Close() }()
	d, _ := sctx.Deadline()
	_ = str.SetDeadline(d)
	m.mu.Lock()
	mine := s.digest()
	self := s.records[m.h.ID()]
	m.mu.Unlock()
	if err := writeSwimFrame(str, &swimFrame{Type: swimFrameSync, Digest: mine, Records: [][]byte{self}}); err != nil {
		_ = str.Reset()
		return false, err
	}
	resp, err := readSwimFrame(bufio.NewReader(str), maxSwimSyncFrame)
	if err != nil {
		_ = str.Reset()
		return false, err
	}
	if resp.Type != swimFrameRecords {
		_ = str.Reset()
		return false, fmt.Errorf("%w: frame type %d in answer to sync", ErrMalformed, resp.Type)
	}
	if bytes.Equal(resp.Digest, mine) {
		return false, nil
	}
	now := time.Now()
	theirs := make(map[peer.ID]uint64, len(resp.Records))
	gained := false
	for _, raw := range resp.Records {
		if rec, changed := s.applyRaw(ctx, raw, target, now); rec != nil {
			theirs[rec.Peer] = rec.Seq
			gained = gained || changed
		}
	}
	m.mu.Lock()
	push := s.tableRecords(theirs)
	m.mu.Unlock()
	if len(push) > 0 {
		if err := writeSwimFrame(str, &swimFrame{Type: swimFrameRecords, Digest: mine, Records: push}); err != nil {
			return gained, err
		}
	}
	return gained, nil
}

// handle serves one inbound probe-protocol stream.
func (s *swimState) handle(str network.Stream) {
	select {
	case s.handles <- struct{}{}:
		defer func() { <-s.handles }()
	default:
		_ = str.Reset()
		return
	}
	m := s.m
	from := str.Conn().RemotePeer()
	_ = str.SetDeadline(time.Now().Add(2 * m.cfg.Interval))
	rd := bufio.NewReader(str)
	f, err := readSwimFrame(rd, maxSwimSmallFrame)
	if err != nil {
		_ = str.Reset()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*m.cfg.Interval)
	defer cancel()
	now := time.Now()
	switch f.Type {
	case swimFramePing:
		m.mu.Lock()
		if f.Flags&pingSuspected != 0 {
			// Lifeguard's buddy system: the prober suspects this node.
			s.adjustHealth(+1)
			s.refute(ctx, now)
		}
		ack := &swimFrame{Type: swimFrameAck, Seq: s.self.Seq}
		if f.KnownSeq < s.self.Seq {
			ack.Records = [][]byte{s.records[m.h.ID()]}
		}
		switch mem := m.members[from]; {
		case mem == nil || mem.Seq < f.Seq:
			ack.Flags |= ackWantRecord
		case mem.State == StateAlive || mem.State == StateSuspect:
			s.markAlive(mem, now) // an inbound ping is evidence of life
		default:
			// Dead or left here: the prober refutes and sends its new
			// record on this stream.
			ack.Flags |= ackSuspectYou | ackWantRecord
		}
		m.mu.Unlock()
		if err := writeSwimFrame(str, ack); err != nil {
			_ = str.Reset()
			return
		}
		if ack.Flags&ackWantRecord != 0 {
			if rf, err := readSwimFrame(rd, maxSwimSmallFrame); err == nil && rf.Type == swimFrameRecords {
				for _, raw := range rf.Records {
					s.applyRaw(ctx, raw, from, time.Now())
				}
			}
		}
		_ = str.Close()
	case swimFramePingReq:
		m.mu.Lock()
		mem := m.members[from]
		member := mem != nil && (mem.State == StateAlive || mem.State == StateSuspect)
		timeout := s.probeTimeout()
		m.mu.Unlock()
		ok := false
		if member && f.Target != m.h.ID() && f.Target != from {
			ok, _ = s.ping(ctx, f.Target, f.KnownSeq, false, timeout)
		}
		_ = writeSwimFrame(str, &swimFrame{Type: swimFrameResult, OK: ok})
		_ = str.Close()
	case swimFrameSync:
		for _, raw := range f.Records {
			s.applyRaw(ctx, raw, from, now)
		}
		m.mu.Lock()
		mem := m.members[from]
		member := mem != nil && (mem.State == StateAlive || mem.State == StateSuspect)
		mine := s.digest()
		var recs [][]byte
		if member && !bytes.Equal(mine, f.Digest) {
			recs = s.tableRecords(nil)
		}
		m.mu.Unlock()
		if !member {
			_ = str.Reset() // not admitted, or its record did not verify
			return
		}
		if err := writeSwimFrame(str, &swimFrame{Type: swimFrameRecords, Digest: mine, Records: recs}); err != nil {
			_ = str.Reset()
			return
		}
		if len(recs) > 0 {
			if push, err := readSwimFrame(rd, maxSwimSyncFrame); err == nil && push.Type == swimFrameRecords {
				for _, raw := range push.Records {
					s.applyRaw(ctx, raw, from, time.Now())
				}
			}
		}
		_ = str.Close()
	default:
		_ = str.Reset()
	}
}

// checkRecord validates a record from any source: pool, signature,
// admission and table size. It returns the rejection reason or "".
func (s *swimState) checkRecord(rec *MemberRecord) (string, error) {
	m := s.m
	if rec.Pool != m.pool {
		return RejectWrongPool, nil
	}
	if err := rec.Verify(); err != nil {
		return RejectBadSignature, err
	}
	if m.admit != nil {
		if err := m.admit(rec.Peer, rec.Admission); err != nil {
			return RejectNotAdmitted, err
		}
	}
	return "", nil
}

// applyRaw decodes, checks and applies a record that came over the probe
// protocol from via. It returns the record (nil when refused) and whether it
// changed the table.
func (s *swimState) applyRaw(ctx context.Context, raw []byte, via peer.ID, now time.Time) (*MemberRecord, bool) {
	rec, err := DecodeMemberRecord(raw)
	if err != nil {
		s.m.reject(RejectMalformed)
		return nil, false
	}
	if reason, err := s.checkRecord(rec); reason != "" {
		s.m.reject(reason)
		s.m.log.Debug("swim: refused record", "peer", rec.Peer, "via", via, "reason", reason, "err", err)
		return nil, false
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return rec, s.applyRecord(ctx, rec, now)
}

// applyRecord updates the table with a checked record; m.mu must be held.
// It reports whether the table changed.
func (s *swimState) applyRecord(ctx context.Context, rec *MemberRecord, now time.Time) bool {
	m := s.m
	if m.closed {
		return false
	}
	if rec.Peer == m.h.ID() {
		if rec.Seq > s.self.Seq {
			// A record of an earlier run of this peer ID is about: go above it.
			m.seq = rec.Seq
			s.refute(ctx, now)
		}
		return false
	}
	mem, ok := m.members[rec.Peer]
	if !ok {
		if rec.Kind == SwimLeave || len(m.members) >= m.cfg.MaxMembers {
			return false
		}
		mem = &Member{ID: rec.Peer}
		m.members[rec.Peer] = mem
	} else if rec.Seq <= mem.Seq {
		return false
	}
	if rec.Seq > m.highest[rec.Peer] {
		m.highest[rec.Peer] = rec.Seq
	}
	s.fill(mem, rec)
	if rec.Kind == SwimLeave {
		delete(s.records, rec.Peer)
		delete(s.suspectedAt, rec.Peer)
		if mem.State != StateLeft {
			m.setState(mem, StateLeft, now)
			m.emit(EventLeave, mem, now)
		}
		return true
	}
	s.records[rec.Peer] = rec.Raw()
	if len(rec.Addrs) > 0 {
		m.h.Peerstore().AddAddrs(rec.Peer, rec.Addrs, peerstore.RecentlyConnectedAddrTTL)
	}
	mem.LastSeen = now
	delete(s.suspectedAt, rec.Peer)
	delete(s.confirmed, rec.Peer)
	delete(s.definite, rec.Peer)
	switch mem.State {
	case StateAlive:
	case StateSuspect:
		m.setState(mem, StateAlive, now)
		m.emit(EventAlive, mem, now)
	default: // new, dead or left
		if sw, ok := m.h.Network().(*swarm.Swarm); ok {
			sw.Backoff().Clear(rec.Peer) // a new incarnation may be reachable again
		}
		m.setState(mem, StateAlive, now)
		m.emit(EventJoin, mem, now)
	}
	return true
}

// validateSwim is the topic validator of the SWIM mode.
func (m *Membership) validateSwim(_ context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	data := msg.GetData()
	if len(data) > MaxSwimGossipSize {
		m.reject(RejectOversize)
		return pubsub.ValidationReject
	}
	rec, sus, err := DecodeSwimGossip(data)
	if err != nil {
		m.reject(RejectMalformed)
		m.log.Debug("rejected membership message", "from", from, "err", err)
		return pubsub.ValidationReject
	}
	author := msg.GetFrom()
	var pool string
	var at time.Time
	if rec != nil {
		pool, at = rec.Pool, rec.Time
	} else {
		pool, at = sus.Pool, sus.Time
	}
	if pool != m.pool {
		m.reject(RejectWrongPool)
		return pubsub.ValidationReject
	}
	if rec != nil {
		// A node publishes only its own record.
		if rec.Peer != author {
			m.reject(RejectSpoofed)
			return pubsub.ValidationReject
		}
		if err := rec.Verify(); err != nil {
			m.reject(RejectBadSignature)
			return pubsub.ValidationReject
		}
		if m.admit != nil {
			if err := m.admit(rec.Peer, rec.Admission); err != nil {
				m.reject(RejectNotAdmitted)
				return pubsub.ValidationIgnore // as in ModeHeartbeat
			}
		}
	} else if sus.Subject == author {
		m.reject(RejectSpoofed)
		return pubsub.ValidationReject
	}
	now := time.Now()
	if at.After(now.Add(m.cfg.MaxClockSkew)) {
		m.reject(RejectFuture)
		return pubsub.ValidationIgnore
	}
	if at.Before(now.Add(-m.cfg.MaxAge)) {
		m.reject(RejectReplay)
		return pubsub.ValidationIgnore
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if sus != nil {
		// Only members may raise suspicions.
		if mem := m.members[author]; mem == nil || (mem.State != StateAlive && mem.State != StateSuspect) {
			m.rejected[RejectNotMember]++
			return pubsub.ValidationIgnore
		}
		return pubsub.ValidationAccept
	}
	// Equal seq is accepted so that the repeats of a join announcement
	// travel past members that already have the record.
	last, known := m.highest[rec.Peer]
	if known && rec.Seq < last {
		m.rejected[RejectStale]++
		return pubsub.ValidationIgnore
	}
	if !known && len(m.highest) >= m.cfg.MaxMembers {
		m.rejected[RejectFull]++
		return pubsub.ValidationIgnore
	}
	m.highest[rec.Peer] = rec.Seq
	return pubsub.ValidationAccept
}

// receiveSwim applies validated topic messages.
func (m *Membership) receiveSwim(ctx context.Context) {
	defer m.wg.Done()
	s := m.swim
	for {
		msg, err := m.sub.Next(ctx)
		if err != nil {
			return
		}
		rec, sus, err := DecodeSwimGossip(msg.GetData())
		if err != nil {
			continue // validated already
		}
		now := time.Now()
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return
		}
		m.delivered++
		if rec != nil {
			s.applyRecord(ctx, rec, now)
		} else {
			s.onSuspicion(ctx, msg.GetFrom(), sus, now)
		}
		m.mu.Unlock()
	}
}

// onSuspicion acts on a suspicion from author: the subject refutes it;
// everyone else marks the subject suspect (or counts author as a
// confirmation) and, for a definite one, probes the subject at once. m.mu
// must be held.
func (s *swimState) onSuspicion(ctx context.Context, author peer.ID, sus *Suspicion, now time.Time) {
	m := s.m
	if sus.Subject == m.h.ID() {
		if sus.Seq >= s.self.Seq {
			s.adjustHealth(+1)
			s.refute(ctx, now)
		}
		return
	}
	mem := m.members[sus.Subject]
	if mem == nil || (mem.State != StateAlive && mem.State != StateSuspect) || sus.Seq < mem.Seq {
		return
	}
	m.log.Debug("swim: suspicion", "subject", sus.Subject, "author", author, "definite", sus.Definite)
	s.suspect(mem, author, now)
	if !sus.Definite {
		return
	}
	s.definite[sus.Subject] = true
	if m.probing[sus.Subject] {
		s.reprobe[sus.Subject] = true
		return
	}
	if now.Sub(s.hintProbe[sus.Subject]) < m.cfg.Interval/4 {
		return // bounds the probes that a stream of suspicions can cause
	}
	s.hintProbe[sus.Subject] = now
	s.startProbe(ctx, sus.Subject)
}

// leaveSwim publishes this node's deathrattle record.
func (m *Membership) leaveSwim(ctx context.Context) error {
	m.mu.Lock()
	s := m.swim
	s.leaving = true
	raw, err := s.newSelfRecord(SwimLeave, time.Now())
	m.mu.Unlock()
	if err != nil {
		return err
	}
	if err := m.topic.Publish(ctx, raw); err != nil {
		return fmt.Errorf("p2p: publish deathrattle: %w", err)
	}
	return nil
}

func writeSwimFrame(w io.Writer, f *swimFrame) error {
	body, err := f.encode()
	if err != nil {
		return err
	}
	_, err = w.Write(append(binary.AppendUvarint(make([]byte, 0, len(body)+3), uint64(len(body))), body...))
	return err
}

func readSwimFrame(r *bufio.Reader, limit int) (*swimFrame, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n == 0 || n > uint64(limit) {
		return nil, fmt.Errorf("%w: frame of %d bytes (limit %d)", ErrOversize, n, limit)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return decodeSwimFrame(body)
}
