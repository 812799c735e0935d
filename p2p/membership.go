package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
)

// MembershipMode selects the membership protocol.
type MembershipMode uint8

// Membership modes.
const (
	// ModeDefault is the default mode: ModeSWIM.
	ModeDefault MembershipMode = iota
	// ModeHeartbeat: every member gossips a signed heartbeat every
	// Interval, so every member receives every other member's heartbeats;
	// gossip bytes per member grow linearly with the pool. Simple and
	// fine for small pools; kept for them and for comparison.
	ModeHeartbeat
	// ModeSWIM: members probe a constant number of others per interval over
	// a stream protocol and gossip only changes, with Lifeguard's
	// suspicion and local-health refinements (see swim.go); gossip bytes
	// per member stay flat as the pool grows (about 210 B/s per member at
	// 10, 50 and 100 members with a 1 s interval) and a crash is seen
	// within about one interval.
	ModeSWIM
)

func (md MembershipMode) String() string {
	switch md {
	case ModeDefault:
		return "default"
	case ModeHeartbeat:
		return "heartbeat"
	case ModeSWIM:
		return "swim"
	}
	return fmt.Sprintf("mode(%d)", uint8(md))
}

// ParseMembershipMode parses "heartbeat", "swim" or "default".
func ParseMembershipMode(s string) (MembershipMode, error) {
	for _, md := range []MembershipMode{ModeDefault, ModeHeartbeat, ModeSWIM} {
		if md.String() == s {
			return md, nil
		}
	}
	return 0, fmt.Errorf("p2p: unknown membership mode %q (heartbeat or swim)", s)
}

// MembershipConfig holds the membership timings. Every duration is derived
// from Interval so that one knob scales the whole failure detector.
type MembershipConfig struct {
	// Mode is the protocol; ModeDefault picks the default (ModeSWIM).
	Mode MembershipMode
	// Interval between heartbeats (ModeHeartbeat), or the protocol period
	// of ModeSWIM, which probes ProbesPerInterval members per Interval.
	// Default 2 s (as in Prime Intellect's ElasticDeviceMesh).
	Interval time.Duration
	// SuspectAfter is the number of intervals without a heartbeat after
	// which a member is suspect and probed. Default 3.
	SuspectAfter float64
	// DeadAfter is the number of intervals without a heartbeat after which a
	// suspect member is dead even though it still answers pings (it is alive
	// but no longer reaches the pool's gossip). Default 6.
	DeadAfter float64
	// ProbeTimeout bounds the direct ping of a suspect. Default Interval/4.
	ProbeTimeout time.Duration
	// MaxAge is the oldest sender timestamp accepted; older messages are
	// replays. Default 10 intervals.
	MaxAge time.Duration
	// MaxClockSkew is how far in the future a sender's timestamp may be.
	// Default 30 s.
	MaxClockSkew time.Duration
	// ForgetAfter removes dead and departed members from the table (and
	// from the replay state) after this long. Default 30 intervals.
	ForgetAfter time.Duration
	// MaxMembers bounds the member table; heartbeats from further peers are
	// ignored. Default 4096.
	MaxMembers int
	// DeathrattleLinger is how long Leave waits after publishing the
	// deathrattle so that gossip carries it before the topic is closed.
	// Default 300 ms.
	DeathrattleLinger time.Duration

	// The following apply to ModeSWIM only.

	// ProbesPerInterval is how many members a node probes per Interval.
	// Default 2: with N members, one of them is probed by someone about
	// every Interval/(2N) and by everyone within N/2 intervals.
	ProbesPerInterval int
	// IndirectProbes is how many other members are asked to ping a member
	// that missed a direct ping before it is suspected. Default 3.
	IndirectProbes int
	// SuspectFor sets the shortest suspicion timeout (Lifeguard's): a
	// suspect that does not refute is dead after SuspectFor * max(1,
	// log10(members)) intervals once IndirectProbes members besides the
	// first have suspected it too, and after SuspectMaxMult times that
	// with no confirmation; the timeout falls with the logarithm of the
	// confirmations in between. A definite failure (connection refused,
	// protocol gone: a crashed process) skips the wait. Default 2.
	SuspectFor float64
	// SuspectMaxMult is the longest suspicion timeout as a multiple of the
	// shortest. Default 3.
	SuspectMaxMult float64
	// AwarenessMax bounds the local health multiplier (Lifeguard): a node
	// that misses answers it should have had (probes that fail while
	// others reach the target, helpers that send no result, suspicions of
	// itself) counts itself slow and stretches its probe period and probe
	// timeout by 1+multiplier, so an overloaded node does not accuse
	// healthy ones. Each prompt direct answer lowers the multiplier by one.
	// Default 8.
	AwarenessMax int
	// SyncEvery is the number of intervals between anti-entropy exchanges
	// with one random member. Default 10.
	SyncEvery float64
}

