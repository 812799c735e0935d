package node

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/openpool/openpool/p2p"
	"github.com/openpool/openpool/toploc"
)

// Work submissions and their validation.
//
// A worker reports each inference it ran with SubmitWork: the submission
// (task, checkpoint, output hash, TOPLOC proof) is recorded through the
// WorkLedger when one is configured, then gossiped on the pool's "work"
// topic, whose validator admits only well-formed submissions for this pool
// signed by their worker. A node with WithWorkValidator checks a
// deterministic sample of the submissions it receives: toploc.Sampled over
// a seed and the submission's ID picks them, so every validator with the
// same seed checks the same ones. It recomputes the activations
// through the caller's RecomputeFunc, runs toploc.Verify with the pool's
// parameters, records a WorkVerdict and, for a rejection, asks the ledger to
// invalidate the work.
//
// Where the seed comes from decides whether a worker can predict which of
// its submissions are checked (and cheat on the others). With
// WithWorkSampleSeed it is fixed: fine for tests and demonstrations, but a
// worker that learns it knows the sample. With WithWorkSampleBeacon the
// seed of a submission is the beacon of its outer step, a value that does
// not exist yet when the worker submits and that every validator sees
// equally; the node's caller releases it with SetWorkBeacon. Our choice of
// beacon is the DiLoCo outer-step result that follows the submission: the
// hash of the averaged pseudo-gradient (or of the checkpoint it yields) of
// outer step s is the beacon of step s. It depends on every member's
// contribution to the round, so no worker knows it while it can still
// submit work for step s, and every member that completes the round
// computes the same bytes; a validator that does not train takes the CID
// of the checkpoint published after the step, which names the same
// result. Where a ledger records submissions, the hash of a block after
// the step's submission deadline serves the same purpose.
//
// The validator holds the submissions of a step, in a bounded set, until
// its beacon is released, then samples them with it. Beacons must be
// released in increasing step order; a step's beacon also samples the
// held submissions of earlier steps that never got one. A submission that
// arrives after the beacon of its step (or of a later step) was released
// is late: its worker could have computed whether it would be sampled, so
// it is always checked (WorkStats.Late). Validators therefore pick the same
// set from the submissions they received before the beacon; a submission
// racing the beacon may be checked by some validators only, never by none.

// Sentinel errors of work submission and validation.
var (
	// ErrWorkInvalid, wrapped by a RecomputeFunc's error, rejects the work
	// without running TOPLOC (for example an output hash that does not match
	// the task). Any other recompute error leaves the work unchecked.
	ErrWorkInvalid = errors.New("node: work invalid")
	// ErrWorkDuplicate: the same submission was already published or seen.
	ErrWorkDuplicate = errors.New("node: duplicate work submission")
	// ErrWorkBeacon: SetWorkBeacon was called on a node without
	// WithWorkSampleBeacon, with an empty beacon, or out of step order.
	ErrWorkBeacon = errors.New("node: work sampling beacon")
)

// Defaults of the validator role.
const (
	// DefaultWorkQueue is how many sampled submissions may wait for
	// verification; beyond it they are dropped (and counted), so a flood
	// cannot grow memory.
	DefaultWorkQueue = 64
	// DefaultWorkCheckTimeout bounds one recompute plus verification.
	DefaultWorkCheckTimeout = 2 * time.Minute
	// workSeenLimit is how many submission IDs each pool remembers to drop
	// duplicates (about 1 MiB of IDs per pool at most).
	workSeenLimit = 1 << 15
	// workRecentVerdicts is how many verdicts WorkVerdicts keeps.
	workRecentVerdicts = 256
	// workLedgerTimeout bounds one ledger call made by a validator.
	workLedgerTimeout = time.Minute
	// workPendingLimit and workPendingBytes bound the submissions of one
	// pool a beacon-sampling validator holds until their beacon (honest
	// submissions are a few KiB; the byte bound caps a flood of maximal
	// ones at 32 MiB per pool).
	workPendingLimit = 4096
	workPendingBytes = 32 << 20
)

// Work is what a worker reports to SubmitWork.
type Work struct {
	OuterStep         uint64
	CheckpointVersion uint64
	// Input is the task: its bytes, or a seed or CID that determines it
	// (at most MaxWorkInputSize bytes).
	Input []byte
	// OutputHash is the SHA-256 of what the work produced.
	OutputHash [32]byte
	// Proof is the TOPLOC proof of the inference's last hidden states.
	Proof *toploc.Proof
}

