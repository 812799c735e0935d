package diloco

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/openpool/openpool/p2p"
)

// Rounds forms leaderless all-reduce rounds for one pool over a gossip
// topic (kind "rounds") and runs them on a Ring. Protocol, for outer step k
// and attempt a (every message signed, pubsub strict signing names the
// sender):
//
//  1. ready{k, a, spec, state}: "my pseudo-gradient for k is ready". spec
//     names the vector (layout hash, length, mode), state the outer state
//     the peer starts from (StateHash); peers with another spec or state
//     are not grouped with us (a peer alone with its state gets
//     ErrOutOfSync and catches up through StateSync).
//  2. After the ready window (or as soon as every expected member
//     announced), the group is the sorted set of peers whose ready with our
//     spec arrived, minus peers excluded for protocol violations.
//     confirm{k, a, group} publishes it. A peer that sees a confirm naming
//     members it does not have merges them (the group only grows) and
//     confirms again; the group is fixed when every member has confirmed
//     the same list. A joiner that announces late is merged in while the
//     group is still open; after that it waits for the next step.
//  3. All members run the ring all-reduce in group order under a round ID
//     hashed from (pool, k, a, group, spec).
//  4. complete{k, a, group hash, result hash}. A member applies the result
//     only when every member reported the same result hash: no partial or
//     diverging result is ever applied.
//
// Any failure (a member missing a deadline, a dead or stalled neighbour, a
// protocol violation, differing results) makes the peer publish abort{k, a,
// blame} and start attempt a+1 from step 1 with its original data; dead
// peers do not announce again, and peers blamed for protocol violations are
// excluded for the rest of step k and ExcludeSteps more. After MaxAttempts
// failed attempts Average returns ErrRoundFailed.
type Rounds struct {
	h     host.Host
	ring  *Ring
	pool  string
	topic *pubsub.Topic
	sub   *pubsub.Subscription
	cfg   roundsConfig
	log   *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	attempts map[attemptKey]*attemptState
	minStep  uint64
	excluded map[peer.ID]uint64 // excluded until this step (inclusive)
	changed  chan struct{}
}

type roundsConfig struct {
	log            *slog.Logger
	readyWindow    time.Duration
	confirmTimeout time.Duration
	commitTimeout  time.Duration
	maxAttempts    int
	excludeSteps   uint64
	members        func() []peer.ID
	admit          func(peer.ID) bool
	mode           Mode
}

// RoundsOption configures Rounds.
type RoundsOption func(*roundsConfig) error

// WithRoundsLogger sets the logger.
func WithRoundsLogger(l *slog.Logger) RoundsOption {
	return func(c *roundsConfig) error { c.log = l; return nil }
}

// WithReadyWindow sets how long a peer collects ready announcements after
// its own (default 5 s: several gossip heartbeats).
func WithReadyWindow(d time.Duration) RoundsOption {
	return func(c *roundsConfig) error { c.readyWindow = d; return positive("ready window", d) }
}

// WithConfirmTimeout bounds the wait for every member's confirmation
// (default 10 s).
func WithConfirmTimeout(d time.Duration) RoundsOption {
	return func(c *roundsConfig) error { c.confirmTimeout = d; return positive("confirm timeout", d) }
}

// WithCommitTimeout bounds the wait for every member's result hash after the
// all-reduce (default 10 s).
func WithCommitTimeout(d time.Duration) RoundsOption {
	return func(c *roundsConfig) error { c.commitTimeout = d; return positive("commit timeout", d) }
}

// WithMaxAttempts sets how many times a step's round is tried (default 3).
func WithMaxAttempts(n int) RoundsOption {
	return func(c *roundsConfig) error {
		if n < 1 {
			return fmt.Errorf("diloco: max attempts %d < 1", n)
		}
		c.maxAttempts = n
		return nil
	}
}

// WithAdmit restricts round messages to peers admit accepts (the pool's
// admitted members): announcements from anyone else are rejected at the
// topic validator and never enter a group.
func WithAdmit(admit func(peer.ID) bool) RoundsOption {
	return func(c *roundsConfig) error { c.admit = admit; return nil }
}

