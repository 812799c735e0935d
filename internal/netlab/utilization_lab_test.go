//go:build lab

package netlab

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestUtilizationDiLoCo measures DiLoCo's compute utilization in the lab:
// the time workers spend training over the total time, at H = 100 and
// H = 500 inner steps per outer step. Four real `openpool join --trainer
// toy` workers run with a configured per-step compute time
// (--toy-step-time, a sleep, as if an accelerator computed) and a model of
// realistic size (--toy-params, so each int8 all-reduce moves that many
// bytes) over transatlantic-like links: 20 ms per link (80 ms RTT between
// nodes) shaped by tbf. Run it with scripts/netlab-check.sh utilization;
// knobs (environment): NETLAB_UTIL_H (100,500), NETLAB_UTIL_STEP (20ms),
// NETLAB_UTIL_PARAMS (2000000), NETLAB_UTIL_MBIT (50), NETLAB_UTIL_OUTER (4).
//
// Utilization is taken in steady state, from the workers' own reports
// (join --json outer_step lines): the training time of outer steps 1..K-1
// over the wall time from the end of step 0 to the end of step K-1, so the
// start-up (joining, waiting for the group) is left out.
func TestUtilizationDiLoCo(t *testing.T) {
	hs := envInts(t, "NETLAB_UTIL_H", "100,500")
	step := envDuration(t, "NETLAB_UTIL_STEP", 20*time.Millisecond)
	params := envInts(t, "NETLAB_UTIL_PARAMS", "2000000")[0]
	mbit := envInts(t, "NETLAB_UTIL_MBIT", "50")[0]
	outer := envInts(t, "NETLAB_UTIL_OUTER", "4")[0]
	if outer < 2 {
		t.Fatalf("NETLAB_UTIL_OUTER %d: need at least 2 outer steps", outer)
	}
	bin := openpoolBinary(t)
	const workers = 4
	for _, h := range hs {
		t.Run(fmt.Sprintf("H=%d", h), func(t *testing.T) {
			l := ForTest(t, WithNodes(workers+1), WithLink(LinkConfig{Delay: 20 * time.Millisecond, Rate: int64(mbit) * 1e6}))
			flags := []string{"--json", "--trainer", "toy", "--inner-steps", fmt.Sprint(h),
				"--outer-steps", fmt.Sprint(outer), "--min-workers", fmt.Sprint(workers),
				"--toy-step-time", step.String(), "--toy-params", fmt.Sprint(params)}
			debug := os.Getenv("NETLAB_UTIL_DEBUG") != ""
			if debug {
				flags = append(flags, "--log-level", "debug")
			}
			procs := startSwarm(t, l, bin, flags...)
			perStep := time.Duration(h) * step
			limit := 3*time.Minute + time.Duration(outer)*(perStep+time.Minute)
			var utils []float64
			var rounds []float64
			for _, p := range procs {
				err := p.Wait(testCtx(t, limit))
				steps := outerSteps(p.Output())
				if err != nil || len(steps) != outer {
					t.Fatalf("worker on node %d: exit %v, %d of %d outer steps; output:\n%s", p.Node.Index, err, len(steps), outer, lastLines(p.Output(), 40))
				}
				if debug {
					t.Logf("worker on node %d:\n%s", p.Node.Index, p.Output())
				}
				var train, round float64
				for i, s := range steps {
					t.Logf("node %d: outer step %d at %s: train %.0f ms, round %.0f ms", p.Node.Index, s.Step, s.Time.Format("15:04:05.000"), s.TrainMS, s.RoundMS)
					if !s.Applied {
						t.Errorf("worker on node %d: outer step %d not applied", p.Node.Index, s.Step)
					}
					if s.TrainMS < float64(perStep.Milliseconds()) {
						t.Errorf("worker on node %d: outer step %d trained %.0f ms, less than %d steps of %v", p.Node.Index, s.Step, s.TrainMS, h, step)
					}
					if i > 0 {
						train += s.TrainMS
						round += s.RoundMS
					}
				}
				total := float64(steps[len(steps)-1].Time.Sub(steps[0].Time).Microseconds()) / 1000
				u := train / total
				if u <= 0 || u > 1.02 {
					t.Errorf("worker on node %d: utilization %.3f (train %.0f ms over %.0f ms) is not a fraction", p.Node.Index, u, train, total)
				}
				utils = append(utils, u)
				rounds = append(rounds, round/float64(len(steps)-1))
				fmt.Printf("SCENARIO %s: node %d: trained %.1f s of %.1f s (steps 1..%d): utilization %.3f, mean all-reduce round %.2f s\n",
					t.Name(), p.Node.Index, train/1000, total/1000, outer-1, u, round/float64(len(steps)-1)/1000)
			}
			mean := func(xs []float64) float64 {
				s := 0.0
				for _, x := range xs {
					s += x
				}
				return s / float64(len(xs))
			}
			fmt.Printf("BENCH issue=9 name=diloco_compute_utilization H=%d value=%.3f unit=ratio step=%v params=%d workers=%d rtt=80ms rate=%dMbit/s round_s=%.2f # time training / total time, steady state (outer steps 1..%d), mean of %d workers\n",
				h, mean(utils), step, params, workers, mbit, mean(rounds)/1000, outer-1, workers)
		})
	}
}

// stepReport is the part of an `openpool join --json` outer_step line the
// utilization test reads.
type stepReport struct {
	Time    time.Time `json:"time"`
	Event   string    `json:"event"`
	Step    uint64    `json:"step"`
	Applied bool      `json:"applied"`
	TrainMS float64   `json:"train_ms"`
	RoundMS float64   `json:"round_ms"`
}

// outerSteps returns the outer_step lines of a worker's output (stdout and
// stderr together: the JSON lines are those that parse).
func outerSteps(out []byte) []stepReport {
	var steps []stepReport
	for line := range bytes.SplitSeq(out, []byte("\n")) {
		if !bytes.HasPrefix(line, []byte("{")) {
			continue
		}
		var s stepReport
		if json.Unmarshal(line, &s) == nil && s.Event == "outer_step" {
			steps = append(steps, s)
		}
	}
	return steps
}

func envInts(t *testing.T, name, def string) []int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		s = def
	}
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want positive integers separated by commas", name, s)
		}
		out = append(out, n)
	}
	return out
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		t.Fatalf("%s=%q: want a duration such as 20ms", name, s)
	}
	return d
}