// RecomputeFunc recomputes, for a validator, the last hidden states of the
// inference a submission claims: run the model of sub.CheckpointVersion
// over the task of sub.Input and the output the worker produced (fetched
// by sub.OutputHash, or determined by the task), in the pool's precision.
// Return an error wrapping ErrWorkInvalid to reject the work outright (the
// output does not match its hash, a generation check failed); any other
// error leaves the submission unchecked. It must return soon after ctx
// ends (DefaultWorkCheckTimeout, or the node closing): the validator checks
// one submission at a time.
type RecomputeFunc func(ctx context.Context, sub *WorkSubmission) (toploc.Sequence, error)

// ToyRecompute is the RecomputeFunc for work done with toploc.ToyTask, for
// tests, examples and `openpool dev`: it recomputes with task's model
// whatever the submission's checkpoint version, and rejects a submission
// whose output hash is not its task's.
func ToyRecompute(task toploc.ToyTask) RecomputeFunc {
	return func(ctx context.Context, sub *WorkSubmission) (toploc.Sequence, error) {
		s, err := task.Recompute(ctx, sub.Input, sub.OutputHash)
		if errors.Is(err, toploc.ErrToyOutput) {
			return s, fmt.Errorf("%w: %w", ErrWorkInvalid, err)
		}
		return s, err
	}
}

// WorkLedger records work on a chain; node does not depend on any chain
// client, the caller adapts one (for example ledger.Client, mapping the pool
// name to its on-chain ID: SubmitWork(ctx, poolID, common.Hash(id),
// common.Hash(proofHash)) and InvalidateWork(ctx, poolID, common.Hash(id),
// slash)). Every validator that rejects a submission calls InvalidateWork,
// so an adapter should treat "already invalidated" as success.
type WorkLedger interface {
	SubmitWork(ctx context.Context, pool string, id WorkID, proofHash [32]byte) error
	InvalidateWork(ctx context.Context, pool string, id WorkID, reason string) error
}

// WorkOutcome is a validator's decision on one sampled submission.
type WorkOutcome uint8

// Outcomes of a verdict.
const (
	WorkAccepted  WorkOutcome = iota + 1 // the proof matches the recomputed activations
	WorkRejected                         // it does not, or the work is invalid
	WorkUnchecked                        // the validator could not check it (recompute failed, timeout)
)

