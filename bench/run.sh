#!/usr/bin/env bash
# make bench: throughput and latency of shardcounter against what a user
# would pick instead, on this machine, in one run (issue 3).
#
# Systems, started one after another on loopback, each on free ports with
# fresh data directories:
#   A  shardcounter: 3 shard processes + 1 coordinator process, default
#      durability (WAL before reply)
#   B  redis-server, no persistence
#   C  redis-server, appendonly yes, appendfsync always
#   D  twemproxy (nutcracker, ketama) in front of 3 redis-servers
#   E  shardcounter as A, every shard with --sync
#   PG PostgreSQL, one hot row, UPDATE ... SET value = value + 1 through
#      pgbench (only where PostgreSQL and pgbench are installed)
#
# Workloads, redis-benchmark with 50 clients:
#   incr1      INCR one key, no pipelining
#   incr1_p16  INCR one key, -P 16
#   incrR_p16  INCR random keys, -r 1000000 -P 16
#   get        GET one key, no pipelining
#
# Every (system, workload) is sized by a short warm-up run to last about
# BENCH_SECS seconds, and measured BENCH_REPS times. The rounds go A B C D
# E PG, A B C D E PG, ... so that drift of the machine spreads over every
# system alike; the table shows the median and the spread.
#
# Environment:
#   BENCH_QUICK=1      smoke run: 1 round of ~1.5 s runs (about a minute);
#                      writes bench/RESULTS-quick.md, not bench/RESULTS.md
#   BENCH_SECS=6       seconds per measured run
#   BENCH_REPS=3       rounds
#   BENCH_SYSTEMS="A B C D E PG"  which systems (the targets need all)
#   BENCH_OUT=path     where the markdown goes
#   BENCH_IDLE_WAIT=60 seconds to wait, before each round, for other work on
#                      the machine to quiet down (0 in quick mode)
#   BENCH_SHARD_FLAGS, BENCH_COORD_FLAGS   extra flags for A and E
#   BENCH_GOMAXPROCS=1 GOMAXPROCS of each A and E process (0: Go's default,
#                      every core); see start_shardcounter in bench/lib.sh
#   BENCH_KEEP=1       keep the work directory (logs, raw CSV)
#   BENCH_NO_BUILD=1   use bin/shardcounter as it is
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

CLIENTS=50
if [[ ${BENCH_QUICK:-0} == 1 ]]; then
	SECS=${BENCH_SECS:-1.5}
	REPS=${BENCH_REPS:-1}
	OUT=${BENCH_OUT:-bench/RESULTS-quick.md}
	MODE=quick
	IDLE_WAIT=${BENCH_IDLE_WAIT:-0}
else
	IDLE_WAIT=${BENCH_IDLE_WAIT:-60}
	SECS=${BENCH_SECS:-6}
	REPS=${BENCH_REPS:-3}
	OUT=${BENCH_OUT:-bench/RESULTS.md}
	MODE=full
fi
SYSTEMS=${BENCH_SYSTEMS:-A B C D E PG}
WORKLOADS=(incr1 incr1_p16 incrR_p16 get)

need_packages redis-server:redis-server redis-benchmark:redis-tools redis-cli:redis-tools nutcracker:nutcracker
if [[ ${BENCH_NO_BUILD:-0} != 1 ]]; then
	make --no-print-directory deps build >&2
fi
[[ -x $BIN ]] || die "$BIN not found: run make build"

make_work shardcounter-bench
build_tools
RES=$WORK/results
mkdir -p "$RES"

# ---------------------------------------------------------------- systems

