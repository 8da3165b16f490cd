# Shared by bench/run.sh and bench/scale.sh: package installs, the work
# directory, free ports, starting and stopping servers. Source it from the
# repository root after `set -euo pipefail`.
#
# Every server is started on 127.0.0.1, on a port the kernel says is free,
# with its data in a fresh directory under $WORK; every process started
# through start_bg is stopped when the script exits, however it exits.

BIN=${BIN:-bin/shardcounter}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# need_packages CMD:PKG...: installs (apt-get, sudo when not root) the
# packages whose command is missing; apt-get update runs once, and only when
# something is missing.
need_packages() {
	local missing=() pair
	for pair in "$@"; do
		command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
	done
	((${#missing[@]} == 0)) && return 0
	command -v apt-get >/dev/null || die "missing ${missing[*]} and apt-get is not available: install them by hand"
	local sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null || die "missing ${missing[*]}: run as root or install sudo"
		sudo=(sudo)
	fi
	log "installing ${missing[*]}"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

# make_work PREFIX: creates $WORK (a fresh directory on disk, not tmpfs, so
# that fsync costs what it costs) and arranges for cleanup on exit.
make_work() {
	local base=${BENCH_TMP:-${TMPDIR:-/tmp}}
	if [[ $(stat -f -c %T "$base" 2>/dev/null) == tmpfs ]]; then
		base=/var/tmp # fsync on tmpfs is free: the durable rows would lie
	fi
	WORK=$(mktemp -d "$base/$1.XXXXXX")
	chmod 711 "$WORK" # PostgreSQL runs as its own user below it
	mkdir -p "$WORK/bin" "$WORK/logs"
	PIDS=()
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	local pid
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
	done
	if declare -F cleanup_extra >/dev/null; then cleanup_extra || true; fi
	if [[ ${BENCH_KEEP:-0} == 1 ]]; then
		log "kept $WORK"
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}

# build_tools: copies $BIN and builds the Go helpers of bench/ into $WORK/bin.
build_tools() {
	# A copy of the binary: a rebuild during the run changes nothing here.
	cp "$BIN" "$WORK/bin/shardcounter"
	BIN=$WORK/bin/shardcounter
	go build -o "$WORK/bin/report" ./bench/report
	go build -o "$WORK/bin/loader" ./bench/loader
	REPORT=$WORK/bin/report
	LOADER=$WORK/bin/loader
}

# free_ports N: prints N distinct free loopback ports, one a line.
free_ports() { "$REPORT" ports "$1"; }

# start_bg NAME CMD...: starts CMD in the background with its output in
# $WORK/logs/NAME.log, records its pid for cleanup, and sets LAST_PID.
start_bg() {
	local name=$1
	shift
	"$@" >>"$WORK/logs/$name.log" 2>&1 &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
}

# wait_gone PID SECONDS: waits for PID to exit; 1 when it is still there.
wait_gone() {
	local pid=$1 i
	for ((i = 0; i < $2 * 20; i++)); do
		kill -0 "$pid" 2>/dev/null || {
			wait "$pid" 2>/dev/null || true
			return 0
		}
		sleep 0.05
	done
	return 1
}

# stop PID...: SIGTERM, then SIGKILL after 15 s.
stop() {
	local pid
	for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "$@"; do
		wait_gone "$pid" 15 || {
			log "pid $pid ignored SIGTERM for 15s: killing it"
			kill -KILL "$pid" 2>/dev/null || true
			wait_gone "$pid" 5 || true
		}
	done
	local keep=() p
	for p in "${PIDS[@]}"; do
		[[ " $* " == *" $p "* ]] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

# wait_ping PORT NAME PID: waits up to 30 s until PORT answers PING.
wait_ping() {
	local port=$1 name=$2 pid=$3 i
	for ((i = 0; i < 600; i++)); do
		[[ $(redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null) == PONG ]] && return 0
		kill -0 "$pid" 2>/dev/null || {
			tail -n 20 "$WORK/logs/$name.log" >&2 || true
			die "$name exited during start-up (log above)"
		}
		sleep 0.05
	done
	tail -n 20 "$WORK/logs/$name.log" >&2 || true
	die "$name did not answer PING on port $port within 30s"
}

# start_shardcounter NAME SYNC(0|1): three shard processes and a coordinator,
# each its own process, as in production. Sets PORT (the coordinator's RESP
# port), SHARD_PORTS, SHARD_PIDS, COORD_PID and SYS_PIDS.
# Extra flags: BENCH_SHARD_FLAGS, BENCH_COORD_FLAGS.
# Each process runs with GOMAXPROCS=$BENCH_GOMAXPROCS (default 1): four Go
# processes share this machine's cores with the benchmark client, and with
# the default (every core for each) the runtime spends its time waking
# threads on the other core (docs/OPERATIONS.md, "Several processes on one
# machine"). Redis and twemproxy run one thread each. BENCH_GOMAXPROCS=0
# leaves Go's default.
start_shardcounter() {
	local name=$1 sync=$2 ports i spec=() flags=() GOENV=(env)
	[[ ${BENCH_GOMAXPROCS:-1} != 0 ]] && GOENV+=("GOMAXPROCS=${BENCH_GOMAXPROCS:-1}")
	mapfile -t ports < <(free_ports 5)
	[[ $sync == 1 ]] && flags+=(--sync)
	# shellcheck disable=SC2206
	flags+=(${BENCH_SHARD_FLAGS:-})
	SHARD_PORTS=()
	SHARD_PIDS=()
	for i in 1 2 3; do
		mkdir -p "$WORK/$name/s$i"
		start_bg "$name-s$i" "${GOENV[@]}" "$BIN" shard --id "s$i" --listen "127.0.0.1:${ports[i - 1]}" \
			--data "$WORK/$name/s$i" "${flags[@]}"
		SHARD_PIDS+=("$LAST_PID")
		SHARD_PORTS+=("${ports[i - 1]}")
		spec+=("s$i=127.0.0.1:${ports[i - 1]}")
	done
	for i in 0 1 2; do wait_ping "${SHARD_PORTS[i]}" "$name-s$((i + 1))" "${SHARD_PIDS[i]}"; done
	local IFS=,
	# shellcheck disable=SC2086
	start_bg "$name-coord" "${GOENV[@]}" "$BIN" coordinator --listen "127.0.0.1:${ports[3]}" \
		--http "127.0.0.1:${ports[4]}" --shards "${spec[*]}" ${BENCH_COORD_FLAGS:-}
	unset IFS
	COORD_PID=$LAST_PID
	PORT=${ports[3]}
	wait_ping "$PORT" "$name-coord" "$COORD_PID"
	SYS_PIDS=("${SHARD_PIDS[@]}" "$COORD_PID")
}

# start_redis NAME PORT EXTRA...: one redis-server on 127.0.0.1:PORT with its
# directory under $WORK; sets LAST_PID.
start_redis() {
	local name=$1 port=$2
	shift 2
	mkdir -p "$WORK/$name"
	start_bg "$name" redis-server --bind 127.0.0.1 --port "$port" --dir "$WORK/$name" \
		--daemonize no --protected-mode yes --logfile "" "$@"
	wait_ping "$port" "$name" "$LAST_PID"
}

# busy_pct: how busy the CPUs are over one second, in percent, from
# /proc/stat (iowait counts as idle). Run while none of ours is running, it
# tells how much of the machine something else is using.
busy_pct() {
	local a b
	a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
	sleep 1
	b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); busy = y[1] - x[1]; all = busy + y[2] - x[2]; printf "%.0f\n", (all > 0 ? 100 * busy / all : 0) }'
}

# bench_args WORKLOAD: the redis-benchmark arguments besides -p/-n/--csv.
bench_args() {
	case $1 in
	incr1) echo "-t incr" ;;             # key counter:__rand_int__ (literal without -r)
	incr1_p16) echo "-t incr -P 16" ;;
	incrR_p16) echo "-t incr -r 1000000 -P 16" ;; # keys counter:000000000000..counter:000000999999
	get) echo "GET counter:__rand_int__" ;;      # the key incr1 and incr1_p16 counted up
	esac
}

# cpu_ticks PID...: the CPU time, user + system in clock ticks, that each
# process has used so far (every thread of it), space separated; 0 for a
# process that is gone. The command name in /proc/PID/stat may hold spaces,
# so the fields are counted after its closing parenthesis.
cpu_ticks() {
	local p
	for p in "$@"; do
		{ sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null || echo; } | awk '{ printf "%d ", $12 + $13 }'
	done
	echo
}

# steal_ticks: the machine's stolen and total CPU time so far, in clock
# ticks, from /proc/stat: steal is the time a virtual machine's CPUs were
# ready to run but the hypervisor ran something else; it shows only while
# this machine is busy, and it is what makes a run here slower than the
# one before it.
steal_ticks() { awk '/^cpu / { print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }

# steal_share BEFORE AFTER: the percentage of the machine's CPU time that
# was stolen between two steal_ticks readings.
steal_share() {
	awk -v b="$1" -v a="$2" 'BEGIN {
		split(b, x, " "); split(a, y, " ")
		t = y[2] - x[2]
		printf "%.0f", (t > 0 ? 100 * (y[1] - x[1]) / t : 0)
	}'
}

# vm_kib PID FIELD: VmRSS or VmHWM of PID in KiB.
vm_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