// DefaultMembershipConfig returns the documented defaults.
func DefaultMembershipConfig() MembershipConfig {
	return MembershipConfig{Interval: 2 * time.Second}.withDefaults()
}

func (c MembershipConfig) withDefaults() MembershipConfig {
	if c.Interval <= 0 {
		c.Interval = 2 * time.Second
	}
	if c.SuspectAfter <= 0 {
		c.SuspectAfter = 3
	}
	if c.DeadAfter <= c.SuspectAfter {
		c.DeadAfter = max(6, c.SuspectAfter+1)
	}
	if c.ProbeTimeout <= 0 {
		c.ProbeTimeout = c.Interval / 4
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 10 * c.Interval
	}
	if c.MaxClockSkew <= 0 {
		c.MaxClockSkew = 30 * time.Second
	}
	if c.ForgetAfter <= 0 {
		c.ForgetAfter = 30 * c.Interval
	}
	if c.MaxMembers <= 0 {
		c.MaxMembers = 4096
	}
	if c.DeathrattleLinger <= 0 {
		c.DeathrattleLinger = 300 * time.Millisecond
	}
	if c.Mode == ModeDefault {
		c.Mode = ModeSWIM
	}
	if c.ProbesPerInterval <= 0 {
		c.ProbesPerInterval = 2
	}
	if c.IndirectProbes <= 0 {
		c.IndirectProbes = 3
	}
	if c.SuspectFor <= 0 {
		c.SuspectFor = 2
	}
	if c.SuspectMaxMult < 1 {
		c.SuspectMaxMult = 3
	}
	if c.AwarenessMax <= 0 {
		c.AwarenessMax = 8
	}
	if c.SyncEvery <= 0 {
		c.SyncEvery = 10
	}
	return c
}

func (c MembershipConfig) after(n float64) time.Duration {
	return time.Duration(n * float64(c.Interval))
}

// MemberState is a member's place in the failure detector.
type MemberState uint8

// Member states.
const (
	StateAlive   MemberState = iota + 1
	StateSuspect             // no heartbeat for SuspectAfter intervals
	StateDead                // crashed or unreachable
	StateLeft                // sent a deathrattle
)

func (s MemberState) String() string {
	switch s {
	case StateAlive:
		return "alive"
	case StateSuspect:
		return "suspect"
	case StateDead:
		return "dead"
	case StateLeft:
		return "left"
	}
	return "unknown"
}

