#!/usr/bin/env bash
# bench-report.sh: runs the benchmarks one after the other and writes
# docs/BENCHMARKS.md: every figure with its value, target, met/missed and the
# exact command that measured it, under a header that describes the machine
# (CPU, cores, memory, load average before and after, kernel, Go, commit).
#
#   scripts/bench-report.sh                  # everything, full sizes (about 1-2 h)
#   scripts/bench-report.sh --quick          # smaller sizes (about 20-30 min)
#   scripts/bench-report.sh --only scale,utilization
#   scripts/bench-report.sh --skip soak,ledger
#   scripts/bench-report.sh --list           # the sections and their commands
#   scripts/bench-report.sh --from DIR       # rewrite the report from a kept run
#
# Options: --out FILE (default docs/BENCHMARKS.md), --run DIR (keep the logs
# there; default a new directory under $TMPDIR; a DIR of an earlier run keeps
# the sections not selected now, so a failed section can be run again and
# the report merged: each section says when it ran), --timeout MIN per
# section (default 20 quick, 60 full).
#
# Benchmarks print "BENCH issue=.. name=.. value=.. unit=.. [target=..]"
# lines (and a few older formats); internal/benchreport parses them. A
# section that needs root when not root, fails or times out is recorded as
# such, with the end of its output, and the report is still written (after
# every section, so an interrupted run leaves a report of what finished).
# Sections run one at a time: never start two heavy benchmarks together.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0 only="" skip="" out=docs/BENCHMARKS.md run="" from="" list=0 timeout_min=""
args=("$@")
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--only) only=$2; shift ;;
	--skip) skip=$2; shift ;;
	--out) out=$2; shift ;;
	--run) run=$2; shift ;;
	--from) from=$2; shift ;;
	--timeout) timeout_min=$2; shift ;;
	--list) list=1 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench-report: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
if [ -z "$timeout_min" ]; then
	timeout_min=$([ "$quick" = 1 ] && echo 20 || echo 60)
fi

# name|title|needs (root or -)|quick command|full command
sections=(
	"membership|Membership: failure detection, deathrattle, gossip bytes (issue 3)|-|OPENPOOL_BENCH_SIZES=10,20 scripts/bench-membership.sh|OPENPOOL_BENCH_SIZES_HEARTBEAT=10,50 scripts/bench-membership.sh"
	"diloco|DiLoCo: all-reduce bandwidth, int8 codec, wire bytes (issue 4)|-|DILOCO_BENCH_PEERS=4 DILOCO_BENCH_MIB=64 DILOCO_BENCH_REPEATS=1 scripts/bench-diloco.sh|scripts/bench-diloco.sh"
	"shardcast|Shardcast: shard transfer and lab broadcast (issue 5)|-|BENCHTIME=3x SHARDCAST_LAB_MIB=16 scripts/bench-shardcast.sh|scripts/bench-shardcast.sh"
	"toploc|TOPLOC: prove and verify throughput, proof size (issue 6)|-|BENCHTIME=3x scripts/bench-toploc.sh|scripts/bench-toploc.sh"
	"ledger|Ledger: gas per operation (issue 7)|-|go test -run '^\$' -bench BenchmarkLedgerGas -benchtime 1x ./ledger/|scripts/bench-ledger.sh"
	"netlab|Network lab: emulator against its configuration (issue 9)|root|scripts/netlab-check.sh validation|scripts/netlab-check.sh validation"
	"utilization|DiLoCo compute utilization in the network lab (issue 9)|root|NETLAB_UTIL_OUTER=3 scripts/netlab-check.sh utilization|NETLAB_UTIL_OUTER=5 scripts/netlab-check.sh utilization"
	"scale|In-process swarm scale (issue 9)|-|OPENPOOL_SCALE_SIZES=20,50 go test -tags lab -p 1 -count=1 -timeout 30m -run '^TestSwarmScale\$' -v ./node/|OPENPOOL_SCALE_MODE=swim OPENPOOL_SCALE_SIZES=50,100 OPENPOOL_SCALE_TIMEOUT=4m go test -tags lab -p 1 -count=1 -timeout 60m -run '^TestSwarmScale\$' -v ./node/"
	"soak|Bootstrap node soak: heap, goroutines, fds flat (issue 9)|-|OPENPOOL_SOAK_WARMUP=1m OPENPOOL_SOAK_SAMPLE=15s OPENPOOL_SOAK_LIFETIME=1m scripts/soak-bootstrap.sh 4m 100|scripts/soak-bootstrap.sh 10m 300"
)