func (o WorkOutcome) String() string {
	switch o {
	case WorkAccepted:
		return "accepted"
	case WorkRejected:
		return "rejected"
	case WorkUnchecked:
		return "unchecked"
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// WorkVerdict is a validator's verdict on one sampled submission.
type WorkVerdict struct {
	ID WorkID
	// Submission without its proof bytes (kept out to bound memory).
	Submission WorkSubmission
	Outcome    WorkOutcome
	Reason     string        // why it was rejected or unchecked; empty when accepted
	Result     toploc.Result // TOPLOC statistics; zero when verification did not run
	// Invalidated reports that the ledger accepted the invalidation of
	// rejected work.
	Invalidated bool
	Time        time.Time     // when the verdict was reached
	Took        time.Duration // recompute plus verification
}

// WorkStats counts work submissions on this node, over all pools.
type WorkStats struct {
	Published uint64 `json:"published"` // submissions this node published
	Received  uint64 `json:"received"`  // valid submissions from other workers delivered
	Sampled   uint64 `json:"sampled"`   // of those, picked for verification
	Accepted  uint64 `json:"accepted"`  // verdicts by outcome
	Rejected  uint64 `json:"rejected"`
	Unchecked uint64 `json:"unchecked"`
	Dropped   uint64 `json:"dropped"` // sampled but dropped: the verification queue was full
	// Beacon sampling (WithWorkSampleBeacon).
	Pending        uint64 `json:"pending"`         // submissions waiting for their step's beacon now
	Late           uint64 `json:"late"`            // arrived after their step's beacon: always checked
	PendingDropped uint64 `json:"pending_dropped"` // arrived while the held set was full: never sampled
	// Messages the topic validator refused, by reason.
	Malformed uint64 `json:"malformed"`  // undecodable, or a non-canonical proof
	Oversize  uint64 `json:"oversize"`   // over MaxWorkSubmissionSize
	WrongPool uint64 `json:"wrong_pool"` // for another pool than the topic's
	Spoofed   uint64 `json:"spoofed"`    // signed by another peer than the worker it names
	Duplicate uint64 `json:"duplicate"`  // a submission already seen (ignored, not penalised)
	// LedgerErrors counts failed ledger calls (submissions and invalidations).
	LedgerErrors uint64 `json:"ledger_errors"`
	Invalidated  uint64 `json:"invalidated"` // rejected submissions the ledger invalidated
}

type workConfig struct {
	fraction   float64
	recompute  RecomputeFunc
	seed       []byte
	beacon     bool
	params     toploc.Params
	thresholds *toploc.Thresholds
	ledger     WorkLedger
	queue      int
	timeout    time.Duration
}

func (c workConfig) withDefaults() workConfig {
	if c.params == (toploc.Params{}) {
		c.params = toploc.DefaultParams
	}
	if c.queue <= 0 {
		c.queue = DefaultWorkQueue
	}
	if c.timeout <= 0 {
		c.timeout = DefaultWorkCheckTimeout
	}
	return c
}

// WithWorkValidator makes the node a validator of work in every pool it
// joins: it checks fraction (0 to 1) of the submissions it receives,
// chosen deterministically by toploc.Sampled over the sample seed
// (WithWorkSampleSeed) and the submission ID, recomputing their activations
// with recompute. Verdicts are available from WorkVerdicts and
// SubscribeWorkVerdicts, counts from WorkStats.
func WithWorkValidator(fraction float64, recompute RecomputeFunc) Option {
	return func(c *config) error {
		if !(fraction >= 0 && fraction <= 1) {
			return fmt.Errorf("node: work validation fraction %v must be between 0 and 1", fraction)
		}
		if recompute == nil {
			return fmt.Errorf("node: work validator needs a recompute function")
		}
		c.work.fraction, c.work.recompute = fraction, recompute
		return nil
	}
}

// WithWorkSampleSeed sets a fixed seed that picks which submissions
// validators check (default empty). Validators that share it check the
// same submissions. A worker that knows it can tell which of its
// submissions will be checked: use it for tests and demonstrations, and
// WithWorkSampleBeacon in a deployment.
func WithWorkSampleSeed(seed []byte) Option {
	return func(c *config) error {
		if c.work.beacon {
			return fmt.Errorf("%w: a fixed sample seed and beacon sampling exclude each other", ErrWorkBeacon)
		}
		c.work.seed = append([]byte(nil), seed...)
		return nil
	}
}

// WithWorkSampleBeacon makes the validator sample each submission with the
// beacon of its outer step, released by SetWorkBeacon once the step's
// submissions are in (see the package notes on work: the DiLoCo outer-step
// result hash, or a later block hash), so that no worker knows at
// submission time which of its submissions will be checked. Submissions
// wait, in a bounded set, for their beacon.
func WithWorkSampleBeacon() Option {
	return func(c *config) error {
		if c.work.seed != nil {
			return fmt.Errorf("%w: a fixed sample seed and beacon sampling exclude each other", ErrWorkBeacon)
		}
		c.work.beacon = true
		return nil
	}
}

// SetWorkBeacon releases the sampling beacon of pool's outer step
// outerStep on a validator configured WithWorkSampleBeacon: the submissions
// of that step (and of earlier steps still waiting) it holds are sampled
// with toploc.Sampled(beacon, ID, fraction) and the sampled ones queued for
// verification. Every validator must be given the same beacon bytes (the
// step's result hash, a block hash). Steps must be released in increasing
// order; releasing the same step again with the same beacon does nothing.
// A node that validates nothing ignores beacons.
func (n *Node) SetWorkBeacon(pool string, outerStep uint64, beacon []byte) error {
	if len(beacon) == 0 {
		return fmt.Errorf("%w: empty beacon for %s step %d", ErrWorkBeacon, pool, outerStep)
	}
	if !n.cfg.work.beacon {
		return fmt.Errorf("%w: node not configured with WithWorkSampleBeacon", ErrWorkBeacon)
	}
	w := &n.work
	t, err := w.topic(pool)
	if err != nil {
		return fmt.Errorf("node: work beacon: %w", err)
	}
	if w.jobs == nil {
		return nil
	}
	sampled, err := t.release(outerStep, beacon, w.cfg.fraction)
	if err != nil {
		return err
	}
	for _, vw := range sampled {
		w.enqueue(pool, vw)
	}
	return nil
}

// WithWorkProofParams sets the TOPLOC parameters validators require of
// every proof (default toploc.DefaultParams); a proof made with others is
// rejected.
func WithWorkProofParams(p toploc.Params) Option {
	return func(c *config) error {
		if _, err := toploc.Chunks(p, 1, 1); err != nil {
			return fmt.Errorf("node: work proof parameters: %w", err)
		}
		c.work.params = p
		return nil
	}
}

// WithWorkThresholds sets the TOPLOC acceptance thresholds validators apply
// (default toploc.DefaultThresholds for the proof's top-k).
func WithWorkThresholds(t toploc.Thresholds) Option {
	return func(c *config) error { c.work.thresholds = &t; return nil }
}

// WithWorkLedger records every submission this node publishes on a chain
// before gossiping it, and invalidates work this node's validator rejects.
func WithWorkLedger(l WorkLedger) Option {
	return func(c *config) error { c.work.ledger = l; return nil }
}

// WithWorkQueue sets how many sampled submissions may wait for
// verification (default DefaultWorkQueue) and how long one check may take
// (default DefaultWorkCheckTimeout; 0 keeps it).
func WithWorkQueue(size int, timeout time.Duration) Option {
	return func(c *config) error {
		if size < 1 || timeout < 0 {
			return fmt.Errorf("node: work queue of %d with timeout %v: need at least 1 and a non-negative timeout", size, timeout)
		}
		c.work.queue, c.work.timeout = size, timeout
		return nil
	}
}

// SubmitWork reports work this node did in pool: it records the submission
// on the ledger (WithWorkLedger) and gossips it on the pool's work topic,
// waiting (bounded by ctx) until at least one other member subscribes to the
// topic. It returns the published submission; its ID names it in verdicts
// and on the ledger. Submitting the same work twice fails with
// ErrWorkDuplicate.
func (n *Node) SubmitWork(ctx context.Context, pool string, w Work) (*WorkSubmission, error) {
	if w.Proof == nil {
		return nil, fmt.Errorf("node: submit work to %s: no proof", pool)
	}
	proof, err := w.Proof.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("node: submit work to %s: %w", pool, err)
	}
	sub := &WorkSubmission{
		Pool: pool, Worker: n.ID(), OuterStep: w.OuterStep, CheckpointVersion: w.CheckpointVersion,
		Input: w.Input, OutputHash: w.OutputHash, Proof: proof,
	}
	if err := n.work.publish(ctx, sub); err != nil {
		return nil, fmt.Errorf("node: submit work to %s: %w", pool, err)
	}
	return sub, nil
}

// WorkStats returns the node's work counters.
func (n *Node) WorkStats() WorkStats { return n.work.stats.snapshot() }

// WorkVerdicts returns the most recent verdicts of this node's validator
// (up to 256), oldest first.
func (n *Node) WorkVerdicts() []WorkVerdict {
	w := &n.work
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]WorkVerdict, 0, len(w.recent))
	if len(w.recent) == workRecentVerdicts {
		out = append(out, w.recent[w.next:]...)
		return append(out, w.recent[:w.next]...)
	}
	return append(out, w.recent...)
}