// MarshalText encodes the state by name.
func (s MemberState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a state name.
func (s *MemberState) UnmarshalText(b []byte) error {
	for _, v := range []MemberState{StateAlive, StateSuspect, StateDead, StateLeft} {
		if v.String() == string(b) {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("p2p: unknown member state %q", b)
}

// Member is one peer in a pool's membership view.
type Member struct {
	ID                peer.ID     `json:"id"`
	State             MemberState `json:"state"`
	Seq               uint64      `json:"seq"`
	OuterStep         uint64      `json:"outer_step"`
	CheckpointVersion uint64      `json:"checkpoint_version"`
	Hardware          Hardware    `json:"hardware"`
	// LastSeen is the local time the last heartbeat arrived.
	LastSeen time.Time `json:"last_seen"`
	// Since is when the member entered its current state.
	Since time.Time `json:"since"`
	Self  bool      `json:"self,omitempty"`
}

// EventType says what happened to a member.
type EventType uint8

// Membership events.
const (
	EventJoin    EventType = iota + 1 // first heartbeat, or back after dead/left
	EventSuspect                      // missed SuspectAfter heartbeats
	EventAlive                        // a suspect sent a heartbeat again
	EventLeave                        // deathrattle received
	EventDead                         // probe failed or DeadAfter passed
)

func (e EventType) String() string {
	switch e {
	case EventJoin:
		return "join"
	case EventSuspect:
		return "suspect"
	case EventAlive:
		return "alive"
	case EventLeave:
		return "leave"
	case EventDead:
		return "dead"
	}
	return "unknown"
}

// Event is one change in a pool's membership.
type Event struct {
	Type   EventType
	Pool   string
	Member Member
	Time   time.Time
}

// Rejection reasons counted by the membership validator.
const (
	RejectMalformed = "malformed"
	RejectOversize  = "oversize"
	RejectWrongPool = "wrong_pool"
	RejectSpoofed   = "spoofed"
	RejectReplay    = "replay"
	RejectFuture    = "future"
	RejectStale     = "stale"
	RejectDuplicate = "duplicate"
	RejectFull      = "table_full"
	// RejectNotAdmitted counts messages from peers without a valid
	// admission (an invite to an invite-only pool).
	RejectNotAdmitted = "not_admitted"
	// RejectBadSignature counts member records (ModeSWIM) not signed by
	// their subject.
	RejectBadSignature = "bad_signature"
	// RejectNotMember counts suspicions (ModeSWIM) from peers that are not
	// members.
	RejectNotMember = "not_member"
)

// MembershipStats counts what the validator refused and what was delivered.
type MembershipStats struct {
	Delivered uint64            `json:"delivered"`
	Rejected  map[string]uint64 `json:"rejected"`
	// EventsDropped counts events lost because a subscriber did not keep up.
	EventsDropped uint64 `json:"events_dropped"`
	// LocalHealth is the SWIM local health multiplier (0: healthy; see
	// MembershipConfig.AwarenessMax); always 0 in ModeHeartbeat.
	LocalHealth int `json:"local_health"`
}

// ErrClosed is returned by operations on a membership that has left its pool.
var ErrClosed = errors.New("p2p: membership closed")

// Status is what this node reports about itself in its heartbeats.
type Status struct {
	OuterStep         uint64
	CheckpointVersion uint64
	Hardware          Hardware
}

// Membership is this node's view of one pool: it publishes heartbeats, runs
// the failure detector and delivers events. Create it with JoinMembership and
// stop it with Leave (clean, with deathrattle) or Close.
type Membership struct {
	cfg   MembershipConfig
	pool  string
	h     host.Host
	ps    *pubsub.PubSub
	topic *pubsub.Topic
	sub   *pubsub.Subscription
	log   *slog.Logger
	name  string

	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopBeat context.CancelFunc
	beatDone chan struct{}

	mu        sync.Mutex
	closed    bool
	members   map[peer.ID]*Member
	highest   map[peer.ID]uint64 // highest sequence number accepted per peer
	probing   map[peer.ID]bool
	subs      map[*Subscription]struct{}
	status    Status
	seq       uint64
	delivered uint64
	rejected  map[string]uint64
	dropped   uint64

	admit     func(from peer.ID, token []byte) error
	admission []byte

	swim *swimState // nil in ModeHeartbeat
}

// MembershipOption configures JoinMembership.
type MembershipOption func(*Membership)

// WithMembershipConfig sets the timings.
func WithMembershipConfig(c MembershipConfig) MembershipOption {
	return func(m *Membership) { m.cfg = c }
}

// WithMembershipLogger sets the logger.
func WithMembershipLogger(l *slog.Logger) MembershipOption {
	return func(m *Membership) { m.log = l }
}

// WithStatus sets what the first heartbeat reports.
func WithStatus(s Status) MembershipOption {
	return func(m *Membership) { m.status = s }
}

// WithAdmission makes the pool closed: a message is accepted only when
// admit returns nil for its sender and the admission token it carries (the
// sender's invite). Messages from peers admit refuses are rejected at the
// validator, so those peers never appear as members. token is this node's
// own admission, carried in its heartbeats.
func WithAdmission(admit func(from peer.ID, token []byte) error, token []byte) MembershipOption {
	return func(m *Membership) { m.admit, m.admission = admit, token }
}

// JoinMembership joins pool's membership topic on ps and starts heartbeats
// and failure detection. The returned Membership's goroutines stop on Leave
// or Close; ctx only bounds the setup.
func JoinMembership(ctx context.Context, h host.Host, ps *pubsub.PubSub, pool string, opts ...MembershipOption) (*Membership, error) {
	if err := ValidatePoolID(pool); err != nil {
		return nil, fmt.Errorf("p2p: join membership: %w", err)
	}
	m := &Membership{
		pool:     pool,
		h:        h,
		ps:       ps,
		log:      slog.Default(),
		name:     TopicName(pool, "membership"),
		members:  make(map[peer.ID]*Member),
		highest:  make(map[peer.ID]uint64),
		probing:  make(map[peer.ID]bool),
		subs:     make(map[*Subscription]struct{}),
		rejected: make(map[string]uint64),
	}
	for _, o := range opts {
		o(m)
	}
	m.cfg = m.cfg.withDefaults()
	m.log = m.log.With("pool", pool)
	validate := m.validate
	switch m.cfg.Mode {
	case ModeHeartbeat:
	case ModeSWIM:
		// Its own topic, so that members of different modes ignore each
		// other instead of penalising each other's messages.
		m.name = TopicName(pool, "swim")
		s, err := newSwimState(m)
		if err != nil {
			return nil, err
		}
		m.swim, validate = s, m.validateSwim
	default:
		return nil, fmt.Errorf("p2p: join membership: unknown mode %d", m.cfg.Mode)
	}
	if err := ps.RegisterTopicValidator(m.name, validate); err != nil {
		return nil, fmt.Errorf("p2p: pool %s: register validator: %w", pool, err)
	}
	topic, err := ps.Join(m.name)
	if err != nil {
		_ = ps.UnregisterTopicValidator(m.name)
		return nil, fmt.Errorf("p2p: pool %s: join topic: %w", pool, err)
	}
	if err := topic.SetScoreParams(TopicScoreParams()); err != nil {
		m.log.Warn("topic scoring disabled", "err", err)
	}
	sub, err := topic.Subscribe(pubsub.WithBufferSize(256))
	if err != nil {
		_ = topic.Close()
		_ = ps.UnregisterTopicValidator(m.name)
		return nil, fmt.Errorf("p2p: pool %s: subscribe: %w", pool, err)
	}
	m.topic, m.sub = topic, sub
	runCtx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	beatCtx, stopBeat := context.WithCancel(runCtx)
	m.stopBeat, m.beatDone = stopBeat, make(chan struct{})
	if m.swim != nil {
		if err := m.swim.start(time.Now()); err != nil {
			cancel()
			stopBeat()
			sub.Cancel()
			_ = topic.Close()
			_ = ps.UnregisterTopicValidator(m.name)
			return nil, err
		}
		m.wg.Add(1)
		go m.receiveSwim(runCtx)
		go m.swim.run(beatCtx, runCtx)
		return m, nil
	}
	m.wg.Add(2)
	go m.receive(runCtx)
	go m.beat(beatCtx)
	go m.detect(runCtx)
	return m, nil
}

// Pool returns the pool ID.
func (m *Membership) Pool() string { return m.pool }

// Config returns the effective timings.
func (m *Membership) Config() MembershipConfig { return m.cfg }

// Topic returns the name of the membership's gossipsub topic.
func (m *Membership) Topic() string { return m.name }

// SetStatus changes what the next heartbeats report. In ModeSWIM a changed
// status is published within an interval.
func (m *Membership) SetStatus(s Status) {
	m.mu.Lock()
	if m.swim != nil && s != m.status {
		m.swim.dirty = true
	}
	m.status = s
	m.mu.Unlock()
}

// Members returns the current view, sorted by peer ID, including this node
// once its first heartbeat has gone round, and members that are dead or left
// until they are forgotten.
func (m *Membership) Members() []Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Member, 0, len(m.members))
	for _, mem := range m.members {
		out = append(out, *mem)
	}
	slices.SortFunc(out, func(a, b Member) int { return cmpPeer(a.ID, b.ID) })
	return out
}

// IsMember reports whether id is an alive or suspect member.
func (m *Membership) IsMember(id peer.ID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	mem := m.members[id]
	return mem != nil && (mem.State == StateAlive || mem.State == StateSuspect)
}

// CurrentStatus returns what this node's heartbeats report.
func (m *Membership) CurrentStatus() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.status
}

