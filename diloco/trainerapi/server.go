// Package trainerapi is the local API through which an external trainer
// process (normally PyTorch; examples/python has a numpy-only client) takes
// part in DiLoCo. The node runs the outer loop (diloco.Worker) with a Server
// as its diloco.Trainer; the trainer process runs the inner steps.
//
// Transport: HTTP/1.1 on a unix socket ("unix:/path/to/sock") or on a
// loopback TCP address ("127.0.0.1:7000"); other addresses are refused, the
// API has no authentication and must not leave the machine. Tensors travel
// as safetensors (F32 written; F32, F16 and BF16 accepted), names and shapes
// as the trainer's state_dict. Errors are JSON {"error": "..."} with status
// 400 (malformed body), 404, 409 (wrong step or layout), 413 (too large) or
// 503 (timed out waiting).
//
//	GET  /v1/status                 -> {"step", "state", "inner_steps", "elems"}
//	PUT  /v1/init                   body: initial weights (first call fixes the layout)
//	GET  /v1/start?wait=SECONDS     -> weights to start outer step k from; the step is in
//	                                   header Openpool-Step and metadata "step", H in
//	                                   metadata "inner_steps". Blocks until ready.
//	PUT  /v1/outer/{k}/weights      body: weights after H inner steps (metadata "loss" optional)
//	PUT  /v1/outer/{k}/pseudograd   body: start - end, if the trainer computes it
//	GET  /v1/outer/{k}/update?wait=SECONDS
//	                                -> averaged pseudo-gradient of step k (409 if the
//	                                   step's round failed and nothing was applied)
//
// A trainer loops: GET /v1/start, load the weights, train H steps, PUT
// weights (or pseudograd) for that step, and optionally GET the update.
package trainerapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openpool/openpool/diloco"
	"github.com/openpool/openpool/diloco/tensor"
)

// Server serves the API and implements diloco.Trainer and diloco.UpdateSink.
type Server struct {
	h        int
	maxBytes int64
	log      *slog.Logger

	mu      sync.Mutex
	changed chan struct{}
	init    *tensor.Set
	state   string
	step    uint64
	start   *tensor.Set // start weights for step, nil while none is being trained
	result  map[uint64]diloco.TrainResult
	updates map[uint64]*tensor.Set // averaged pseudo-gradient per step (nil: failed)
}

// Option configures a Server.
type Option func(*Server) error

// WithMaxBytes limits a request body (default 16 GiB).
func WithMaxBytes(n int64) Option {
	return func(s *Server) error { s.maxBytes = n; return nil }
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Server) error { s.log = l; return nil } }

// NewServer returns a server that asks the trainer for h inner steps.
func NewServer(h int, opts ...Option) (*Server, error) {
	s := &Server{h: h, maxBytes: 16 << 30, log: slog.Default(), changed: make(chan struct{}),
		state: "waiting_for_init", result: map[uint64]diloco.TrainResult{}, updates: map[uint64]*tensor.Set{}}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	if h < 1 {
		return nil, fmt.Errorf("trainerapi: inner steps %d < 1", h)
	}
	return s, nil
}

// Listen opens addr: "unix:/path" or a loopback "host:port".
func Listen(addr string) (net.Listener, error) {
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		_ = os.Remove(p) // a stale socket from a previous run
		ln, err := net.Listen("unix", p)
		if err != nil {
			return nil, fmt.Errorf("trainerapi: listen %s: %w", addr, err)
		}
		return ln, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("trainerapi: address %q: want unix:/path or 127.0.0.1:port: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("trainerapi: address %q is not loopback; the trainer API has no authentication", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("trainerapi: listen %s: %w", addr, err)
	}
	return ln, nil
}

// Serve serves on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	})
	defer stop()
	err := hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", s.status)
	mux.HandleFunc("PUT /v1/init", s.putInit)
	mux.HandleFunc("GET /v1/start", s.getStart)
	mux.HandleFunc("PUT /v1/outer/{step}/{kind}", s.putResult)
	mux.HandleFunc("GET /v1/outer/{step}/update", s.getUpdate)
	return mux
}

func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// wait calls cond under the lock until true, ctx ends or the timeout.
func (s *Server) wait(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	var tc <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		tc = t.C
	}
	for {
		s.mu.Lock()
		ok, ch := cond(), s.changed
		s.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-tc:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// InitialWeights implements diloco.Trainer: it waits for PUT /v1/init.
func (s *Server) InitialWeights(ctx context.Context) (*tensor.Set, error) {
	var init *tensor.Set
	if !s.wait(ctx, 0, func() bool { init = s.init; return init != nil }) {
		return nil, fmt.Errorf("trainerapi: waiting for the trainer's initial weights: %w", ctx.Err())
	}
	return init.Clone(), nil
}

// Train implements diloco.Trainer: it offers start at GET /v1/start and
// waits for the trainer's PUT for this step.
func (s *Server) Train(ctx context.Context, step uint64, start *tensor.Set, h int) (diloco.TrainResult, error) {
	s.mu.Lock()
	s.step, s.start, s.state = step, start, "training"
	s.notify()
	s.mu.Unlock()
	var res diloco.TrainResult
	ok := s.wait(ctx, 0, func() bool {
		r, ok := s.result[step]
		res = r
		return ok
	})
	s.mu.Lock()
	delete(s.result, step)
	s.start, s.state = nil, "averaging"
	s.notify()
	s.mu.Unlock()
	if !ok {
		return res, fmt.Errorf("trainerapi: waiting for the trainer's step %d: %w", step, ctx.Err())
	}
	return res, nil
}

// Averaged implements diloco.UpdateSink.
func (s *Server) Averaged(step uint64, avg, _ *tensor.Set) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updates[step] = avg
	for k := range s.updates {
		if k+4 < step { // keep a few recent steps
			delete(s.updates, k)
		}
	}
	s.notify()
}