start_A() { start_shardcounter A 0; }
start_E() { start_shardcounter E 1; }
start_B() {
	PORT=$(free_ports 1)
	start_redis B "$PORT" --save "" --appendonly no
	SYS_PIDS=("$LAST_PID")
}
start_C() {
	PORT=$(free_ports 1)
	start_redis C "$PORT" --save "" --appendonly yes --appendfsync always
	SYS_PIDS=("$LAST_PID")
}
start_D() {
	local ports i
	mapfile -t ports < <(free_ports 5)
	SYS_PIDS=()
	mkdir -p "$WORK/D"
	{
		echo "bench:"
		echo "  listen: 127.0.0.1:${ports[3]}"
		echo "  hash: fnv1a_64"
		echo "  distribution: ketama"
		echo "  redis: true"
		echo "  auto_eject_hosts: false"
		echo "  preconnect: true"
		echo "  servers:"
		for i in 0 1 2; do echo "   - 127.0.0.1:${ports[i]}:1 r$((i + 1))"; done
	} >"$WORK/D/nutcracker.yml"
	for i in 0 1 2; do
		start_redis "D-r$((i + 1))" "${ports[i]}" --save "" --appendonly no
		SYS_PIDS+=("$LAST_PID")
	done
	nutcracker --test-conf --conf-file="$WORK/D/nutcracker.yml" >>"$WORK/logs/D-nutcracker.log" 2>&1 ||
		die "nutcracker rejects $WORK/D/nutcracker.yml: $(cat "$WORK/logs/D-nutcracker.log")"
	start_bg D-nutcracker nutcracker --conf-file="$WORK/D/nutcracker.yml" \
		--stats-addr=127.0.0.1 --stats-port="${ports[4]}" --output="$WORK/logs/D-nutcracker.out"
	SYS_PIDS+=("$LAST_PID")
	PORT=${ports[3]}
	wait_ping "$PORT" D-nutcracker "$LAST_PID"
}

# ---------------------------------------------------------------- workloads

# probe_n WORKLOAD: requests of the warm-up run that sizes the measured one.
probe_n() {
	case $1 in
	incr1 | get) echo 10000 ;;
	*) echo 100000 ;;
	esac
}

# rb PORT N WORKLOAD OUTFILE: one redis-benchmark run, CSV to OUTFILE, and
# the CPU time the client used (clock ticks) to OUTFILE.client-ticks.
# A run that hangs (a server that stopped answering) is killed after
# RB_TIMEOUT seconds and counts as failed.
RB_TIMEOUT=$(awk -v s="$SECS" 'BEGIN { printf "%d", 10 * s + 60 }')
rb() {
	local port=$1 n=$2 wl=$3 out=$4 rc=0
	(
		rc=0 self=$BASHPID # in the pipeline below, BASHPID would be the pipeline's own process
		# shellcheck disable=SC2046
		timeout -k 5 "$RB_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$n" --csv $(bench_args "$wl") >"$out" 2>"$out.err" || rc=$?
		# This subshell's waited-for children so far are the client (with
		# timeout) and the bench_args substitution, which costs nothing
		# measurable: their CPU time is its cutime + cstime.
		sed 's/^.*) //' "/proc/$self/stat" | awk '{ print $14 + $15 }' >"$out.client-ticks"
		exit "$rc"
	) || rc=$?
	((rc != 124)) || echo "redis-benchmark did not finish within ${RB_TIMEOUT}s" >>"$out.err"
	return "$rc"
}

# cpu_record FILE N CLIENT BEFORE AFTER STEAL_BEFORE STEAL_AFTER: the CPU
# time of one measured run of N requests. CLIENT is the client's clock ticks
# (rb); BEFORE and AFTER are cpu_ticks of SYS_PIDS; the last of them is
# the front (the process the clients talk to), the others are the back.
# STEAL_BEFORE and STEAL_AFTER are steal_ticks of the machine.
cpu_record() {
	local file=$1 n=$2 client=$3 b a sb sa i back=0
	read -ra b <<<"$4"
	read -ra a <<<"$5"
	read -ra sb <<<"$6"
	read -ra sa <<<"$7"
	for ((i = 0; i < ${#a[@]} - 1; i++)); do back=$((back + a[i] - b[i])); done
	printf 'n=%s\nhz=%s\nfront=%s\nback=%s\nclient=%s\nsteal=%s\nticks=%s\n' "$n" "$(getconf CLK_TCK)" \
		"$((a[-1] - b[-1]))" "$back" "$client" "$((sa[0] - sb[0]))" "$((sa[1] - sb[1]))" >"$file"
}

# sent WORKLOAD N: INCRs of the one key counter:__rand_int__ that a run of N
# requests sends. With -P, redis-benchmark hands out requests a pipeline at
# a time, so it sends N rounded up to a multiple of the pipeline.
sent() {
	case $1 in
	incr1) echo "$2" ;;
	incr1_p16) echo $((($2 + 15) / 16 * 16)) ;;
	*) echo 0 ;;
	esac
}