// workVerdictRow is a verdict as the status page shows it.
type workVerdictRow struct {
	ID            string  `json:"id"`
	Pool          string  `json:"pool"`
	Worker        string  `json:"worker"`
	OuterStep     uint64  `json:"outer_step"`
	Outcome       string  `json:"outcome"`
	ExpMismatches int     `json:"exp_mismatches"`
	MantErrMean   float64 `json:"mant_err_mean"`
	TookMS        int64   `json:"took_ms"`
	Reason        string  `json:"reason,omitempty"`
}

// workVerdictRows returns the newest verdicts, newest first.
func (n *Node) workVerdictRows(limit int) []workVerdictRow {
	vs := n.WorkVerdicts()
	rows := make([]workVerdictRow, 0, min(limit, len(vs)))
	for i := len(vs) - 1; i >= 0 && len(rows) < limit; i-- {
		v := vs[i]
		rows = append(rows, workVerdictRow{
			ID: v.ID.String()[:12], Pool: v.Submission.Pool, Worker: shortID(v.Submission.Worker), OuterStep: v.Submission.OuterStep,
			Outcome: v.Outcome.String(), ExpMismatches: v.Result.MaxExpMismatches, MantErrMean: finiteOr(v.Result.MaxMantErrMean),
			TookMS: v.Took.Milliseconds(), Reason: v.Reason,
		})
	}
	return rows
}

