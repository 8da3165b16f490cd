#!/usr/bin/env bash
# make bench-scale: memory and restart time of shards holding many counters
# (issue 3, "Scale and memory").
#
# Starts 3 shard processes and a coordinator (default durability), loads
# SCALE_KEYS distinct counters (counter:0 .. counter:N-1, one pipelined INCR
# each, through the coordinator), and reads every shard's RSS and peak RSS
# (/proc/PID/status VmRSS, VmHWM) when idle, after SCALE_STAGE1 (N/10) keys and after N
# keys. Then it restarts shard s1 twice and times, from the moment the new
# process is started, until it answers a GET of one of its keys with the
# loaded value:
#   graceful: SIGTERM, wait for exit, start;
#   crash:    load N/10 more keys, SIGKILL at once (so the WAL must be
#             replayed), start.
# Writes the "scale" section of bench/RESULTS.md (or SCALE_OUT).
#
# Environment:
#   SCALE_KEYS=10000000     counters to load (1000000 for a quick check)
#   SCALE_STAGE1=N/10       keys loaded when RSS is first read; the memory check
#                           compares the peak then with the peak after N keys
#   SCALE_RSS_BOUND_MIB=512 the documented per-shard RSS bound to check against
#   SCALE_OUT=path          markdown output (default bench/RESULTS.md)
#   BENCH_SHARD_FLAGS, BENCH_COORD_FLAGS, BENCH_KEEP=1, BENCH_NO_BUILD=1 as for run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

N=${SCALE_KEYS:-10000000}
BOUND=${SCALE_RSS_BOUND_MIB:-512}
OUT=${SCALE_OUT:-bench/RESULTS.md}
[[ $N =~ ^[0-9]+$ && $N -ge 1000 ]] || die "SCALE_KEYS must be a number ≥ 1000"

need_packages redis-cli:redis-tools
if [[ ${BENCH_NO_BUILD:-0} != 1 ]]; then
	make --no-print-directory deps build >&2
fi
[[ -x $BIN ]] || die "$BIN not found: run make build"
make_work shardcounter-scale
build_tools

KV=$WORK/scale.env
kv() { echo "$1=$2" >>"$KV"; }
# wal_kib DIR: the size of the RocksDB write-ahead log files in DIR, in KiB:
# what a shard started on DIR replays before it answers.
wal_kib() { cat "$1"/[0-9]*.log 2>/dev/null | wc -c | awk '{ printf "%d", $1 / 1024 }'; }
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
kv date "$(date -u '+%Y-%m-%d %H:%M UTC')"
kv nproc "$(nproc)"
kv cpu "${cpu:-unknown}"
kv mem "$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
kv commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
kv shardcounter "$("$BIN" version | head -n 1)"
kv keys "$N"
kv bound_mib "$BOUND"
kv shard_flags "${BENCH_SHARD_FLAGS:-}"
kv coord_flags "${BENCH_COORD_FLAGS:-}"
kv gomaxprocs "${BENCH_GOMAXPROCS:-1}"
kv disk "$(df -T "$WORK" | awk 'NR == 2 { print $2 }')"

start_shardcounter S 0
COORD=127.0.0.1:$PORT
log "cluster up: coordinator $COORD, shards ${SHARD_PORTS[*]}"

# rss TAG: every shard's and the coordinator's VmRSS and VmHWM, in KiB.
rss() {
	local i
	for i in 0 1 2; do
		kv "s$((i + 1))_${1}_rss" "$(vm_kib "${SHARD_PIDS[i]}" VmRSS)"
		kv "s$((i + 1))_${1}_hwm" "$(vm_kib "${SHARD_PIDS[i]}" VmHWM)"
	done
	kv "coord_${1}_rss" "$(vm_kib "$COORD_PID" VmRSS)"
	kv "coord_${1}_hwm" "$(vm_kib "$COORD_PID" VmHWM)"
}

# meminfo TAG: what each shard says holds its memory (INFO memory), in bytes.
meminfo() {
	local i field value
	for i in 0 1 2; do
		while IFS=: read -r field value; do
			case $field in
			used_memory_rss | go_memory_bytes | rocksdb_memtables_bytes | rocksdb_block_cache_bytes | rocksdb_table_readers_bytes)
				kv "s$((i + 1))_${1}_$field" "${value%$'\r'}"
				;;
			esac
		done < <(redis-cli -p "${SHARD_PORTS[i]}" INFO memory)
	done
}