# measure SYS ROUND: every workload against the running system.
measure() {
	local sys=$1 round=$2 wl n rps dir expect=0
	for wl in "${WORKLOADS[@]}"; do
		dir=$RES/$sys/$wl
		mkdir -p "$dir"
		n=$(probe_n "$wl")
		if ! rb "$PORT" "$n" "$wl" "$dir/probe$round.csv"; then
			log "  $sys $wl: warm-up failed: $(tr '\n' ' ' <"$dir/probe$round.csv.err")"
			echo "$wl round $round: warm-up failed: $(tr '\n' ' ' <"$dir/probe$round.csv.err" | cut -c1-200)" >>"$RES/$sys/errors"
			continue
		fi
		expect=$((expect + $(sent "$wl" "$n")))
		rps=$("$REPORT" rps "$dir/probe$round.csv") || rps=0
		n=$("$REPORT" size "$rps" "$SECS" "$(probe_n "$wl")")
		local before steal
		before=$(cpu_ticks "${SYS_PIDS[@]}")
		steal=$(steal_ticks)
		if rb "$PORT" "$n" "$wl" "$dir/rep$round.csv"; then
			cpu_record "$dir/cpu$round.env" "$n" "$(cat "$dir/rep$round.csv.client-ticks")" \
				"$before" "$(cpu_ticks "${SYS_PIDS[@]}")" "$steal" "$(steal_ticks)"
			expect=$((expect + $(sent "$wl" "$n")))
			log "  $sys $wl: $("$REPORT" rps "$dir/rep$round.csv" || echo '?') ops/s (n=$n)"
		else
			log "  $sys $wl: failed: $(tr '\n' ' ' <"$dir/rep$round.csv.err")"
			echo "$wl round $round: $(tr '\n' ' ' <"$dir/rep$round.csv.err" | cut -c1-200)" >>"$RES/$sys/errors"
			rm -f "$dir/rep$round.csv"
		fi
		if [[ $wl == incrR_p16 ]]; then
			# Every acknowledged INCR of the one key must be in its value.
			local got
			got=$(redis-cli -h 127.0.0.1 -p "$PORT" GET 'counter:__rand_int__' 2>&1 || true)
			echo "$round $expect $got" >>"$RES/$sys/check"
			[[ $got == "$expect" ]] || log "  $sys: counter:__rand_int__ is '$got', expected $expect"
		fi
	done
}

# ---------------------------------------------------------------- PostgreSQL

PG_BIN=
pg_find() {
	command -v pgbench >/dev/null || return 1
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r) "$(dirname "$(command -v postgres 2>/dev/null || echo /x/x)")"; do
		if [[ -x $d/postgres && -x $d/initdb && -x $d/pg_ctl ]]; then
			PG_BIN=$d
			return 0
		fi
	done
	return 1
}

# as_pg CMD...: runs CMD as the postgres user when we are root (initdb and
# postgres refuse root).
as_pg() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

PG_DATA=
cleanup_extra() {
	if [[ -n $PG_DATA && -f $PG_DATA/postmaster.pid ]]; then
		as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1 || true
	fi
}

pg_start() {
	local dir=$WORK/PG
	PG_PORT=$(free_ports 1)
	mkdir -p "$dir"
	[[ $(id -u) -eq 0 ]] && chown postgres: "$dir"
	PG_DATA=$dir/data
	as_pg "$PG_BIN/initdb" -D "$PG_DATA" -A trust -U bench --no-sync >>"$WORK/logs/PG.log" 2>&1 ||
		die "initdb failed: $(tail -n 5 "$WORK/logs/PG.log")"
	as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$dir/server.log" -w -t 60 \
		-o "-p $PG_PORT -k $dir -c listen_addresses=127.0.0.1 -c max_connections=120" start >>"$WORK/logs/PG.log" 2>&1 ||
		die "PostgreSQL did not start: $(tail -n 5 "$dir/server.log")"
	psql -q -h 127.0.0.1 -p "$PG_PORT" -U bench -d postgres -v ON_ERROR_STOP=1 \
		-c "CREATE TABLE counters (id int PRIMARY KEY, value bigint NOT NULL); INSERT INTO counters VALUES (1, 0);" >>"$WORK/logs/PG.log" 2>&1
	echo 'UPDATE counters SET value = value + 1 WHERE id = 1;' >"$dir/update.sql"
}

pg_stop() {
	as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >>"$WORK/logs/PG.log" 2>&1 || true
	rm -rf "$WORK/PG"
	PG_DATA=
}