// WorkVerdictSubscription delivers verdicts as they are reached. A
// subscriber that falls buf verdicts behind loses the newest ones.
type WorkVerdictSubscription struct {
	C <-chan WorkVerdict
	c chan WorkVerdict
	w *workService
}

// Close stops delivery and closes C.
func (s *WorkVerdictSubscription) Close() {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	if _, ok := s.w.subs[s]; ok {
		delete(s.w.subs, s)
		close(s.c)
	}
}

// SubscribeWorkVerdicts returns a subscription to this node's verdicts with
// a buffer of buf (default 64). It is closed when the node closes.
func (n *Node) SubscribeWorkVerdicts(buf int) *WorkVerdictSubscription {
	if buf <= 0 {
		buf = 64
	}
	w := &n.work
	c := make(chan WorkVerdict, buf)
	s := &WorkVerdictSubscription{C: c, c: c, w: w}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		close(c)
		return s
	}
	if w.subs == nil {
		w.subs = make(map[*WorkVerdictSubscription]struct{})
	}
	w.subs[s] = struct{}{}
	return s
}

// workService is the node's part in work submission and validation: one
// topic per joined pool and, for a validator, one verification goroutine.
// Its zero value is ready; join starts it.
type workService struct {
	stats workCounters

	mu      sync.Mutex
	started bool
	closed  bool
	cfg     workConfig
	self    peer.ID
	ps      *pubsub.PubSub
	n       *Node
	topics  map[string]*workTopic
	subs    map[*WorkVerdictSubscription]struct{}
	recent  []WorkVerdict
	next    int // ring position in recent once full
	jobs    chan validatedWork
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// workTopic is the node's subscription to one pool's work topic.
type workTopic struct {
	pool   string
	name   string
	w      *workService
	topic  *pubsub.Topic
	sub    *pubsub.Subscription
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	seen  map[WorkID]struct{}
	order []WorkID // ring of seen IDs, oldest evicted first
	pos   int
	// Beacon sampling: submissions waiting for their step's beacon, and
	// the highest step released so far.
	pending      map[uint64][]validatedWork
	pendingN     int
	pendingBytes int
	released     bool
	lastStep     uint64
	lastBeacon   []byte
}

// validatedWork travels from the topic validator to the receive loop in
// pubsub.Message.ValidatorData, so nothing is decoded twice, and on to the
// verifier.
type validatedWork struct {
	id  WorkID
	sub *WorkSubmission
}

// join subscribes to pool's work topic; n.mu is held by the caller.
func (w *workService) join(n *Node, pool string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if !w.started {
		w.started = true
		w.n, w.cfg, w.self, w.ps = n, n.cfg.work.withDefaults(), n.ID(), n.stack.PubSub
		w.topics = make(map[string]*workTopic)
		if w.subs == nil {
			w.subs = make(map[*WorkVerdictSubscription]struct{})
		}
		ctx, cancel := context.WithCancel(context.Background())
		w.cancel = cancel
		n.SetStatusSection("work", func() any { return w.stats.snapshot() })
		n.SetStatusSection("work_verdicts", func() any { return n.workVerdictRows(10) })
		if w.cfg.recompute != nil && w.cfg.fraction > 0 {
			w.jobs = make(chan validatedWork, w.cfg.queue)
			w.wg.Add(1)
			go w.verifyLoop(ctx)
		}
	}
	if _, ok := w.topics[pool]; ok {
		return fmt.Errorf("work topic: %w", ErrAlreadyInPool)
	}
	t := &workTopic{pool: pool, name: p2p.TopicName(pool, "work"), w: w, seen: make(map[WorkID]struct{}), done: make(chan struct{}),
		pending: make(map[uint64][]validatedWork)}
	if err := w.ps.RegisterTopicValidator(t.name, t.validate); err != nil {
		return fmt.Errorf("work topic: register validator: %w", err)
	}
	topic, err := w.ps.Join(t.name)
	if err != nil {
		_ = w.ps.UnregisterTopicValidator(t.name)
		return fmt.Errorf("work topic: join: %w", err)
	}
	if err := topic.SetScoreParams(p2p.TopicScoreParams()); err != nil {
		n.log.Warn("work topic scoring disabled", "pool", pool, "err", err)
	}
	sub, err := topic.Subscribe(pubsub.WithBufferSize(256))
	if err != nil {
		_ = topic.Close()
		_ = w.ps.UnregisterTopicValidator(t.name)
		return fmt.Errorf("work topic: subscribe: %w", err)
	}
	t.topic, t.sub = topic, sub
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	w.topics[pool] = t
	go t.receive(ctx)
	return nil
}

// leave stops the pool's work topic (queued checks of its work finish).
func (w *workService) leave(pool string) {
	w.mu.Lock()
	t := w.topics[pool]
	delete(w.topics, pool)
	w.mu.Unlock()
	if t != nil {
		t.stop()
	}
}

// close stops every topic and the verifier; it returns once all of the
// service's goroutines have ended.
func (w *workService) close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	topics := w.topics
	w.topics = nil
	cancel := w.cancel
	w.mu.Unlock()
	for _, t := range topics {
		t.stop()
	}
	if cancel != nil {
		cancel()
	}
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	for s := range w.subs {
		delete(w.subs, s)
		close(s.c)
	}
}