sleep 1
rss idle
STAGE1=${SCALE_STAGE1:-$((N / 10))}
[[ $STAGE1 =~ ^[0-9]+$ && $STAGE1 -ge 1 && $STAGE1 -lt $N ]] || die "SCALE_STAGE1 must be a number from 1 to SCALE_KEYS - 1"
kv stage1_keys "$STAGE1"
log "loading counter:0 .. counter:$((STAGE1 - 1))"
"$LOADER" load --addr "$COORD" --from 0 --to "$STAGE1" | sed 's/^/stage1_/' >>"$KV"
sleep 2 # let background flushes and compactions settle
rss stage1
meminfo stage1
log "loading counter:$STAGE1 .. counter:$((N - 1))"
"$LOADER" load --addr "$COORD" --from "$STAGE1" --to "$N" | sed 's/^/stage2_/' >>"$KV"
sleep 2
rss full
meminfo full
log "loaded: $(grep -E '^stage[12]_load_(secs|rate)=' "$KV" | tr '\n' ' ')"
"$LOADER" verify --addr "$COORD" --n "$N" --sample 2000 >>"$KV"
for i in 1 2 3; do
	kv "s${i}_disk_kib" "$(du -sk "$WORK/S/s$i" | cut -f1)"
done

# ------------------------------------------------------------ restart s1

S1_PORT=${SHARD_PORTS[0]}
start_s1() {
	# shellcheck disable=SC2086
	start_bg S-s1 "$BIN" shard --id s1 --listen "127.0.0.1:$S1_PORT" --data "$WORK/S/s1" ${BENCH_SHARD_FLAGS:-}
	SHARD_PIDS[0]=$LAST_PID
}
KEY=$("$LOADER" findkey --addr "127.0.0.1:$S1_PORT" --n "$N")
kv restart_key "$KEY"
log "restarting s1 (graceful), probing GET $KEY"
stop "${SHARD_PIDS[0]}"
kv graceful_wal_kib "$(wal_kib "$WORK/S/s1")"
t0=$(date +%s%N)
start_s1
kv graceful_ms "$("$LOADER" probe --addr "127.0.0.1:$S1_PORT" --key "$KEY" --t0 "$t0")"
kv graceful_after_rss "$(vm_kib "${SHARD_PIDS[0]}" VmRSS)"
# The coordinator fails a GET while a shard it needs is down (invariant 4):
# time until it answers through the restarted shard again.
kv graceful_coord_ms "$("$LOADER" probe --addr "$COORD" --key "$KEY" --t0 "$t0")"
log "  first answer after $(sed -n 's/^graceful_ms=//p' "$KV") ms, through the coordinator after $(sed -n 's/^graceful_coord_ms=//p' "$KV") ms"

EXTRA=$((N / 10))
kv crash_extra_keys "$EXTRA"
log "loading $EXTRA more keys, then SIGKILL s1"
"$LOADER" load --addr "$COORD" --from "$N" --to "$((N + EXTRA))" | sed 's/^/stage3_/' >>"$KV"
kill -KILL "${SHARD_PIDS[0]}"
{ wait_gone "${SHARD_PIDS[0]}" 10; } 2>/dev/null || die "s1 survived SIGKILL"
stop "${SHARD_PIDS[0]}" # forget its pid
kv crash_wal_kib "$(wal_kib "$WORK/S/s1")"
t0=$(date +%s%N)
start_s1
kv crash_ms "$("$LOADER" probe --addr "127.0.0.1:$S1_PORT" --key "$KEY" --t0 "$t0")"
kv crash_after_rss "$(vm_kib "${SHARD_PIDS[0]}" VmRSS)"
kv crash_coord_ms "$("$LOADER" probe --addr "$COORD" --key "$KEY" --t0 "$t0")"
log "  first answer after $(sed -n 's/^crash_ms=//p' "$KV") ms, through the coordinator after $(sed -n 's/^crash_coord_ms=//p' "$KV") ms"
# Every acknowledged increment is still there after the crash.
"$LOADER" verify --addr "$COORD" --n "$((N + EXTRA))" --sample 2000 | sed 's/^/after_crash_/' >>"$KV"

"$REPORT" scale --in "$KV" --out "$OUT"
log "wrote $OUT"