// Alive returns the IDs of members that are alive or suspect, sorted.
func (m *Membership) Alive() []peer.ID {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]peer.ID, 0, len(m.members))
	for id, mem := range m.members {
		if mem.State == StateAlive || mem.State == StateSuspect {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, cmpPeer)
	return out
}

func cmpPeer(a, b peer.ID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Stats returns the validator's counters.
func (m *Membership) Stats() MembershipStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := make(map[string]uint64, len(m.rejected))
	for k, v := range m.rejected {
		r[k] = v
	}
	st := MembershipStats{Delivered: m.delivered, Rejected: r, EventsDropped: m.dropped}
	if m.swim != nil {
		st.LocalHealth = m.swim.health
	}
	return st
}

// Subscription delivers membership events in order. A subscriber that falls
// more than its buffer behind loses events (counted in Stats) rather than
// stalling the membership.
type Subscription struct {
	C <-chan Event
	c chan Event
	m *Membership
}

// Close stops delivery and closes C.
func (s *Subscription) Close() {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if _, ok := s.m.subs[s]; ok {
		delete(s.m.subs, s)
		close(s.c)
	}
}

// Subscribe returns a subscription with a buffer of buf events (default 256).
// On Leave or Close its channel is closed.
func (m *Membership) Subscribe(buf int) *Subscription {
	if buf <= 0 {
		buf = 256
	}
	c := make(chan Event, buf)
	s := &Subscription{C: c, c: c, m: m}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		close(c)
		return s
	}
	m.subs[s] = struct{}{}
	return s
}

