package main

import (
	"os"
	"slices"
	"strings"
	"syscall"
)

// The Go runtime's monitor thread, sysmon, sleeps deeply while every P is
// idle. The next system call wakes it with a futex, and after such a wake
// it polls every 20 µs for a millisecond or more before it sleeps again
// (golang/go#18236: the tick is hard-coded). A shard or a coordinator goes
// idle and busy again thousands of times a second, once per round it
// serves, so every round paid for a wake-up and a burst of polling. perf
// showed sysmon's sleeping and waking as close to half of a shard's CPU
// time (INCR of one key, 50 clients, GOMAXPROCS=1); docs/OPERATIONS.md has
// the before and after.
//
// sysmon never sleeps deeply while GODEBUG's schedtrace is set, and it then
// stretches its tick up to 10 ms when it finds nothing to do. The runtime
// reads GODEBUG only when the process starts, so the server commands
// execute themselves again, once, with schedtrace at its largest value:
// the scheduler line it prints comes every 24.8 days, and once at start on
// a host that has been up longer than that. It has one more effect: a
// fatal error or unrecovered panic first prints a scheduler dump (a line
// per thread, P and goroutine) before the usual stack trace. A GODEBUG
// that names schedtrace itself (schedtrace=0 turns all this off) is left
// as it is.
const quietSysmon = "schedtrace=2147483647"

// quietSysmonEnv returns env with quietSysmon added to its GODEBUG, or
// false when that GODEBUG names schedtrace already.
func quietSysmonEnv(env []string) ([]string, bool) {
	out := make([]string, 0, len(env)+1)
	done := false
	for _, kv := range env {
		val, isGodebug := strings.CutPrefix(kv, "GODEBUG=")
		if !isGodebug || done {
			out = append(out, kv)
			continue
		}
		// The runtime reads the first GODEBUG of the environment.
		for field := range strings.SplitSeq(val, ",") {
			if key, _, _ := strings.Cut(field, "="); strings.TrimSpace(key) == "schedtrace" {
				return env, false
			}
		}
		if val != "" {
			val += ","
		}
		out = append(out, "GODEBUG="+val+quietSysmon)
		done = true
	}
	if !done {
		out = append(out, "GODEBUG="+quietSysmon)
	}
	return out, true
}

// mallocEnv is how a server process sets up the C allocator, which
// RocksDB allocates from. By default glibc gives each thread that
// allocates an arena of its own (up to 8 per core) and serves blocks up to
// 32 MiB from the arenas once a block that size has been freed; with
// RocksDB's flush, compaction and writer threads that kept more and more
// freed memory in the process as the data grew. Two arenas, and blocks from
// 128 KiB up mapped on their own and returned when freed, took a shard's
// peak RSS at 16 million counters from 329-359 MiB to 268-280 MiB, with no
// change in throughput beyond the noise (docs/OPERATIONS.md, "Memory").
// A variable already in the environment is left as it is.
var mallocEnv = []string{"MALLOC_ARENA_MAX=2", "MALLOC_MMAP_THRESHOLD_=131072"}

// withMallocEnv returns env with each mallocEnv variable it does not set
// added, and whether it added any.
func withMallocEnv(env []string) ([]string, bool) {
	added := false
	for _, kv := range mallocEnv {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, name+"=") }) {
			env = append(slices.Clip(env), kv)
			added = true
		}
	}
	return env, added
}

// serverEnv is the environment a server process runs under: quietSysmonEnv
// and withMallocEnv. changed is false when env has all of that already.
func serverEnv(env []string) (out []string, changed bool) {
	out, sysmon := quietSysmonEnv(env)
	out, malloc := withMallocEnv(out)
	return out, sysmon || malloc
}

// reexecServerEnv replaces this process with itself, same arguments, under
// serverEnv: the runtime reads GODEBUG, and glibc its malloc settings, only
// when the process starts. It returns nil without doing so when the
// environment is set up already (as it is after the re-execution), and an
// error when the execution failed; the process then runs on as it is.
func reexecServerEnv() error {
	env, ok := serverEnv(os.Environ())
	if !ok {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return syscall.Exec(exe, os.Args, env)
}