// WithMembers gives the pool's live members (from the membership layer):
// the ready window closes early once all of them have announced.
func WithMembers(f func() []peer.ID) RoundsOption {
	return func(c *roundsConfig) error { c.members = f; return nil }
}

// WithMode sets the all-reduce encoding (default Int8).
func WithMode(m Mode) RoundsOption {
	return func(c *roundsConfig) error {
		if m != Float32 && m != Int8 {
			return fmt.Errorf("diloco: unknown mode %d", m)
		}
		c.mode = m
		return nil
	}
}

func positive(what string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("diloco: %s %v must be positive", what, d)
	}
	return nil
}

// Sentinel errors of Average.
var (
	// ErrRoundFailed: every attempt of the step failed; nothing was applied.
	ErrRoundFailed = errors.New("diloco: round failed")
	// ErrNotInGroup: the group was fixed without this peer (it announced
	// too late); wait for the next step.
	ErrNotInGroup = errors.New("diloco: not in the round's group")
	// ErrOutOfSync: the other peers ready for the step start from another
	// outer state than ours; fetch the pool's state (StateSync) instead of
	// averaging alone.
	ErrOutOfSync = errors.New("diloco: peers start the step from another outer state")
	// ErrAlone: no other peer was ready within the window although the
	// pool has other live members; averaging alone would leave the pool's
	// weights, so the step is skipped.
	ErrAlone = errors.New("diloco: no other member was ready for the round")
)

// maxRoundMsg bounds a round message (a confirm names up to maxGroupSize peers).
const maxRoundMsg = 64 << 10

// how many steps ahead of the current one we keep messages for
const stepHorizon = 16

type roundMsg struct {
	V         int      `json:"v"`
	Type      string   `json:"type"`
	Step      uint64   `json:"step"`
	Attempt   int      `json:"attempt"`
	Spec      string   `json:"spec,omitempty"`
	State     string   `json:"state,omitempty"`
	Group     []string `json:"group,omitempty"`
	GroupHash string   `json:"group_hash,omitempty"`
	Result    string   `json:"result,omitempty"`
	Blame     string   `json:"blame,omitempty"`
	Reason    string   `json:"reason,omitempty"`
}

type attemptKey struct {
	step    uint64
	attempt int
}

type attemptState struct {
	ready     map[peer.ID]string    // peer -> spec "/" state
	confirms  map[peer.ID][]peer.ID // peer -> group it confirmed
	completes map[peer.ID]string    // peer -> group hash + result hash
	aborts    map[peer.ID]roundMsg
}