func (t *workTopic) stop() {
	t.sub.Cancel()
	t.cancel()
	<-t.done
	t.mu.Lock()
	t.w.stats.pending.Add(-uint64(t.pendingN))
	t.pending, t.pendingN, t.pendingBytes = nil, 0, 0
	t.mu.Unlock()
	if err := t.topic.Close(); err != nil {
		t.w.n.log.Debug("close work topic", "pool", t.pool, "err", err)
	}
	_ = t.w.ps.UnregisterTopicValidator(t.name)
}

func (w *workService) topic(pool string) (*workTopic, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.topics[pool]
	if !ok {
		return nil, fmt.Errorf("pool %s: %w", pool, ErrNotMember)
	}
	return t, nil
}

func (w *workService) publish(ctx context.Context, sub *WorkSubmission) error {
	t, err := w.topic(sub.Pool)
	if err != nil {
		return err
	}
	data, err := sub.MarshalBinary()
	if err != nil {
		return err
	}
	id := WorkID(sha256.Sum256(data))
	if t.wasSeen(id) {
		return fmt.Errorf("%s: %w", id, ErrWorkDuplicate)
	}
	if l := w.cfg.ledger; l != nil {
		if err := l.SubmitWork(ctx, sub.Pool, id, sub.ProofHash()); err != nil {
			w.stats.ledgerErrors.Add(1)
			return fmt.Errorf("ledger: %w", err)
		}
	}
	if err := t.topic.Publish(ctx, data, pubsub.WithReadiness(pubsub.MinTopicSize(1))); err != nil {
		return fmt.Errorf("publish %s: %w", id, err)
	}
	w.stats.published.Add(1)
	w.n.log.Debug("work submitted", "pool", sub.Pool, "id", id.String()[:12], "outer_step", sub.OuterStep)
	return nil
}

// validate is the topic validator: the one place where work submissions
// enter the node. Structural faults are rejected (penalising the sender);
// duplicates are ignored.
func (t *workTopic) validate(_ context.Context, _ peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	st := &t.w.stats
	data := msg.GetData()
	if len(data) > MaxWorkSubmissionSize {
		st.oversize.Add(1)
		return pubsub.ValidationReject
	}
	sub := new(WorkSubmission)
	if err := sub.UnmarshalBinary(data); err != nil {
		st.malformed.Add(1)
		return pubsub.ValidationReject
	}
	if sub.Pool != t.pool {
		st.wrongPool.Add(1)
		return pubsub.ValidationReject
	}
	// Strict signing guarantees GetFrom is the signer.
	if sub.Worker != msg.GetFrom() {
		st.spoofed.Add(1)
		return pubsub.ValidationReject
	}
	id := WorkID(sha256.Sum256(data))
	if !t.markSeen(id) {
		st.duplicate.Add(1)
		return pubsub.ValidationIgnore
	}
	msg.ValidatorData = validatedWork{id: id, sub: sub}
	return pubsub.ValidationAccept
}

func (t *workTopic) wasSeen(id WorkID) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.seen[id]
	return ok
}

