// Package benchreport collects the figures that the benchmark scripts print
// and writes docs/BENCHMARKS.md (scripts/bench-report.sh drives it).
//
// Benchmarks print one machine-readable line per figure:
//
//	BENCH issue=9 name=swarm_rss_per_node N=100 value=2.4 unit=MiB target=<=8 # free text
//
// issue, name, value and unit are required; target is optional (>=x, <=x,
// >x, <x, a..b for a range, ~x for a reference value that is not judged);
// any other key=value is a condition of the measurement; text after " # "
// is a note. Parse also reads the lines that benchmarks printed before BENCH
// lines existed: "RATIO ..." (diloco), "LAB ... ratio=x (target <= y)"
// (shardcast lab) and Go benchmark result lines with custom metrics.
package benchreport

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Figure is one measured value.
type Figure struct {
	Issue      string
	Name       string
	Conditions string // "N=100 step=20ms", in the order printed
	Value      float64
	Unit       string
	Target     Target
	Note       string
}

// Key identifies a figure within a section: the same name, conditions and
// unit printed twice (a script's live output and its summary) is one figure.
func (f Figure) Key() string { return f.Name + "\x00" + f.Conditions + "\x00" + f.Unit }

// Verdict says whether a figure met its target.
type Verdict int

// Verdicts.
const (
	NoTarget Verdict = iota // no target, or a reference value
	Met
	Missed
)

func (v Verdict) String() string {
	switch v {
	case Met:
		return "met"
	case Missed:
		return "MISSED"
	}
	return "—"
}

// Target is the bound a figure is judged against.
type Target struct {
	Op   string // "", ">=", "<=", ">", "<", "..", "~"
	A, B float64
}

// ParseTarget reads ">=0.8", "<= 3.5", "0.9..1.1", "~258" or "".
func ParseTarget(s string) (Target, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Target{}, nil
	}
	if a, b, ok := strings.Cut(s, ".."); ok {
		x, err1 := parseNumber(a)
		y, err2 := parseNumber(b)
		if err1 != nil || err2 != nil || x > y {
			return Target{}, fmt.Errorf("benchreport: target %q: want a..b with a <= b", s)
		}
		return Target{Op: "..", A: x, B: y}, nil
	}
	for _, op := range []string{">=", "<=", ">", "<", "~"} {
		if rest, ok := strings.CutPrefix(s, op); ok {
			x, err := parseNumber(rest)
			if err != nil {
				return Target{}, fmt.Errorf("benchreport: target %q: %w", s, err)
			}
			return Target{Op: op, A: x}, nil
		}
	}
	return Target{}, fmt.Errorf("benchreport: target %q: want >=x, <=x, >x, <x, a..b or ~x", s)
}

func parseNumber(s string) (float64, error) {
	x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsInf(x, 0) {
		return 0, fmt.Errorf("not a number: %q", s)
	}
	return x, nil
}

// Judge compares v with the target.
func (t Target) Judge(v float64) Verdict {
	if math.IsNaN(v) {
		if t.Op == "" || t.Op == "~" {
			return NoTarget
		}
		return Missed
	}
	var ok bool
	switch t.Op {
	case ">=":
		ok = v >= t.A
	case "<=":
		ok = v <= t.A
	case ">":
		ok = v > t.A
	case "<":
		ok = v < t.A
	case "..":
		ok = v >= t.A && v <= t.B
	default:
		return NoTarget
	}
	if ok {
		return Met
	}
	return Missed
}

func (t Target) String() string {
	switch t.Op {
	case "":
		return "—"
	case "..":
		return FormatValue(t.A) + " to " + FormatValue(t.B)
	case "~":
		return "≈ " + FormatValue(t.A) + " (reference)"
	}
	return t.Op + " " + FormatValue(t.A)
}

// FormatValue prints a figure with three significant digits, or from 100 up
// with one decimal (none for a whole number), so that 1999.8 is not shown as
// 2000 next to a target of >= 2000.
func FormatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