// emit sends an event to every subscriber; m.mu must be held.
func (m *Membership) emit(t EventType, mem *Member, now time.Time) {
	ev := Event{Type: t, Pool: m.pool, Member: *mem, Time: now}
	for s := range m.subs {
		select {
		case s.c <- ev:
		default:
			m.dropped++
		}
	}
	m.log.Debug("membership event", "event", t.String(), "peer", mem.ID)
}

func (m *Membership) reject(reason string) {
	m.mu.Lock()
	m.rejected[reason]++
	m.mu.Unlock()
}

// validate is the topic validator: the one place where membership messages
// enter the system.
func (m *Membership) validate(_ context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	data := msg.GetData()
	if len(data) > MaxMembershipMessageSize {
		m.reject(RejectOversize)
		return pubsub.ValidationReject
	}
	var hb Heartbeat
	if err := hb.UnmarshalBinary(data); err != nil {
		m.reject(RejectMalformed)
		m.log.Debug("rejected membership message", "from", from, "err", err)
		return pubsub.ValidationReject
	}
	if hb.Pool != m.pool {
		m.reject(RejectWrongPool)
		return pubsub.ValidationReject
	}
	// Strict signing guarantees GetFrom is the signer.
	if hb.Peer != msg.GetFrom() {
		m.reject(RejectSpoofed)
		return pubsub.ValidationReject
	}
	if m.admit != nil {
		if err := m.admit(hb.Peer, hb.Admission); err != nil {
			m.reject(RejectNotAdmitted)
			m.log.Debug("refused membership message from a peer not admitted", "peer", hb.Peer, "err", err)
			// Dropped without penalising the relay: admission is checked
			// against this node's copy of the pool descriptor, and an honest
			// relay with a newer copy (a new invite policy, the on-chain
			// pool named) or an invite that expired in flight passes what
			// this node refuses. Penalising it would graylist honest peers.
			return pubsub.ValidationIgnore
		}
	}
	// Timing checks drop the message without penalising the peer that
	// relayed it: an honest relay on a slow or overloaded link delivers
	// late, and a relay cannot tell a replay from a late original.
	// Structural faults above are penalised, since every honest relay
	// validates before forwarding and would never pass them on.
	now := time.Now()
	if hb.Time.After(now.Add(m.cfg.MaxClockSkew)) {
		m.reject(RejectFuture)
		return pubsub.ValidationIgnore
	}
	if hb.Time.Before(now.Add(-m.cfg.MaxAge)) {
		m.reject(RejectReplay)
		return pubsub.ValidationIgnore
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	last, known := m.highest[hb.Peer]
	if known && hb.Seq <= last {
		// Recent but not newer: a second copy validated while the first was
		// still in gossipsub's pipeline (same seq), or a late copy that
		// gossip recovered after a newer one (lower seq). Drop it without
		// penalising the relay.
		if hb.Seq == last {
			m.rejected[RejectDuplicate]++
		} else {
			m.rejected[RejectStale]++
		}
		return pubsub.ValidationIgnore
	}
	if !known && len(m.highest) >= m.cfg.MaxMembers {
		m.rejected[RejectFull]++
		return pubsub.ValidationIgnore
	}
	m.highest[hb.Peer] = hb.Seq
	return pubsub.ValidationAccept
}

func (m *Membership) receive(ctx context.Context) {
	defer m.wg.Done()
	for {
		msg, err := m.sub.Next(ctx)
		if err != nil {
			return
		}
		var hb Heartbeat
		if err := hb.UnmarshalBinary(msg.GetData()); err != nil {
			continue // validated already; cannot happen
		}
		m.apply(&hb, time.Now())
	}
}

// apply updates the table with one validated message.
func (m *Membership) apply(hb *Heartbeat, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.delivered++
	mem, ok := m.members[hb.Peer]
	if !ok {
		if hb.Kind == KindDeathrattle {
			return
		}
		mem = &Member{ID: hb.Peer, Self: hb.Peer == m.h.ID()}
		m.members[hb.Peer] = mem
	}
	if hb.Seq < mem.Seq {
		return
	}
	mem.Seq = hb.Seq
	mem.OuterStep = hb.OuterStep
	mem.CheckpointVersion = hb.CheckpointVersion
	mem.Hardware = hb.Hardware
	if hb.Kind == KindDeathrattle {
		if mem.State != StateLeft {
			m.setState(mem, StateLeft, now)
			m.emit(EventLeave, mem, now)
		}
		return
	}
	mem.LastSeen = now
	switch mem.State {
	case StateAlive:
	case StateSuspect:
		m.setState(mem, StateAlive, now)
		m.emit(EventAlive, mem, now)
	default: // new, dead or left
		m.setState(mem, StateAlive, now)
		m.emit(EventJoin, mem, now)
	}
}

func (m *Membership) setState(mem *Member, s MemberState, now time.Time) {
	mem.State = s
	mem.Since = now
}

// beat publishes a heartbeat every interval.
func (m *Membership) beat(ctx context.Context) {
	defer close(m.beatDone)
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		if err := m.publish(ctx, KindHeartbeat); err != nil && ctx.Err() == nil {
			m.log.Warn("heartbeat not sent", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *Membership) publish(ctx context.Context, kind MessageKind) error {
	m.mu.Lock()
	now := time.Now()
	// Sequence numbers start at the clock so that a restarted node (same
	// peer ID, no saved state) continues above its previous numbers.
	m.seq = max(m.seq+1, uint64(now.UnixMicro()))
	hb := Heartbeat{
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
	m.mu.Unlock()
	data, err := hb.MarshalBinary()
	if err != nil {
		return fmt.Errorf("p2p: encode %s: %w", kind, err)
	}
	if err := m.topic.Publish(ctx, data); err != nil {
		return fmt.Errorf("p2p: publish %s: %w", kind, err)
	}
	return nil
}

// detect runs the failure detector several times per interval.
func (m *Membership) detect(ctx context.Context) {
	defer m.wg.Done()
	t := time.NewTicker(m.cfg.Interval / 8)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			m.check(ctx, now)
		}
	}
}

func (m *Membership) check(ctx context.Context, now time.Time) {
	suspectAt, deadAt := m.cfg.after(m.cfg.SuspectAfter), m.cfg.after(m.cfg.DeadAfter)
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, mem := range m.members {
		if mem.Self {
			continue
		}
		silent := now.Sub(mem.LastSeen)
		switch mem.State {
		case StateAlive:
			if silent >= suspectAt {
				m.setState(mem, StateSuspect, now)
				m.emit(EventSuspect, mem, now)
				m.startProbe(ctx, id)
			}
		case StateSuspect:
			if silent >= deadAt {
				m.setState(mem, StateDead, now)
				m.emit(EventDead, mem, now)
			}
		case StateDead, StateLeft:
			if now.Sub(mem.Since) >= m.cfg.ForgetAfter {
				delete(m.members, id)
				delete(m.highest, id)
			}
		}
	}
}

// startProbe pings a suspect directly; m.mu must be held. A definite
// failure (connection refused, no address, wrong peer) makes it dead at once;
// a timeout is given one more chance, since an overloaded peer or link may
// simply be slow. Either way DeadAfter still applies.
func (m *Membership) startProbe(ctx context.Context, id peer.ID) {
	if m.probing[id] {
		return
	}
	m.probing[id] = true
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		dead := false
		for attempt := 0; attempt < 2 && !dead; attempt++ {
			alive, definite := m.probe(ctx, id)
			if alive || ctx.Err() != nil {
				break
			}
			dead = definite || attempt == 1
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		delete(m.probing, id)
		mem, ok := m.members[id]
		if !dead || !ok || mem.State != StateSuspect {
			return
		}
		now := time.Now()
		m.setState(mem, StateDead, now)
		m.emit(EventDead, mem, now)
	}()
}

// probe pings the peer once within ProbeTimeout. It reports whether the
// peer answered and, if not, whether the failure was definite rather than a
// timeout.
func (m *Membership) probe(ctx context.Context, id peer.ID) (alive, definite bool) {
	pctx, cancel := context.WithTimeout(ctx, m.cfg.ProbeTimeout)
	defer cancel()
	select {
	case res, ok := <-ping.Ping(pctx, m.h, id):
		if ok && res.Error == nil {
			return true, false
		}
		if !ok || pctx.Err() != nil || errors.Is(res.Error, context.DeadlineExceeded) {
			return false, false
		}
		return false, true
	case <-pctx.Done():
		return false, false
	}
}

// Leave publishes a deathrattle, waits DeathrattleLinger for gossip to carry
// it, and stops the membership.
func (m *Membership) Leave(ctx context.Context) error { return m.leave(ctx, true) }

// LeaveForShutdown sends the deathrattle like Leave but stays subscribed to
// the topic: the host is about to close, and an explicit unsubscribe would
// make every mesh peer refuse this peer ID's GRAFTs for gossipsub's
// unsubscribe backoff, which keeps a node restarted at once from being heard.
func (m *Membership) LeaveForShutdown(ctx context.Context) error { return m.leave(ctx, false) }

func (m *Membership) leave(ctx context.Context, unsubscribe bool) error {
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return ErrClosed
	}
	// No heartbeat may follow the deathrattle: it would revive us.
	m.stopBeat()
	<-m.beatDone
	var err error
	if m.swim != nil {
		err = m.leaveSwim(ctx)
	} else {
		err = m.publish(ctx, KindDeathrattle)
	}
	if err == nil {
		select {
		case <-ctx.Done():
		case <-time.After(m.cfg.DeathrattleLinger):
		}
	}
	m.close(unsubscribe)
	if err != nil {
		return fmt.Errorf("p2p: pool %s: deathrattle: %w", m.pool, err)
	}
	return nil
}

// Close stops the membership without a deathrattle (peers will detect the
// silence). It waits for every goroutine to finish.
func (m *Membership) Close() { m.close(true) }

func (m *Membership) close(unsubscribe bool) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	for s := range m.subs {
		delete(m.subs, s)
		close(s.c)
	}
	m.mu.Unlock()
	m.cancel()
	<-m.beatDone
	if m.swim != nil {
		m.h.RemoveStreamHandler(m.swim.proto)
	}
	m.wg.Wait()
	if unsubscribe {
		m.sub.Cancel()
		_ = m.ps.UnregisterTopicValidator(m.name)
		_ = m.topic.Close()
	}
}