// NewRounds joins the pool's rounds topic on ps and starts reading it; Close
// stops the reader and leaves the topic.
func NewRounds(h host.Host, ps *pubsub.PubSub, pool string, ring *Ring, opts ...RoundsOption) (*Rounds, error) {
	cfg := roundsConfig{
		log:            slog.Default(),
		readyWindow:    5 * time.Second,
		confirmTimeout: 10 * time.Second,
		commitTimeout:  10 * time.Second,
		maxAttempts:    3,
		excludeSteps:   10,
		mode:           Int8,
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	name := p2p.TopicName(pool, "rounds")
	validate := func(_ context.Context, _ peer.ID, m *pubsub.Message) bool {
		if cfg.admit != nil && !cfg.admit(m.GetFrom()) {
			return false
		}
		_, err := decodeRoundMsg(m.Data)
		return err == nil
	}
	if err := ps.RegisterTopicValidator(name, validate); err != nil {
		return nil, fmt.Errorf("diloco: rounds topic validator: %w", err)
	}
	topic, err := ps.Join(name)
	if err != nil {
		_ = ps.UnregisterTopicValidator(name)
		return nil, fmt.Errorf("diloco: join %s: %w", name, err)
	}
	sub, err := topic.Subscribe()
	if err != nil {
		_ = topic.Close()
		_ = ps.UnregisterTopicValidator(name)
		return nil, fmt.Errorf("diloco: subscribe %s: %w", name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Rounds{
		h: h, ring: ring, pool: pool, topic: topic, sub: sub, cfg: cfg, log: cfg.log,
		cancel: cancel, done: make(chan struct{}),
		attempts: map[attemptKey]*attemptState{}, excluded: map[peer.ID]uint64{},
		changed: make(chan struct{}),
	}
	go r.read(ctx, ps, name)
	return r, nil
}

// Close stops reading the topic and leaves it.
func (r *Rounds) Close() error {
	r.cancel()
	<-r.done
	return nil
}

// Topic returns the joined topic (tests use it to wait for the mesh).
func (r *Rounds) Topic() *pubsub.Topic { return r.topic }

func decodeRoundMsg(b []byte) (roundMsg, error) {
	var m roundMsg
	if len(b) > maxRoundMsg {
		return m, fmt.Errorf("%w: round message of %d bytes", ErrProtocol, len(b))
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%w: round message: %v", ErrProtocol, err)
	}
	if m.V != 1 || m.Attempt < 0 || m.Attempt > 1000 || len(m.Group) > maxGroupSize {
		return m, fmt.Errorf("%w: round message v%d attempt %d group %d", ErrProtocol, m.V, m.Attempt, len(m.Group))
	}
	switch m.Type {
	case "ready":
		if m.Spec == "" || len(m.Spec) > 64 || len(m.State) > 64 {
			return m, fmt.Errorf("%w: ready without spec or with an oversize one", ErrProtocol)
		}
	case "confirm":
		if len(m.Group) == 0 {
			return m, fmt.Errorf("%w: confirm without group", ErrProtocol)
		}
		for _, s := range m.Group {
			if _, err := peer.Decode(s); err != nil {
				return m, fmt.Errorf("%w: confirm names %q: %v", ErrProtocol, s, err)
			}
		}
	case "complete":
		if len(m.Result) != 64 || len(m.GroupHash) != 64 {
			return m, fmt.Errorf("%w: complete without hashes", ErrProtocol)
		}
	case "abort":
	default:
		return m, fmt.Errorf("%w: round message type %q", ErrProtocol, m.Type)
	}
	return m, nil
}

func (r *Rounds) read(ctx context.Context, ps *pubsub.PubSub, name string) {
	defer close(r.done)
	defer func() {
		r.sub.Cancel()
		_ = r.topic.Close()
		_ = ps.UnregisterTopicValidator(name)
	}()
	for {
		msg, err := r.sub.Next(ctx)
		if err != nil {
			return
		}
		m, err := decodeRoundMsg(msg.Data)
		if err != nil {
			continue // the validator already rejected these
		}
		r.record(msg.GetFrom(), m)
	}
}

func (r *Rounds) record(from peer.ID, m roundMsg) {
	r.log.Debug("diloco: round message", "from", from, "type", m.Type, "step", m.Step, "attempt", m.Attempt)
	r.mu.Lock()
	defer r.mu.Unlock()
	if m.Step < r.minStep || m.Step >= r.minStep+stepHorizon {
		return
	}
	k := attemptKey{m.Step, m.Attempt}
	st := r.attempts[k]
	if st == nil {
		if len(r.attempts) >= stepHorizon*16 {
			return // bounded: a flood of attempts for future steps is ignored
		}
		st = &attemptState{ready: map[peer.ID]string{}, confirms: map[peer.ID][]peer.ID{}, completes: map[peer.ID]string{}, aborts: map[peer.ID]roundMsg{}}
		r.attempts[k] = st
	}
	if len(st.ready)+len(st.confirms)+len(st.completes)+len(st.aborts) >= 4*maxGroupSize {
		return // bounded per attempt, whatever the number of senders
	}
	switch m.Type {
	case "ready":
		st.ready[from] = m.Spec + "/" + m.State
	case "confirm":
		g := make([]peer.ID, 0, len(m.Group))
		for _, s := range m.Group {
			id, _ := peer.Decode(s)
			g = append(g, id)
		}
		st.confirms[from] = g
	case "complete":
		st.completes[from] = m.GroupHash + m.Result
	case "abort":
		st.aborts[from] = m
		// A peer that reports a protocol violation by its neighbour gets
		// that neighbour excluded everywhere, not only at the accuser; only
		// its left neighbour in the group it confirmed, the one whose
		// frames it receives, so that a liar can hurt one peer at most.
		if blamed, err := peer.Decode(m.Blame); err == nil && blamed != from && leftOf(st.confirms[from], from) == blamed && len(r.excluded) < maxGroupSize {
			r.excluded[blamed] = m.Step + r.cfg.excludeSteps
			r.log.Warn("diloco: peer dropped from rounds for a protocol violation", "peer", blamed, "reported_by", from, "step", m.Step, "reason", m.Reason)
		}
	}
	close(r.changed)
	r.changed = make(chan struct{})
}

// leftOf returns the peer before p in the ring order of group (the one p
// receives from), or "" when p is not in it.
func leftOf(group []peer.ID, p peer.ID) peer.ID {
	i := slices.Index(group, p)
	if i < 0 || len(group) < 2 {
		return ""
	}
	return group[(i+len(group)-1)%len(group)]
}

// setMinStep forgets messages of steps before s.
func (r *Rounds) setMinStep(s uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s < r.minStep {
		return
	}
	r.minStep = s
	for k := range r.attempts {
		if k.step < s {
			delete(r.attempts, k)
		}
	}
}

// await calls cond under the lock until it returns true, the deadline
// passes (false) or ctx ends.
func (r *Rounds) await(ctx context.Context, deadline time.Time, cond func() bool) (bool, error) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for {
		r.mu.Lock()
		ok := cond()
		ch := r.changed
		r.mu.Unlock()
		if ok {
			return true, nil
		}
		select {
		case <-ch:
		case <-t.C:
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

func (r *Rounds) publish(ctx context.Context, m roundMsg) error {
	m.V = 1
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := r.topic.Publish(ctx, b); err != nil {
		return fmt.Errorf("diloco: publish %s: %w", m.Type, err)
	}
	return nil
}

// Result is the outcome of a successful Average.
type Result struct {
	Step     uint64
	Attempt  int
	Group    []peer.ID
	Stats    Stats
	Hash     [32]byte // SHA-256 of the averaged vector, equal on every member
	Excluded []peer.ID
}

// Spec names a vector to average: peers only group with equal specs.
func Spec(layout [32]byte, elems int, mode Mode) string {
	h := sha256.New()
	h.Write(layout[:])
	_ = binary.Write(h, binary.LittleEndian, uint64(elems))
	h.Write([]byte{byte(mode)})
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Average averages src (read only) with the group that forms for outer step
// step and leaves the mean in dst (same length, overwritten on every
// attempt). layout identifies the model (tensor.Set.LayoutHash).
func (r *Rounds) Average(ctx context.Context, step uint64, layout [32]byte, src, dst []float32) (Result, error) {
	return r.AverageFrom(ctx, step, layout, [32]byte{}, src, dst)
}

// AverageFrom is Average for a worker whose outer state (start weights and
// momentum) hashes to state (StateHash): it is grouped only with peers
// that start from the same state, and when every other peer ready for the
// step starts from another one it returns ErrOutOfSync rather than
// averaging alone.
func (r *Rounds) AverageFrom(ctx context.Context, step uint64, layout, state [32]byte, src, dst []float32) (Result, error) {
	if len(src) != len(dst) {
		return Result{}, fmt.Errorf("diloco: round %d: src has %d values, dst %d", step, len(src), len(dst))
	}
	r.setMinStep(step)
	spec := Spec(layout, len(src), r.cfg.mode)
	var stateHex string
	if state != ([32]byte{}) {
		stateHex = hex.EncodeToString(state[:16])
	}
	var lastErr error
	var prev []peer.ID // the last attempt's group: expected again in the next
	for a := range r.cfg.maxAttempts {
		if a > 0 {
			select { // let aborts and deaths settle before re-announcing
			case <-time.After(200 * time.Millisecond):
			case <-ctx.Done():
				return Result{}, ctx.Err()
			}
		}
		res, group, err := r.attempt(ctx, step, a, spec, stateHex, prev, src, dst)
		if len(group) > 0 {
			prev = group
		}
		if err == nil {
			res.Excluded = r.excludedAt(step)
			return res, nil
		}
		if ctx.Err() != nil {
			return Result{}, fmt.Errorf("diloco: round %d: %w", step, ctx.Err())
		}
		if errors.Is(err, ErrNotInGroup) || errors.Is(err, ErrOutOfSync) {
			return Result{}, fmt.Errorf("diloco: round %d: %w", step, err)
		}
		lastErr = err
		r.log.Warn("diloco: round attempt failed", "step", step, "attempt", a, "err", err)
	}
	return Result{}, fmt.Errorf("%w: step %d after %d attempts: %w", ErrRoundFailed, step, r.cfg.maxAttempts, lastErr)
}

func (r *Rounds) excludedAt(step uint64) []peer.ID {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []peer.ID
	for p, until := range r.excluded {
		if until >= step {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

func (r *Rounds) isExcluded(p peer.ID, step uint64) bool {
	until, ok := r.excluded[p]
	return ok && until >= step
}

func (r *Rounds) attempt(ctx context.Context, step uint64, a int, spec, state string, prev []peer.ID, src, dst []float32) (Result, []peer.ID, error) {
	self := r.h.ID()
	key := attemptKey{step, a}
	readyMsg := roundMsg{Type: "ready", Step: step, Attempt: a, Spec: spec, State: state}
	if err := r.publish(ctx, readyMsg); err != nil {
		return Result{}, nil, err
	}
	// 1. ready window
	// Expected members close the window early: the pool's live members,
	// or on a retry the previous attempt's group (a dead peer among them
	// keeps the window open to its end).
	expected := prev
	if r.cfg.members != nil && len(prev) == 0 {
		expected = r.cfg.members()
	}
	windowEnd := time.Now().Add(r.cfg.readyWindow)
	for {
		// Republish while waiting: gossip may drop a message sent before
		// the mesh to a peer formed, and the window is short.
		ok, err := r.await(ctx, minTime(windowEnd, time.Now().Add(r.republish())), func() bool {
			st := r.attempts[key]
			if st == nil || len(expected) == 0 {
				return false
			}
			for _, p := range expected {
				// A confirm implies ready: a latecomer whose window
				// opens after the others' closed sees only confirms.
				_, ready := st.ready[p]
				_, confirmed := st.confirms[p]
				if !ready && !confirmed && p != self && !r.isExcluded(p, step) {
					return false
				}
			}
			return true
		})
		if err != nil {
			return Result{}, nil, err
		}
		if ok || !time.Now().Before(windowEnd) {
			break
		}
		if err := r.publish(ctx, readyMsg); err != nil {
			return Result{}, nil, err
		}
	}
	// 2. confirm until every member confirmed the same group
	group, others := r.initialGroup(key, spec, state)
	r.log.Debug("diloco: ready window closed", "step", step, "attempt", a, "ready", len(group))
	if len(group) == 1 && others > 0 {
		return Result{}, nil, fmt.Errorf("%w: %d peers ready for step %d start from another state", ErrOutOfSync, others, step)
	}
	spec += "/" + state
	var published []peer.ID
	var lastPublish time.Time
	var agreed bool
	deadline := time.Now().Add(r.cfg.confirmTimeout)
	for !agreed {
		if !slices.Equal(group, published) || time.Since(lastPublish) >= r.republish() {
			if err := r.publish(ctx, roundMsg{Type: "confirm", Step: step, Attempt: a, Group: idStrings(group)}); err != nil {
				return Result{}, nil, err
			}
			published, lastPublish = group, time.Now()
		}
		var merged []peer.ID
		var notIn bool
		ok, err := r.await(ctx, minTime(deadline, time.Now().Add(r.republish())), func() bool {
			st := r.attempts[key]
			// Peers whose group was fixed without us are taken; form the
			// group from the others. If nobody is left, we came too late.
			taken := closedWithout(st, self)
			admissible := func(p peer.ID) bool {
				if r.isExcluded(p, step) || taken[p] {
					return false
				}
				s, ok := st.ready[p]
				return !ok || s == spec
			}
			// Agreement first: once every member confirmed our group it is
			// fixed, and latecomers wait for the next attempt or step.
			all := true
			for _, p := range group {
				if g, ok := st.confirms[p]; !ok || !slices.Equal(g, group) {
					all = false
					break
				}
			}
			merged = mergeGroups(slices.DeleteFunc(slices.Clone(group), func(p peer.ID) bool { return taken[p] }), st, admissible)
			if len(taken) > 0 && len(merged) == 1 {
				notIn = true
				return true
			}
			// A group of one is only agreed when nobody else's confirm
			// can be merged: a latecomer joins the others' open group.
			if all && (len(group) > 1 || slices.Equal(merged, group)) {
				agreed = true
				return true
			}
			return !slices.Equal(merged, group)
		})
		if err != nil {
			return Result{}, nil, err
		}
		if notIn {
			return Result{}, nil, ErrNotInGroup
		}
		if !ok && !time.Now().Before(deadline) {
			return Result{}, group, fmt.Errorf("attempt %d: not every member of %d confirmed within %v", a, len(group), r.cfg.confirmTimeout)
		}
		if ok && !agreed {
			group = merged
		}
	}
	if len(group) == 1 && r.othersAlive() {
		return Result{}, nil, fmt.Errorf("%w: step %d, attempt %d", ErrAlone, step, a)
	}
	r.log.Debug("diloco: round group fixed", "step", step, "attempt", a, "size", len(group))
	gh := groupHash(group)
	id := sha256.Sum256(fmt.Appendf(nil, "openpool/diloco/round\x00%s\x00%d\x00%d\x00%x\x00%s", r.pool, step, a, gh, spec))
	// 3. all-reduce, cancelled by any member's abort
	copy(dst, src)
	actx, cancel := context.WithCancel(ctx)
	stopWatch := r.watchAborts(actx, key, group, cancel)
	stats, err := r.ring.AllReduce(actx, Round{ID: id, Group: group, Mode: r.cfg.mode}, dst)
	stopWatch()
	cancel()
	if err != nil {
		r.blame(ctx, step, a, err)
		return Result{}, group, fmt.Errorf("attempt %d: %w", a, err)
	}
	// 4. commit
	sum := sha256.Sum256(f32bytes(dst))
	mine := hex.EncodeToString(gh[:]) + hex.EncodeToString(sum[:])
	if err := r.publish(ctx, roundMsg{Type: "complete", Step: step, Attempt: a, GroupHash: hex.EncodeToString(gh[:]), Result: hex.EncodeToString(sum[:])}); err != nil {
		return Result{}, nil, err
	}
	var why error
	ok, err := r.await(ctx, time.Now().Add(r.cfg.commitTimeout), func() bool {
		st := r.attempts[key]
		for _, p := range group {
			if _, aborted := st.aborts[p]; aborted {
				why = fmt.Errorf("member %s aborted", p)
				return true
			}
			c, ok := st.completes[p]
			if !ok {
				return false
			}
			if c != mine {
				why = fmt.Errorf("member %s reports result %s, ours is %s", p, c[64:], mine[64:])
				return true
			}
		}
		return true
	})
	if err != nil {
		return Result{}, nil, err
	}
	if !ok {
		why = fmt.Errorf("not every member reported its result within %v", r.cfg.commitTimeout)
	}
	if why != nil {
		_ = r.publish(ctx, roundMsg{Type: "abort", Step: step, Attempt: a, GroupHash: hex.EncodeToString(gh[:]), Reason: why.Error()})
		return Result{}, group, fmt.Errorf("attempt %d: commit: %w", a, why)
	}
	return Result{Step: step, Attempt: a, Group: group, Stats: stats, Hash: sum}, group, nil
}

// othersAlive reports whether the pool's live members (WithMembers) name a
// peer other than us that is not excluded.
func (r *Rounds) othersAlive() bool {
	return othersIn(r.cfg.members, r.h.ID()) > 0
}

// othersIn counts the peers other than self that members (nil: none)
// lists.
func othersIn(members func() []peer.ID, self peer.ID) int {
	if members == nil {
		return 0
	}
	n := 0
	for _, p := range members() {
		if p != self {
			n++
		}
	}
	return n
}

// initialGroup: announcers with our spec and state plus self, minus
// excluded, sorted; others counts the announcers with our spec but another
// start state.
func (r *Rounds) initialGroup(key attemptKey, spec, state string) ([]peer.ID, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := []peer.ID{r.h.ID()}
	others := 0
	if st := r.attempts[key]; st != nil {
		for p, s := range st.ready {
			if p == r.h.ID() {
				continue
			}
			if s != spec+"/"+state {
				if m, _, _ := strings.Cut(s, "/"); m == spec {
					others++
					r.log.Info("diloco: peer starts the step from another outer state; not grouping with it", "peer", p, "step", key.step)
				} else {
					r.log.Warn("diloco: peer is ready with another model or mode; not grouping with it", "peer", p, "step", key.step)
				}
				continue
			}
			if !r.isExcluded(p, key.step) {
				g = append(g, p)
			}
		}
		// Confirmers whose ready we missed are ready too (a latecomer
		// sees only confirms); one whose ready names another spec or
		// state was skipped above.
		for p := range st.confirms {
			if _, seen := st.ready[p]; !seen && p != r.h.ID() && !r.isExcluded(p, key.step) && len(g) < maxGroupSize {
				g = append(g, p)
			}
		}
	}
	slices.Sort(g)
	return g, others
}

// mergeGroups returns group plus every admissible peer that confirmed a
// group, and every admissible peer named in such a confirm, sorted: the
// group only grows, so peers that saw different ready sets converge.
func mergeGroups(group []peer.ID, st *attemptState, admissible func(peer.ID) bool) []peer.ID {
	out := slices.Clone(group)
	if st == nil {
		return out
	}
	add := func(q peer.ID) {
		if !slices.Contains(out, q) && admissible(q) && len(out) < maxGroupSize {
			out = append(out, q)
		}
	}
	for p, g := range st.confirms {
		if !admissible(p) {
			continue
		}
		add(p)
		for _, q := range g {
			add(q)
		}
	}
	slices.Sort(out)
	return out
}

// closedWithout returns the members of every group not containing self
// that all of its members have confirmed: the round started without us.
func closedWithout(st *attemptState, self peer.ID) map[peer.ID]bool {
	taken := map[peer.ID]bool{}
	if st == nil {
		return taken
	}
	for _, g := range st.confirms {
		if slices.Contains(g, self) {
			continue
		}
		all := true
		for _, q := range g {
			if c, ok := st.confirms[q]; !ok || !slices.Equal(c, g) {
				all = false
				break
			}
		}
		if all {
			for _, q := range g {
				taken[q] = true
			}
		}
	}
	return taken
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// republish is how often ready and confirm messages are repeated while
// waiting.
func (r *Rounds) republish() time.Duration {
	return max(r.cfg.readyWindow/3, 100*time.Millisecond)
}

// watchAborts cancels the all-reduce when a member publishes an abort.
func (r *Rounds) watchAborts(ctx context.Context, key attemptKey, group []peer.ID, cancel context.CancelFunc) func() {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		wctx, wcancel := context.WithCancel(ctx)
		defer wcancel()
		go func() {
			select {
			case <-done:
				wcancel()
			case <-wctx.Done():
			}
		}()
		ok, _ := r.await(wctx, time.Now().Add(24*time.Hour), func() bool {
			st := r.attempts[key]
			for _, p := range group {
				if _, a := st.aborts[p]; a && p != r.h.ID() {
					return true
				}
			}
			return false
		})
		if ok {
			cancel()
		}
	}()
	return func() { close(done); <-stopped }
}

// blame publishes an abort; a protocol violation excludes the peer.
func (r *Rounds) blame(ctx context.Context, step uint64, a int, err error) {
	m := roundMsg{Type: "abort", Step: step, Attempt: a, Reason: err.Error()}
	var pe *PeerError
	if errors.As(err, &pe) && pe.Violation {
		m.Blame = pe.Peer.String()
		r.exclude(pe.Peer, step)
		r.log.Warn("diloco: dropping peer that broke the all-reduce protocol", "peer", pe.Peer, "step", step, "attempt", a, "err", pe.Err)
	}
	if len(m.Reason) > 1024 {
		m.Reason = m.Reason[:1024]
	}
	_ = r.publish(ctx, m)
}

func (r *Rounds) exclude(p peer.ID, step uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.excluded) < maxGroupSize {
		r.excluded[p] = step + r.cfg.excludeSteps
	}
}

func groupHash(g []peer.ID) [32]byte {
	h := sha256.New()
	for _, p := range g {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func idStrings(g []peer.ID) []string {
	out := make([]string, len(g))
	for i, p := range g {
		out[i] = p.String()
	}
	return out
}