type apiError struct {
	Error string `json:"error"`
}

func fail(w http.ResponseWriter, code int, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(apiError{fmt.Sprintf(format, args...)})
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	st := map[string]any{"step": s.step, "state": s.state, "inner_steps": s.h}
	if s.init != nil {
		st["elems"] = s.init.NumElems()
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(st)
}

func (s *Server) readBody(w http.ResponseWriter, r *http.Request) (*tensor.Set, map[string]string, bool) {
	s.mu.Lock()
	lim := tensor.Limits{MaxData: s.maxBytes}
	if s.init != nil {
		lim.MaxData = int64(s.init.NumElems()) * 4
	}
	s.mu.Unlock()
	body := http.MaxBytesReader(w, r.Body, s.maxBytes)
	set, meta, err := tensor.Read(body, lim)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			fail(w, http.StatusRequestEntityTooLarge, "body over %d bytes", s.maxBytes)
		} else {
			fail(w, http.StatusBadRequest, "%v", err)
		}
		return nil, nil, false
	}
	for _, t := range set.Tensors() {
		for i, x := range t.Data {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				fail(w, http.StatusBadRequest, "tensor %q value %d is not finite", t.Name, i)
				return nil, nil, false
			}
		}
	}
	return set, meta, true
}

func (s *Server) putInit(w http.ResponseWriter, r *http.Request) {
	set, _, ok := s.readBody(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.init != nil {
		if !s.init.SameLayout(set) {
			fail(w, http.StatusConflict, "initial weights already set with another layout")
			return
		}
		w.WriteHeader(http.StatusNoContent) // a restarted trainer re-sends them: fine
		return
	}
	s.init = set
	s.state = "waiting_for_node"
	s.notify()
	s.log.Info("trainerapi: initial weights received", "tensors", set.Len(), "elems", set.NumElems())
	w.WriteHeader(http.StatusNoContent)
}

func waitParam(r *http.Request) time.Duration {
	if v, err := strconv.ParseFloat(r.URL.Query().Get("wait"), 64); err == nil && v > 0 {
		return time.Duration(min(v, 86400) * float64(time.Second))
	}
	return 300 * time.Second
}

func (s *Server) getStart(w http.ResponseWriter, r *http.Request) {
	var start *tensor.Set
	var step uint64
	if !s.wait(r.Context(), waitParam(r), func() bool {
		start, step = s.start, s.step
		_, done := s.result[step]
		return start != nil && !done
	}) {
		fail(w, http.StatusServiceUnavailable, "no outer step to train yet (state %s); retry", s.currentState())
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Openpool-Step", strconv.FormatUint(step, 10))
	_ = tensor.Write(w, start, map[string]string{"step": strconv.FormatUint(step, 10), "inner_steps": strconv.Itoa(s.h)})
}

func (s *Server) currentState() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

func (s *Server) putResult(w http.ResponseWriter, r *http.Request) {
	step, err := strconv.ParseUint(r.PathValue("step"), 10, 64)
	kind := r.PathValue("kind")
	if err != nil || (kind != "weights" && kind != "pseudograd") {
		fail(w, http.StatusNotFound, "want PUT /v1/outer/{step}/weights or /pseudograd")
		return
	}
	set, meta, ok := s.readBody(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.start == nil || step != s.step {
		fail(w, http.StatusConflict, "step %d is not being trained (current step %d, state %s)", step, s.step, s.state)
		return
	}
	if !set.SameLayout(s.start) {
		fail(w, http.StatusConflict, "tensors do not match the model's names and shapes")
		return
	}
	if _, dup := s.result[step]; dup {
		fail(w, http.StatusConflict, "step %d already submitted", step)
		return
	}
	res := diloco.TrainResult{Loss: math.NaN()}
	if l, err := strconv.ParseFloat(meta["loss"], 64); err == nil {
		res.Loss = l
	}
	if kind == "weights" {
		res.Weights = set
	} else {
		res.PseudoGradient = set
	}
	s.result[step] = res
	s.notify()
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) getUpdate(w http.ResponseWriter, r *http.Request) {
	step, err := strconv.ParseUint(r.PathValue("step"), 10, 64)
	if err != nil {
		fail(w, http.StatusNotFound, "bad step")
		return
	}
	var upd *tensor.Set
	var failed bool
	if !s.wait(r.Context(), waitParam(r), func() bool {
		u, ok := s.updates[step]
		upd = u
		// the node moved past the step without an update: its round failed
		failed = !ok && s.step > step
		return ok || failed
	}) {
		fail(w, http.StatusServiceUnavailable, "step %d has no update yet; retry", step)
		return
	}
	if failed || upd == nil {
		fail(w, http.StatusConflict, "step %d has no update (its round failed, or it is too old)", step)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_ = tensor.Write(w, upd, map[string]string{"step": strconv.FormatUint(step, 10)})
}
