package benchreport

import (
	"math"
	"strings"
	"testing"
)

// sampleLog holds one line of every kind the benchmarks print, copied from
// their output, with noise around them.
const sampleLog = `=== RUN   TestLabBusBandwidth
RATIO busbw/rawtcp peers=4 size=256MiB lanes=2: min 0.712 median 0.803 max 0.851 (target >= 0.8)
RATIO busbw/libp2p-stream peers=4 size=256MiB lanes=2: min 0.9 median 0.95 max 1.01
RATIO int8-quant+dequant/memcpy: min 0.41 median 0.45 max 0.47 (target >= 0.5)
RATIO data-parallel-bytes/diloco-bytes at H=500: 1990.2 (target >= 2000; the exact 4x-per-value bound is 2000)
RATIO busbw/rawtcp peers=4 size=256MiB lanes=2: min 0.712 median 0.810 max 0.851 (target >= 0.8)
LAB broadcast N=8 S=64MiB B=100Mbit/s shard=1024KiB: all done in 6.10s, S/B=5.37s, ratio=1.14 (target <= 1.5); publisher uploaded 1.30 copies
LAB shard transfer over 100Mbit/s link: shard 11.2 MB/s, raw TCP 11.9 MB/s, ratio=0.94 (target >= 0.8)
LAB raw TCP at 100 Mbit/s, both directions=true: 0.95 of the link rate
BenchmarkShardTransferVsTCP-2: shard 900.5 MB/s, raw TCP 1000 MB/s, ratio 0.9005 (target >= 0.8); plain libp2p stream 950 MB/s: stream/tcp 0.95, shard/stream 0.948
BenchmarkShardTransferVsTCP-2   	      10	 123456 ns/op	        11.20 shard-MB/s	        12.00 tcp-MB/s	         0.9333 ratio
BenchmarkProve-2                	      10	 98765432 ns/op	 679.4 MB/s	         0.2100 cpu_ratio_to_membw	         4.100 membw_GB/s	         0.1650 ratio_to_membw
BenchmarkProofSize-2   1   10 ns/op   258.0 proof_bytes/chunk
BenchmarkLedgerGas-2   1   5 ns/op   51234 gas/join   62000 gas/node/outer_step
    scale_lab_test.go:72: N=20: started in 167ms
BENCH issue=9 name=swarm_rss_per_node N=20 cores=2 value=2.40 unit=MiB # resident memory growth / 21 nodes
    BENCH issue=3 name=detect_over_interval N=10 value=2.1 unit=x target=<=3.5
BENCH issue=9 name=rtt_measured_over_configured link=0-1 value=1.04 unit=ratio target=0.9..1.1
BENCH issue=9 name=broken value=x unit=s
BENCH issue=9 name=unfinished value=NaN unit=s target=<=10
--- PASS: TestX (1.00s)
ok  	github.com/openpool/openpool/x	1.2s
`

