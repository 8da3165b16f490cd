#!/usr/bin/env bash
# make bench-profile: where the CPU time of system A (or E) goes, function
# by function, under each workload of make bench (issue 3 asks which profile
# shows why a target is missed).
#
# For each workload: starts A (PROFILE_SYSTEM=E: E, every shard with
# --sync) as make bench does (3 shard processes and a coordinator,
# GOMAXPROCS=$BENCH_GOMAXPROCS, default 1), runs redis-benchmark
# with 50 clients, and records perf (call graphs, 999 Hz) of the coordinator
# and the shards for PROFILE_SECS seconds in the middle of the run. Writes
# bench/profiles/<workload>.md (E: E-<workload>.md): the CPU time per
# request of each process,
# and for the coordinator and the busiest shard the functions that took the
# most of it, inclusive (with what they call) and by themselves.
#
#   bench/profile.sh [WORKLOAD...]   incr1 incr1_p16 incrR_p16 get (default: all)
#
# Environment: PROFILE_SYSTEM (A or E), PROFILE_SECS (10), PROFILE_TOP (45
# lines each), BENCH_KEEP=1
# (keep perf.data and the logs), BENCH_NO_BUILD=1 with BIN=path.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

SYSTEM=${PROFILE_SYSTEM:-A}
case $SYSTEM in
A) sync=0 prefix='' what='A is' ;;
E) sync=1 prefix='E-' what='E is A with --sync on every shard:' ;;
*) die "PROFILE_SYSTEM must be A or E, not $SYSTEM" ;;
esac
SECS=${PROFILE_SECS:-10}
TOP=${PROFILE_TOP:-45}
OUTDIR=bench/profiles
CLIENTS=50
WORKLOADS=("$@")
((${#WORKLOADS[@]} > 0)) || WORKLOADS=(incr1 incr1_p16 incrR_p16 get)
for wl in "${WORKLOADS[@]}"; do
	[[ -n $(bench_args "$wl") ]] || die "unknown workload $wl (incr1 incr1_p16 incrR_p16 get)"
done

need_packages redis-server:redis-server redis-benchmark:redis-tools redis-cli:redis-tools perf:linux-perf
if [[ ${BENCH_NO_BUILD:-0} != 1 ]]; then
	make --no-print-directory deps build >&2
fi
[[ -x $BIN ]] || die "$BIN not found: run make build"
make_work shardcounter-profile
build_tools
mkdir -p "$OUTDIR"

# perf_top PERFDATA N PERF-REPORT-ARGS...: the first N lines of a perf report
# list, percentages of the recording's own samples.
perf_top() {
	local data=$1 n=$2
	shift 2
	# head ends the pipe early: no pipefail here.
	(
		set +o pipefail
		perf report -i "$data" --percentage relative -g none --stdio "$@" 2>/dev/null |
			awk '!/^#/ && /%/' | head -n "$n" | sed 's/[ -]*$//' | cut -c1-150
	)
}

# report PERFDATA TITLE: the top lists of one process as markdown.
report() {
	local data=$1 title=$2 mode
	# Kernel against user space: a process that spends most of its time in
	# the kernel (system calls, loopback TCP) gains little from faster code
	# of its own.
	echo "#### $title: by object (kernel, the shardcounter binary, RocksDB, the C library)"
	echo
	echo '```'
	perf_top "$data" 6 --no-children --sort dso
	echo '```'
	echo
	for mode in children no-children; do
		if [[ $mode == children ]]; then
			echo "#### $title: inclusive (the function and what it calls)"
		else
			echo "#### $title: by itself"
		fi
		echo
		echo '```'
		perf_top "$data" "$TOP" --"$mode" --sort symbol
		echo '```'
		echo
	done
}

# us TICKS: CPU ticks over the recording (t0..t1) as µs per request at rps.
hz=$(getconf CLK_TCK)
us() { awk -v t="$1" -v hz="$hz" -v rps="$rps" -v ns="$((t1 - t0))" 'BEGIN { printf "%.1f", t / hz * 1e6 / (rps * ns / 1e9) }'; }

for wl in "${WORKLOADS[@]}"; do
	log "$wl: starting $SYSTEM"
	start_shardcounter "$SYSTEM" "$sync"
	coord=$COORD_PID
	# Sized to outlast the warm-up and the recording twice over: a warm
	# server runs faster than the probe.
	rps_probe=$WORK/$wl-probe.csv
	# shellcheck disable=SC2046
	redis-benchmark -h 127.0.0.1 -p "$PORT" -c "$CLIENTS" -n 20000 --csv $(bench_args "$wl") >"$rps_probe" 2>&1 ||
		die "$wl: the probe run failed: $(tail -n 3 "$rps_probe")"
	n=$("$REPORT" size "$("$REPORT" rps "$rps_probe")" "$((2 * SECS + 6))" 20000)
	# shellcheck disable=SC2046
	redis-benchmark -h 127.0.0.1 -p "$PORT" -c "$CLIENTS" -n "$n" --csv $(bench_args "$wl") >"$WORK/$wl.csv" 2>&1 &
	rb=$!
	PIDS+=("$rb") # stopped on the way out, whatever happens
	sleep 2
	pids=("$coord" "${SHARD_PIDS[@]}")
	before=$(cpu_ticks "${pids[@]}")
	steal0=$(steal_ticks)
	t0=$(date +%s%N)
	# One recording per process, side by side: with several processes in
	# one recording, perf report's --pid showed only part of a process's
	# samples (those of some of its threads).
	recs=()
	for pid in "${pids[@]}"; do
		perf record -q -F 999 -g -p "$pid" -o "$WORK/$wl.$pid.perf" -- sleep "$SECS" 2>>"$WORK/logs/perf.log" &
		recs+=("$!")
	done
	for rec in "${recs[@]}"; do
		wait "$rec" ||
			die "$wl: perf record failed (it needs root or kernel.perf_event_paranoid <= 1): $(tail -n 3 "$WORK/logs/perf.log")"
	done
	t1=$(date +%s%N)
	after=$(cpu_ticks "${pids[@]}")
	steal1=$(steal_ticks)
	# The figures per request assume the load ran through the recording.
	kill -0 "$rb" 2>/dev/null || die "$wl: redis-benchmark ended before the recording did; try a smaller PROFILE_SECS"
	wait "$rb" || die "$wl: redis-benchmark failed: $(tail -n 3 "$WORK/$wl.csv")"
	rps=$("$REPORT" rps "$WORK/$wl.csv")
	stop "${SYS_PIDS[@]}"
	rm -rf "${WORK:?}/$SYSTEM"

	read -ra b <<<"$before"
	read -ra a <<<"$after"
	# The busiest shard: a key that is not split loads one shard only.
	busiest=1 shards=0
	for i in 1 2 3; do
		((a[i] - b[i] > a[busiest] - b[busiest])) && busiest=$i
		shards=$((shards + a[i] - b[i]))
	done
	shard=${pids[busiest]}
	out=$OUTDIR/$prefix$wl.md
	{
		echo "# Profile of $SYSTEM: $(bench_args "$wl")"
		echo
		echo "Written by \`make bench-profile\` (bench/profile.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(nproc) cores."
		echo "$what 3 shard processes and a coordinator, each with GOMAXPROCS=${BENCH_GOMAXPROCS:-1}; redis-benchmark, $CLIENTS clients, $(bench_args "$wl"), ran at $(printf '%.0f' "$rps") requests/s."
		echo "perf recorded the coordinator and the shards for ${SECS} s in the middle of the run (call graphs, 999 Hz); percentages are of each process's own samples."
		echo "The by-itself lists are plain sampling. The inclusive ones follow perf's call graphs, which through RocksDB's frames (some unnamed, reached through cgo) are approximate: a function may show more than 100%."
		echo "CPU time per request of the run, over the recording (/proc/PID/stat): coordinator $(us $((a[0] - b[0]))) µs; the three shards $(us "$shards") µs, of which s$busiest, the busiest and the one profiled below, $(us $((a[busiest] - b[busiest]))) µs."
		echo "Steal during the recording: $(steal_share "$steal0" "$steal1")% of the machine's CPU time was taken by the hypervisor (/proc/stat; see bench/README.md, \"Reading the targets\"). Under much steal every figure per request here is inflated."
		echo
		echo "## Coordinator"
		echo
		report "$WORK/$wl.$coord.perf" "Coordinator"
		echo "## Shard s$busiest"
		echo
		report "$WORK/$wl.$shard.perf" "Shard s$busiest"
	} >"$out"
	log "$wl: $(printf '%.0f' "$rps") requests/s; wrote $out"
done