var (
	// RATIO busbw/rawtcp peers=4 size=256MiB lanes=2: min 0.7 median 0.8 max 0.9 (target >= 0.8)
	// RATIO data-parallel-bytes/diloco-bytes at H=500: 2000.0 (target >= 2000; the exact ...)
	ratioLine = regexp.MustCompile(`^RATIO (.+?): (?:min (\S+) median (\S+) max (\S+)|(\S+))(?: \(target ([<>=]+) ?([-+0-9.eE]+)[;)])?`)
	// LAB broadcast N=8 S=64MiB ...: ... ratio=1.21 (target <= 1.5); ...
	labLine = regexp.MustCompile(`^LAB (.+?): .*\bratio=(\S+?),? \(target ([<>=]+) ?([-+0-9.eE]+)\)`)
	// bench-shardcast.sh's summary of BenchmarkShardTransferVsTCP:
	// BenchmarkShardTransferVsTCP-2: shard 900 MB/s, raw TCP 1000 MB/s, ratio 0.9 (target >= 0.8); plain ...
	shardLine = regexp.MustCompile(`^(Benchmark[^\s:]+?)(?:-\d+)?: shard (\S+) MB/s, raw TCP (\S+) MB/s, ratio (\S+) \(target ([<>=]+) ?([-+0-9.eE]+)\)(?:; (.*))?$`)
	// BenchmarkX/sub-2   10   123 ns/op   0.85 ratio ...
	goBenchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)
)

// goBenchIssues and goBenchTargets say which issue a Go benchmark's metrics
// belong to and what they must reach, by benchmark name (a substring) and
// metric unit ("" for any), from the issues.
var goBenchIssues = []struct{ bench, issue string }{
	{"ShardTransfer", "5"}, {"Prove", "6"}, {"Verify", "6"}, {"Proof", "6"}, {"Ledger", "7"},
}

var goBenchTargets = []struct{ bench, unit, target string }{
	{"ShardTransferVsTCP", "ratio", ">=0.8"},
	{"Prove", "ratio_to_membw", ">=0.25"},
	{"Prove", "cpu_ratio_to_membw", ">=0.25"},
	{"", "proof_bytes/chunk", "~258"},
}

// goBenchSkip are the standard units that say nothing about a target.
var goBenchSkip = map[string]bool{"ns/op": true, "B/op": true, "allocs/op": true}