func TestParseSample(t *testing.T) {
	figs, problems, err := Parse(strings.NewReader(sampleLog))
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		name, conds string
		value       float64
		target      string
		verdict     Verdict
	}
	wants := []want{
		{"busbw/rawtcp", "peers=4 size=256MiB lanes=2", 0.810, ">= 0.8", Met}, // the repeat's value, at the first position
		{"busbw/libp2p-stream", "peers=4 size=256MiB lanes=2", 0.95, "—", NoTarget},
		{"int8-quant+dequant/memcpy", "", 0.45, ">= 0.5", Missed},
		{"data-parallel-bytes/diloco-bytes", "H=500", 1990.2, ">= 2000", Missed},
		{"lab broadcast", "N=8 S=64MiB B=100Mbit/s shard=1024KiB", 1.14, "<= 1.5", Met},
		{"lab shard transfer over 100Mbit/s link", "", 0.94, ">= 0.8", Met},
		{"shard_transfer/raw_tcp", "", 0.9005, ">= 0.8", Met},
		{"BenchmarkShardTransferVsTCP", "", 11.2, "—", NoTarget},
		{"BenchmarkShardTransferVsTCP", "", 12, "—", NoTarget},
		{"BenchmarkShardTransferVsTCP", "", 0.9333, ">= 0.8", Met},
		{"BenchmarkProve", "", 679.4, "—", NoTarget},
		{"BenchmarkProve", "", 0.21, ">= 0.25", Missed},
		{"BenchmarkProve", "", 4.1, "—", NoTarget},
		{"BenchmarkProve", "", 0.165, ">= 0.25", Missed},
		{"BenchmarkProofSize", "", 258, "≈ 258 (reference)", NoTarget},
		{"BenchmarkLedgerGas join", "", 51234, "—", NoTarget},
		{"BenchmarkLedgerGas node/outer step", "", 62000, "—", NoTarget},
		{"swarm_rss_per_node", "N=20 cores=2", 2.4, "—", NoTarget},
		{"detect_over_interval", "N=10", 2.1, "<= 3.5", Met},
		{"rtt_measured_over_configured", "link=0-1", 1.04, "0.9 to 1.1", Met},
		{"unfinished", "", math.NaN(), "<= 10", Missed},
	}
	if len(figs) != len(wants) {
		for _, f := range figs {
			t.Logf("%+v", f)
		}
		t.Fatalf("%d figures, want %d", len(figs), len(wants))
	}
	for i, w := range wants {
		f := figs[i]
		sameValue := f.Value == w.value || math.Abs(f.Value-w.value) < 1e-9 || (math.IsNaN(f.Value) && math.IsNaN(w.value))
		if f.Name != w.name || f.Conditions != w.conds || !sameValue || f.Target.String() != w.target || f.Target.Judge(f.Value) != w.verdict {
			t.Errorf("figure %d: got %q %q %v target %q %v; want %q %q %v target %q %v", i,
				f.Name, f.Conditions, f.Value, f.Target, f.Target.Judge(f.Value), w.name, w.conds, w.value, w.target, w.verdict)
		}
	}
	for i, unit := range map[int]string{9: "ratio", 13: "ratio_to_membw", 15: "gas", 16: "gas", 14: "proof_bytes/chunk"} {
		if figs[i].Unit != unit {
			t.Errorf("figure %d (%s): unit %q, want %q", i, figs[i].Name, figs[i].Unit, unit)
		}
	}
	if got := figs[6].Note; !strings.Contains(got, "shard 900.5 MB/s, raw TCP 1000 MB/s; plain libp2p stream 950") {
		t.Errorf("shard summary note %q", got)
	}
	if got := figs[17].Note; got != "resident memory growth / 21 nodes" {
		t.Errorf("BENCH note %q", got)
	}
	if got := figs[0].Note; !strings.Contains(got, "min 0.712") {
		t.Errorf("RATIO note %q, want the spread", got)
	}
	if figs[0].Issue != "4" || figs[4].Issue != "5" || figs[8].Issue != "5" || figs[13].Issue != "6" || figs[17].Issue != "9" {
		t.Errorf("issues: %q %q %q %q %q", figs[0].Issue, figs[4].Issue, figs[8].Issue, figs[13].Issue, figs[17].Issue)
	}
	if len(problems) != 1 || !strings.Contains(problems[0], "line 19") {
		t.Errorf("problems %q, want one about line 19 (value=x)", problems)
	}
}

func TestParseBenchRejects(t *testing.T) {
	for _, line := range []string{
		"BENCH name=x value=1 unit=s",                   // no issue
		"BENCH issue=1 value=1 unit=s",                  // no name
		"BENCH issue=1 name=x unit=s",                   // no value
		"BENCH issue=1 name=x value=1",                  // no unit
		"BENCH issue=1 name=x value=1 unit=s target=!3", // bad target
		"BENCH issue=1 name=x value=1 unit=s value=2",   // twice
		"BENCH issue=1 name=x value=1 unit=s bare",      // not key=value
		"BENCH issue=1 name=x value=Inf unit=s",         // infinite
	} {
		if f, err := ParseBench(line); err == nil {
			t.Errorf("%q: accepted as %+v", line, f)
		}
	}
}

func TestTargets(t *testing.T) {
	for _, tc := range []struct {
		target string
		value  float64
		want   Verdict
	}{
		{">=0.8", 0.8, Met}, {">=0.8", 0.79, Missed},
		{"<=3.5", 3.5, Met}, {"<=3.5", 3.6, Missed},
		{"<0.5", 0.5, Missed}, {"<0.5", 0.49, Met},
		{">2000", 2000, Missed}, {">2000", 2001, Met},
		{"0.9..1.1", 0.9, Met}, {"0.9..1.1", 1.11, Missed}, {"0.9..1.1", 0.89, Missed},
		{"~258", 300, NoTarget}, {"", 1, NoTarget},
		{">=1", math.NaN(), Missed}, {"", math.NaN(), NoTarget},
	} {
		tg, err := ParseTarget(tc.target)
		if err != nil {
			t.Fatalf("%q: %v", tc.target, err)
		}
		if got := tg.Judge(tc.value); got != tc.want {
			t.Errorf("%q judging %v: %v, want %v", tc.target, tc.value, got, tc.want)
		}
	}
	for _, bad := range []string{"=1", "1..0", ">=x", "..1", "1"} {
		if _, err := ParseTarget(bad); err == nil {
			t.Errorf("ParseTarget(%q) accepted", bad)
		}
	}
}

func TestFormatValue(t *testing.T) {
	for v, want := range map[float64]string{
		1999.8: "1999.8", 2000: "2000", 51234: "51234", 0.8333: "0.833", 2.4: "2.4", 12.345: "12.3", math.NaN(): "n/a",
	} {
		if got := FormatValue(v); got != want {
			t.Errorf("FormatValue(%v) = %q, want %q", v, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for line := range strings.SplitSeq(sampleLog, "\n") {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, s string) {
		figs, _, err := Parse(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, fig := range figs {
			_ = fig.Target.Judge(fig.Value)
			_ = FormatValue(fig.Value)
			if fig.Name == "" {
				t.Fatalf("figure without a name from %q", s)
			}
		}
	})
}