selected() {
	local name=$1
	if [ -n "$only" ] && [[ ",$only," != *",$name,"* ]]; then return 1; fi
	if [ -n "$skip" ] && [[ ",$skip," == *",$name,"* ]]; then return 1; fi
	return 0
}

if [ "$list" = 1 ]; then
	for s in "${sections[@]}"; do
		IFS='|' read -r name title needs qcmd fcmd <<<"$s"
		printf '%-12s %s\n  quick: %s\n  full:  %s\n' "$name" "$title" "$qcmd" "$fcmd"
	done
	exit 0
fi

tool=$(mktemp -d)
trap 'rm -rf "$tool"' EXIT
go build -o "$tool/benchreport" ./internal/benchreport/cmd/benchreport

if [ -n "$from" ]; then
	"$tool/benchreport" -run "$from" -out "$out"
	exit
fi

run=${run:-$(mktemp -d "${TMPDIR:-/tmp}/bench-report.XXXXXX")}
mkdir -p "$run"
echo "bench-report: logs in $run"

machine() {
	local cpu mem commit dirty=""
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
	mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
	commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
		dirty=" (working tree has uncommitted changes)"
	fi
	{
		echo "command=scripts/bench-report.sh ${args[*]}"
		echo "mode=$([ "$quick" = 1 ] && echo "quick (smaller sizes)" || echo full)"
		echo "CPU=${cpu:-unknown}"
		echo "cores=$(nproc)"
		echo "memory=$mem"
		echo "load average before=$load_before"
		echo "load average after=${load_after:-(run not finished)}"
		echo "kernel=$(uname -sr)"
		echo "Go=$(go version | sed 's/^go version //')"
		echo "commit=$commit$dirty"
		echo "started=$started"
		[ -z "$resumed" ] || echo "resumed=$resumed (sections run again with --run; each says when it ran)"
		echo "finished=${finished:-(run not finished)}"
		echo "user=$([ "$(id -u)" = 0 ] && echo root || echo "not root (lab sections not run)")"
	} >"$run/machine"
}

report() {
	machine
	"$tool/benchreport" -run "$run" -out "$out" || echo "bench-report: could not write $out" >&2
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
load_after=""
started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
resumed=""
if [ -f "$run/machine" ] && first=$(sed -n 's/^started=//p' "$run/machine") && [ -n "$first" ]; then
	resumed=$started started=$first
fi
finished=""

# Every selected section starts as "not reached", so that a report written
# after an interruption says which ones never ran.
i=0
for s in "${sections[@]}"; do
	IFS='|' read -r name title needs qcmd fcmd <<<"$s"
	i=$((i + 1))
	selected "$name" || continue
	d=$(printf '%s/%02d-%s' "$run" "$i" "$name")
	mkdir -p "$d"
	echo "$title" >"$d/title"
	if [ "$quick" = 1 ]; then echo "$qcmd" >"$d/command"; else echo "$fcmd" >"$d/command"; fi
	echo "not run: not reached (the run stopped before it)" >"$d/status"
	rm -f "$d/log" "$d/seconds" "$d/ran"
done

for d in "$run"/[0-9][0-9]-*/; do
	d=${d%/}
	name=${d##*/[0-9][0-9]-}
	selected "$name" || continue # a section of an earlier run (--run) stays as it was
	needs=""
	for s in "${sections[@]}"; do
		IFS='|' read -r n _ nd _ _ <<<"$s"
		[ "$n" = "$name" ] && needs=$nd
	done
	cmd=$(cat "$d/command")
	if [ "$needs" = root ] && { [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! command -v tc >/dev/null; }; then
		echo "not run: needs root, ip and tc (network namespaces)" >"$d/status"
		report
		continue
	fi
	echo "== $name: $cmd"
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg) before" >"$d/ran"
	t0=$(date +%s)
	rc=0
	timeout --kill-after=60s "$((timeout_min * 60))s" bash -c "$cmd" >"$d/log" 2>&1 || rc=$?
	echo "$(($(date +%s) - t0))" >"$d/seconds"
	case $rc in
	0) echo ok >"$d/status" ;;
	124 | 137) echo "timed out after $timeout_min min (--timeout)" >"$d/status" ;;
	*) echo "exit $rc" >"$d/status" ;;
	esac
	echo "   $(cat "$d/status") after $(cat "$d/seconds") s; $(grep -c '^ *BENCH \|^RATIO \|^LAB \|^Benchmark' "$d/log" || true) figure lines"
	report
done

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
finished=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
report