// Parse reads a benchmark log and returns its figures in order (a repeated
// figure keeps its last value, at its first position) and one problem per
// malformed BENCH line.
func Parse(r io.Reader) ([]Figure, []string, error) {
	var figs []Figure
	var problems []string
	index := map[string]int{}
	add := func(f Figure) {
		if i, ok := index[f.Key()]; ok {
			figs[i] = f
			return
		}
		index[f.Key()] = len(figs)
		figs = append(figs, f)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		// go test -v indents t.Log output; a BENCH line may come through it.
		trimmed := strings.TrimLeft(line, " \t")
		switch {
		case strings.HasPrefix(trimmed, "BENCH "):
			f, err := ParseBench(trimmed)
			if err != nil {
				problems = append(problems, fmt.Sprintf("line %d: %v", n, err))
				continue
			}
			add(f)
		case strings.HasPrefix(line, "RATIO "):
			if f, ok := parseRatio(line); ok {
				add(f)
			}
		case strings.HasPrefix(line, "LAB "):
			if f, ok := parseLab(line); ok {
				add(f)
			}
		case shardLine.MatchString(line):
			add(parseShard(line))
		case strings.HasPrefix(line, "Benchmark"):
			for _, f := range parseGoBench(line) {
				add(f)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return figs, problems, fmt.Errorf("benchreport: read log: %w", err)
	}
	return figs, problems, nil
}

// ParseBench reads one BENCH line.
func ParseBench(line string) (Figure, error) {
	body, note, _ := strings.Cut(strings.TrimPrefix(line, "BENCH "), " # ")
	var f Figure
	var conds []string
	seen := map[string]bool{}
	value := ""
	for _, tok := range strings.Fields(body) {
		k, v, ok := strings.Cut(tok, "=")
		if !ok || k == "" {
			return Figure{}, fmt.Errorf("benchreport: BENCH field %q: want key=value", tok)
		}
		if seen[k] {
			return Figure{}, fmt.Errorf("benchreport: BENCH field %q twice", k)
		}
		seen[k] = true
		switch k {
		case "issue":
			f.Issue = v
		case "name":
			f.Name = v
		case "unit":
			f.Unit = v
		case "value":
			value = v
		case "target":
			t, err := ParseTarget(v)
			if err != nil {
				return Figure{}, err
			}
			f.Target = t
		default:
			conds = append(conds, tok)
		}
	}
	if f.Name == "" || value == "" || f.Unit == "" || f.Issue == "" {
		return Figure{}, fmt.Errorf("benchreport: BENCH line %q: needs issue, name, value and unit", line)
	}
	if strings.EqualFold(value, "nan") {
		f.Value = math.NaN()
	} else {
		x, err := parseNumber(value)
		if err != nil {
			return Figure{}, fmt.Errorf("benchreport: BENCH value: %w", err)
		}
		f.Value = x
	}
	f.Conditions = strings.Join(conds, " ")
	f.Note = strings.TrimSpace(note)
	return f, nil
}

// nameAndConditions splits "busbw/rawtcp peers=4 size=256MiB" into the
// words before the first key=value and the rest.
func nameAndConditions(s string) (string, string) {
	words := strings.Fields(s)
	i := slices.IndexFunc(words, func(w string) bool { return strings.Contains(w, "=") })
	if i < 0 {
		return strings.Join(words, " "), ""
	}
	if i > 1 && words[i-1] == "at" { // "... at H=500"
		return strings.Join(words[:i-1], " "), strings.Join(words[i:], " ")
	}
	return strings.Join(words[:i], " "), strings.Join(words[i:], " ")
}

func parseRatio(line string) (Figure, bool) {
	m := ratioLine.FindStringSubmatch(line)
	if m == nil {
		return Figure{}, false
	}
	f := Figure{Issue: "4", Unit: "ratio"}
	f.Name, f.Conditions = nameAndConditions(m[1])
	if f.Name == "" {
		return Figure{}, false
	}
	v := m[3]
	if v == "" {
		v = m[5]
	} else {
		f.Note = fmt.Sprintf("median of the runs; min %s, max %s", m[2], m[4])
	}
	x, err := parseNumber(v)
	if err != nil {
		return Figure{}, false
	}
	f.Value = x
	if m[6] != "" {
		t, err := ParseTarget(m[6] + m[7])
		if err == nil {
			f.Target = t
		}
	}
	if _, rest, ok := strings.Cut(line, "; "); ok && m[6] != "" {
		f.Note = strings.TrimSuffix(rest, ")")
	}
	return f, true
}

func parseLab(line string) (Figure, bool) {
	m := labLine.FindStringSubmatch(line)
	if m == nil {
		return Figure{}, false
	}
	x, err := parseNumber(m[2])
	if err != nil {
		return Figure{}, false
	}
	t, err := ParseTarget(m[3] + m[4])
	if err != nil {
		return Figure{}, false
	}
	f := Figure{Issue: "5", Unit: "ratio", Value: x, Target: t}
	f.Name, f.Conditions = nameAndConditions(m[1])
	if f.Name == "" {
		return Figure{}, false
	}
	f.Name = "lab " + f.Name
	if i := strings.Index(line, ": "); i >= 0 {
		f.Note = strings.TrimSpace(line[i+2:])
	}
	return f, true
}

func parseGoBench(line string) []Figure {
	m := goBenchLine.FindStringSubmatch(line)
	if m == nil {
		return nil
	}
	fields := strings.Fields(m[2])
	var out []Figure
	for i := 0; i+1 < len(fields); i += 2 {
		unit := fields[i+1]
		if goBenchSkip[unit] {
			continue
		}
		x, err := parseNumber(fields[i])
		if err != nil {
			return out
		}
		f := Figure{Name: m[1], Value: x, Unit: unit}
		if op, ok := strings.CutPrefix(unit, "gas/"); ok { // ledger: one metric per operation
			f.Name += " " + strings.ReplaceAll(op, "_", " ")
			f.Unit = "gas"
		}
		for _, gi := range goBenchIssues {
			if strings.Contains(m[1], gi.bench) {
				f.Issue = gi.issue
				break
			}
		}
		for _, gt := range goBenchTargets {
			if strings.Contains(m[1], gt.bench) && gt.unit == unit {
				f.Target, _ = ParseTarget(gt.target)
				break
			}
		}
		out = append(out, f)
	}
	return out
}

func parseShard(line string) Figure {
	m := shardLine.FindStringSubmatch(line)
	f := Figure{Issue: "5", Name: "shard_transfer/raw_tcp", Unit: "ratio", Value: math.NaN()}
	if x, err := parseNumber(m[4]); err == nil {
		f.Value = x
	}
	f.Target, _ = ParseTarget(m[5] + m[6])
	f.Note = fmt.Sprintf("%s on loopback: shard %s MB/s, raw TCP %s MB/s", m[1], m[2], m[3])
	if m[7] != "" {
		f.Note += "; " + m[7]
	}
	return f
}