// markSeen records id and reports whether it is new.
func (t *workTopic) markSeen(id WorkID) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.seen[id]; ok {
		return false
	}
	if len(t.order) < workSeenLimit {
		t.order = append(t.order, id)
	} else {
		delete(t.seen, t.order[t.pos])
		t.order[t.pos] = id
		t.pos = (t.pos + 1) % workSeenLimit
	}
	t.seen[id] = struct{}{}
	return true
}

func (t *workTopic) receive(ctx context.Context) {
	defer close(t.done)
	w := t.w
	for {
		msg, err := t.sub.Next(ctx)
		if err != nil {
			return
		}
		vw, ok := msg.ValidatorData.(validatedWork)
		if !ok || msg.GetFrom() == w.self {
			continue
		}
		w.stats.received.Add(1)
		switch {
		case w.jobs == nil:
		case w.cfg.beacon:
			t.hold(vw)
		case toploc.Sampled(w.cfg.seed, vw.id[:], w.cfg.fraction):
			w.enqueue(t.pool, vw)
		}
	}
}

// enqueue queues a sampled submission for verification, or drops it when
// the queue is full.
func (w *workService) enqueue(pool string, vw validatedWork) {
	w.stats.sampled.Add(1)
	select {
	case w.jobs <- vw:
	default:
		w.stats.dropped.Add(1)
		w.n.log.Warn("work verification queue full: sampled submission dropped", "pool", pool, "id", vw.id.String()[:12])
	}
}

// hold keeps a submission until the beacon of its step, or queues it at
// once when it is late (its step's beacon is out).
func (t *workTopic) hold(vw validatedWork) {
	w := t.w
	step := vw.sub.OuterStep
	size := len(vw.sub.Proof) + len(vw.sub.Input)
	t.mu.Lock()
	switch {
	case t.pending == nil: // stopped
		t.mu.Unlock()
		return
	case t.released && step <= t.lastStep:
		t.mu.Unlock()
		w.stats.late.Add(1)
		w.n.log.Info("late work submission: checked unconditionally", "pool", t.pool, "id", vw.id.String()[:12], "outer_step", step, "released", t.lastStep)
		w.enqueue(t.pool, vw)
		return
	case t.pendingN >= workPendingLimit || t.pendingBytes+size > workPendingBytes:
		t.mu.Unlock()
		w.stats.pendingDropped.Add(1)
		w.n.log.Warn("work held for a beacon: set full, submission not sampled", "pool", t.pool, "id", vw.id.String()[:12], "outer_step", step)
		return
	}
	t.pending[step] = append(t.pending[step], vw)
	t.pendingN++
	t.pendingBytes += size
	t.mu.Unlock()
	w.stats.pending.Add(1)
}

// release records the beacon of step and returns the held submissions it
// samples (those of step and of earlier steps).
func (t *workTopic) release(step uint64, beacon []byte, fraction float64) ([]validatedWork, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pending == nil {
		return nil, fmt.Errorf("node: work beacon: pool %s: %w", t.pool, ErrNotMember)
	}
	if t.released && step <= t.lastStep {
		if step == t.lastStep && bytes.Equal(beacon, t.lastBeacon) {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: %s step %d released after step %d", ErrWorkBeacon, t.pool, step, t.lastStep)
	}
	t.released, t.lastStep, t.lastBeacon = true, step, bytes.Clone(beacon)
	var sampled []validatedWork
	n := 0
	for s, held := range t.pending {
		if s > step {
			continue
		}
		for _, vw := range held {
			if toploc.Sampled(beacon, vw.id[:], fraction) {
				sampled = append(sampled, vw)
			}
			t.pendingBytes -= len(vw.sub.Proof) + len(vw.sub.Input)
		}
		n += len(held)
		delete(t.pending, s)
	}
	t.pendingN -= n
	t.w.stats.pending.Add(-uint64(n))
	// Steps first, then IDs: every validator verifies in the same order.
	slices.SortFunc(sampled, func(a, b validatedWork) int {
		if c := cmp.Compare(a.sub.OuterStep, b.sub.OuterStep); c != 0 {
			return c
		}
		return bytes.Compare(a.id[:], b.id[:])
	})
	return sampled, nil
}

func (w *workService) verifyLoop(ctx context.Context) {
	defer w.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-w.jobs:
			v := w.check(ctx, j)
			if v.Outcome == WorkRejected && w.cfg.ledger != nil {
				lctx, cancel := context.WithTimeout(ctx, workLedgerTimeout)
				if err := w.cfg.ledger.InvalidateWork(lctx, j.sub.Pool, j.id, v.Reason); err != nil {
					w.stats.ledgerErrors.Add(1)
					w.n.log.Warn("invalidate work", "pool", j.sub.Pool, "id", j.id.String()[:12], "err", err)
				} else {
					v.Invalidated = true
					w.stats.invalidated.Add(1)
				}
				cancel()
			}
			w.record(v)
		}
	}
}

