package main

import (
	"fmt"
	"strconv"
	"strings"
)

// restartTarget is issue 3's bound on a restarted shard's first answer.
const restartTarget = 2000.0 // ms

// flatGrowth is how much a shard's peak RSS may grow from the first stage of
// the load to the end (tenfold the counters by default) and still count as
// not growing with them.
const flatGrowth = 0.20

// scaleRun is what bench/scale.sh recorded: key=value pairs.
type scaleRun map[string]string

// num is the value of k as a number, 0 when it is missing.
func (kv scaleRun) num(k string) float64 {
	f, _ := strconv.ParseFloat(kv[k], 64)
	return f
}

// mib is k, a size in KiB, in whole MiB, or "?" when it is missing.
func (kv scaleRun) mib(k string) string {
	if kv[k] == "" {
		return "?"
	}
	return fmt.Sprintf("%.0f", kv.num(k)/1024)
}

// renderScale writes the Scale and memory section of bench/RESULTS.md.
func renderScale(m map[string]string) string {
	kv := scaleRun(m)
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	keys := int64(kv.num("keys"))
	stage1 := int64(kv.num("stage1_keys"))
	scaleMethod(p, kv, keys, stage1)
	scaleRSS(p, kv, keys, stage1)
	memoryParts(p, kv, []string{"stage1", "full"}, []int64{stage1, keys})
	scaleRestart(p, kv, keys)
	return b.String()
}

// scaleMethod writes the heading, how the load ran and its read-back check.
func scaleMethod(p func(string, ...any), kv scaleRun, keys, stage1 int64) {
	p("## Scale and memory (`make bench-scale`)\n\n")
	p("- Date: %s. Machine: %s cores (`nproc`), %s, %s RAM; data on %s.\n", kv["date"], kv["nproc"], kv["cpu"], kv["mem"], kv["disk"])
	p("- Code: commit %s, %s", kv["commit"], kv["shardcounter"])
	if g := kv["gomaxprocs"]; g != "" && g != "0" {
		p("; the shards and coordinator of the load run with `GOMAXPROCS=%s`", g)
	}
	if kv["shard_flags"] != "" || kv["coord_flags"] != "" {
		p("; shard flags `%s`, coordinator flags `%s`", kv["shard_flags"], kv["coord_flags"])
	}
	p(".\n")
	p("- Method: 3 `shardcounter shard` processes and 1 `shardcounter coordinator`, default durability. "+
		"%s distinct counters `counter:0` … `counter:%d`, one `INCR` each, pipelined through the coordinator "+
		"(16 connections × 256 in flight). RSS is `VmRSS`, peak is `VmHWM` from /proc/PID/status, in MiB.\n",
		group(keys), keys-1)
	p("- Load: first %s keys in %s s (%s/s), the other %s in %s s (%s/s); %s error replies, %s replies other than 1.\n",
		group(stage1), kv["stage1_load_secs"], fmtOps(kv.num("stage1_load_rate")),
		group(keys-stage1), kv["stage2_load_secs"], fmtOps(kv.num("stage2_load_rate")),
		sum(kv, "stage1_load_errors", "stage2_load_errors"), sum(kv, "stage1_load_unexpected", "stage2_load_unexpected"))
	if kv["stage1_load_first_error"] != "" || kv["stage2_load_first_error"] != "" {
		p("- First error reply: `%s%s`.\n", kv["stage1_load_first_error"], kv["stage2_load_first_error"])
	}
	p("- Read back through the coordinator: %s sampled counters, %s not equal to 1", kv["verify_sample"], kv["verify_bad"])
	if kv["verify_first_bad"] != "" {
		p(" (first: `%s`)", kv["verify_first_bad"])
	}
	p(".\n\n")
}

// scaleRSS writes every process's RSS after each stage of the load, and
// whether a shard's peak stayed under the bound and flat.
func scaleRSS(p func(string, ...any), kv scaleRun, keys, stage1 int64) {
	bound := kv.num("bound_mib")
	p("| process | RSS idle | after %s keys: RSS / peak | after %s keys: RSS / peak | RocksDB on disk | peak ≤ %.0f MiB |\n",
		group(stage1), group(keys), bound)
	p("| --- | ---: | ---: | ---: | ---: | --- |\n")
	worst := 0.0
	for i := 1; i <= 3; i++ {
		s := fmt.Sprintf("s%d", i)
		hwm := kv.num(s+"_full_hwm") / 1024
		worst = max(worst, hwm)
		verdict := "pass"
		if hwm > bound {
			verdict = "**FAIL**"
		}
		p("| shard %s | %s | %s / %s | %s / %s | %s MiB | %s |\n", s, kv.mib(s+"_idle_rss"),
			kv.mib(s+"_stage1_rss"), kv.mib(s+"_stage1_hwm"), kv.mib(s+"_full_rss"), kv.mib(s+"_full_hwm"),
			kv.mib(s+"_disk_kib"), verdict)
	}
	p("| coordinator | %s | %s / %s | %s / %s | | |\n\n", kv.mib("coord_idle_rss"),
		kv.mib("coord_stage1_rss"), kv.mib("coord_stage1_hwm"), kv.mib("coord_full_rss"), kv.mib("coord_full_hwm"))
	var growth []string
	flat := true
	for i := 1; i <= 3; i++ {
		s := fmt.Sprintf("s%d", i)
		g := (kv.num(s+"_full_hwm") - kv.num(s+"_stage1_hwm")) / 1024
		growth = append(growth, fmt.Sprintf("%+.0f", g))
		if g > flatGrowth*kv.num(s+"_stage1_hwm")/1024 {
			flat = false
		}
	}
	verdict := "pass"
	if !flat {
		verdict = "**FAIL**"
	}
	p("Peak RSS growth per shard from %s to %s keys (%.3g× the counters): %s MiB. Largest shard peak: %.0f MiB. "+
		"Memory independent of the number of counters (each shard's peak grows less than %.0f%%): %s.\n\n",
		group(stage1), group(keys), float64(keys)/float64(max(stage1, 1)), strings.Join(growth, ", "), worst, flatGrowth*100, verdict)
}