# pg_measure VARIANT ROUND: pgbench, 50 clients, one hot row. VARIANT sync
# (synchronous_commit on: fsync before the reply) or async.
pg_measure() {
	local variant=$1 round=$2 dir opts=
	dir=$RES/PG-$variant/rep$round
	mkdir -p "$dir"
	chmod 777 "$dir"
	[[ $variant == async ]] && opts='-c synchronous_commit=off'
	local secs
	secs=$(awk -v s="$SECS" 'BEGIN { s = int(s + 0.5); print (s < 1 ? 1 : s) }')
	PGOPTIONS=$opts pgbench -h 127.0.0.1 -p "$PG_PORT" -U bench -n -c "$CLIENTS" -j 2 -T 1 -M prepared \
		-f "$WORK/PG/update.sql" postgres >/dev/null 2>&1 || true # warm-up
	if PGOPTIONS=$opts pgbench -h 127.0.0.1 -p "$PG_PORT" -U bench -n -c "$CLIENTS" -j 2 -T "$secs" -M prepared \
		-f "$WORK/PG/update.sql" -l --log-prefix="$dir/txlog" postgres >"$dir/out.txt" 2>"$dir/err.txt"; then
		log "  PG-$variant: $(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$dir/out.txt") tx/s"
	else
		log "  PG-$variant: pgbench failed: $(tail -n 3 "$dir/err.txt")"
		echo "round $round: $(tail -n 3 "$dir/err.txt" | tr '\n' ' ')" >>"$RES/PG-$variant.errors"
	fi
}

# ---------------------------------------------------------------- the run

want_pg=0
if [[ " $SYSTEMS " == *" PG "* ]]; then
	if pg_find; then
		want_pg=1
	else
		log "PostgreSQL: skipped (pgbench or a PostgreSQL server is not installed)"
		echo "pgbench or a PostgreSQL server (postgres, initdb, pg_ctl) is not installed on this machine" >"$RES/PG.skipped"
	fi
fi

# wait_idle: before a round, waits up to BENCH_IDLE_WAIT seconds for the
# machine to be at most 25% busy with other work; prints the last sample.
wait_idle() {
	local waited=0 busy
	while busy=$(busy_pct) && ((busy > 25 && waited < IDLE_WAIT)); do
		log "the machine is ${busy}% busy with something else: waiting for it to quiet down (${waited}/${IDLE_WAIT}s)"
		sleep 4
		waited=$((waited + 5))
	done
	echo "$busy"
}

start_time=$(date +%s)
BUSY=()
log "$MODE run: $REPS round(s), ~${SECS}s per measured run, $CLIENTS clients; work dir $WORK"
for ((round = 1; round <= REPS; round++)); do
	busy=$(wait_idle)
	BUSY+=("$busy")
	((busy <= 25)) || log "warning: the machine is ${busy}% busy with something else: results will be noisy"
	for sys in $SYSTEMS; do
		[[ $sys == PG ]] && continue
		log "round $round/$REPS: $sys"
		"start_$sys"
		measure "$sys" "$round"
		stop "${SYS_PIDS[@]}"
		rm -rf "${WORK:?}/$sys" # each round starts from empty data
	done
	if ((want_pg)); then
		log "round $round/$REPS: PostgreSQL"
		pg_start
		pg_measure sync "$round"
		pg_measure async "$round"
		pg_stop
	fi
done

cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
{
	echo "mode=$MODE"
	echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "nproc=$(nproc)"
	echo "cpu=${cpu:-unknown}"
	echo "mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "kernel=$(uname -r)"
	echo "secs=$SECS"
	echo "reps=$REPS"
	echo "clients=$CLIENTS"
	echo "elapsed=$(($(date +%s) - start_time))"
	echo "busy=${BUSY[*]} $(busy_pct)"
	echo "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
	echo "shardcounter=$("$BIN" version 2>/dev/null | head -n 1)"
	echo "redis=$(redis-server --version | sed 's/ sha=.*//')"
	echo "nutcracker=$(nutcracker --version 2>&1 | head -n 1)"
	if ((want_pg)); then echo "postgres=$("$PG_BIN/postgres" --version)"; fi
	echo "disk=$(df -T "$WORK" | awk 'NR == 2 { print $2 }') ($WORK)"
	echo "shard_flags=${BENCH_SHARD_FLAGS:-}"
	echo "coord_flags=${BENCH_COORD_FLAGS:-}"
	echo "gomaxprocs=${BENCH_GOMAXPROCS:-1}"
} >"$RES/meta.env"

"$REPORT" table --dir "$RES" --out "$OUT"
log "wrote $OUT"