// check recomputes and verifies one sampled submission.
func (w *workService) check(ctx context.Context, j validatedWork) WorkVerdict {
	start := time.Now()
	v := WorkVerdict{ID: j.id, Submission: *j.sub}
	v.Submission.Proof = nil
	done := func(o WorkOutcome, reason string) WorkVerdict {
		v.Outcome, v.Reason, v.Time = o, reason, time.Now()
		v.Took = v.Time.Sub(start)
		return v
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.timeout)
	defer cancel()
	proof, err := j.sub.ParseProof()
	if err != nil { // the topic validator parsed it already
		return done(WorkRejected, err.Error())
	}
	seq, err := w.cfg.recompute(ctx, j.sub)
	switch {
	case errors.Is(err, ErrWorkInvalid):
		return done(WorkRejected, err.Error())
	case err != nil:
		return done(WorkUnchecked, fmt.Sprintf("recompute: %v", err))
	}
	opts := []toploc.Option{toploc.WithParams(w.cfg.params)}
	if w.cfg.thresholds != nil {
		opts = append(opts, toploc.WithThresholds(*w.cfg.thresholds))
	}
	res, err := toploc.Verify(ctx, proof, seq, opts...)
	switch {
	case errors.Is(err, toploc.ErrInvalidProof):
		// Wrong parameters or a proof out of limits: the worker's fault.
		return done(WorkRejected, err.Error())
	case err != nil:
		return done(WorkUnchecked, fmt.Sprintf("verify: %v", err))
	}
	v.Result = res
	if !res.Accepted {
		return done(WorkRejected, res.Reason)
	}
	return done(WorkAccepted, "")
}

func (w *workService) record(v WorkVerdict) {
	switch v.Outcome {
	case WorkAccepted:
		w.stats.accepted.Add(1)
	case WorkRejected:
		w.stats.rejected.Add(1)
	default:
		w.stats.unchecked.Add(1)
	}
	r := v.Result
	w.n.log.Info("work verdict", "pool", v.Submission.Pool, "id", v.ID.String()[:12], "worker", shortID(v.Submission.Worker),
		"outcome", v.Outcome.String(), "reason", v.Reason, "exp_mismatches", r.MaxExpMismatches,
		"mant_err_mean", finiteOr(r.MaxMantErrMean), "mant_err_median", finiteOr(r.MaxMantErrMedian), "took", v.Took)
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.recent) < workRecentVerdicts {
		w.recent = append(w.recent, v)
	} else {
		w.recent[w.next] = v
		w.next = (w.next + 1) % workRecentVerdicts
	}
	for s := range w.subs {
		select {
		case s.c <- v:
		default:
		}
	}
}

// finiteOr keeps the 2^64 "no exponent matched" marker out of logs as -1.
func finiteOr(x float64) float64 {
	if x >= math.Exp2(63) || math.IsNaN(x) {
		return -1
	}
	return x
}

type workCounters struct {
	published, received, sampled, accepted, rejected, unchecked, dropped atomic.Uint64
	pending, late, pendingDropped                                        atomic.Uint64
	malformed, oversize, wrongPool, spoofed, duplicate                   atomic.Uint64
	ledgerErrors, invalidated                                            atomic.Uint64
}

func (c *workCounters) snapshot() WorkStats {
	return WorkStats{
		Published: c.published.Load(), Received: c.received.Load(), Sampled: c.sampled.Load(),
		Accepted: c.accepted.Load(), Rejected: c.rejected.Load(), Unchecked: c.unchecked.Load(), Dropped: c.dropped.Load(),
		Pending: c.pending.Load(), Late: c.late.Load(), PendingDropped: c.pendingDropped.Load(),
		Malformed: c.malformed.Load(), Oversize: c.oversize.Load(), WrongPool: c.wrongPool.Load(),
		Spoofed: c.spoofed.Load(), Duplicate: c.duplicate.Load(),
		LedgerErrors: c.ledgerErrors.Load(), Invalidated: c.invalidated.Load(),
	}
}