// scaleRestart writes how soon a restarted shard answered, after a
// graceful stop and after a crash, and the read-back after the crash.
func scaleRestart(p func(string, ...any), kv scaleRun, keys int64) {
	p("Restart of shard s1 holding its third of the counters, timed from starting the new process to its first answer of `GET %s` with the loaded value:\n\n", kv["restart_key"])
	p("| restart | log to replay | shard's first answer | RSS then | target < 2 s | coordinator's first answer through it |\n| --- | ---: | ---: | ---: | --- | ---: |\n")
	row := func(name, k string) {
		coord := "no answer"
		if kv[k+"_coord_ms"] != "" {
			coord = kv[k+"_coord_ms"] + " ms"
		}
		wal := "?"
		if kv[k+"_wal_kib"] != "" {
			wal = fmt.Sprintf("%.1f MiB", kv.num(k+"_wal_kib")/1024)
		}
		if kv[k+"_ms"] == "" {
			p("| %s | %s | no answer | | **FAIL** | %s |\n", name, wal, coord)
			return
		}
		v := "pass"
		if kv.num(k+"_ms") >= restartTarget {
			v = "**FAIL**"
		}
		p("| %s | %s | %s ms | %s MiB | %s | %s |\n", name, wal, kv[k+"_ms"], kv.mib(k+"_after_rss"), v, coord)
	}
	row("graceful (SIGTERM, then start)", "graceful")
	row(fmt.Sprintf("crash (%s more keys loaded, SIGKILL at once, then start)", group(int64(kv.num("crash_extra_keys")))), "crash")
	p("\nBoth times count from starting the new shard process; the coordinator's is its first `GET %s` answered with the sum, "+
		"which it refuses while it holds the shard for down. The log to replay is the size of s1's write-ahead log files when the old process was gone: "+
		"what it had not flushed, which the new one must insert into a memtable again before it answers.\n", kv["restart_key"])
	p("\nAfter the crash restart, %s sampled counters of all %s read back through the coordinator: %s not equal to 1",
		kv["after_crash_verify_sample"], group(keys+int64(kv.num("crash_extra_keys"))), kv["after_crash_verify_bad"])
	if kv["after_crash_verify_first_bad"] != "" {
		p(" (first: `%s`)", kv["after_crash_verify_first_bad"])
	}
	p(".\n")
}

func sum(kv map[string]string, keys ...string) string {
	var t int64
	for _, k := range keys {
		n, _ := strconv.ParseInt(kv[k], 10, 64)
		t += n
	}
	return strconv.FormatInt(t, 10)
}

// group writes n with thousands separators: 10,000,000.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// memoryParts writes what each shard said holds its memory (INFO memory)
// after each stage of the load, when the run recorded it.
func memoryParts(p func(string, ...any), kv map[string]string, stages []string, keys []int64) {
	if kv["s1_"+stages[0]+"_used_memory_rss"] == "" {
		return
	}
	mib := func(k string) (float64, bool) {
		f, err := strconv.ParseFloat(kv[k], 64)
		return f / (1 << 20), err == nil
	}
	p("What each shard's RSS holds by its own account (`INFO memory`, MiB; docs/OPERATIONS.md, \"Memory\"). " +
		"The rest is RocksDB's flushes and compactions, the C allocator's free lists and the code:\n\n")
	p("| shard | counters | RSS | Go runtime (partial cache included) | memtables | block cache | table readers | rest |\n")
	p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for i := 1; i <= 3; i++ {
		for j, st := range stages {
			pre := fmt.Sprintf("s%d_%s_", i, st)
			rss, ok := mib(pre + "used_memory_rss")
			if !ok {
				continue
			}
			rest := rss
			cells := []string{}
			for _, f := range []string{"go_memory_bytes", "rocksdb_memtables_bytes", "rocksdb_block_cache_bytes", "rocksdb_table_readers_bytes"} {
				v, ok := mib(pre + f)
				if !ok {
					cells = append(cells, "?")
					continue
				}
				rest -= v
				cells = append(cells, fmt.Sprintf("%.0f", v))
			}
			p("| s%d | %s | %.0f | %s | %.0f |\n", i, group(keys[j]), rss, strings.Join(cells, " | "), rest)
		}
	}
	p("\n")
}
