package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

func TestMemoryParts(t *testing.T) {
	kv := map[string]string{}
	set := func(shard, stage string, rss, goMem, mem, cache, readers int) {
		pre := shard + "_" + stage + "_"
		for k, v := range map[string]int{"used_memory_rss": rss, "go_memory_bytes": goMem, "rocksdb_memtables_bytes": mem,
			"rocksdb_block_cache_bytes": cache, "rocksdb_table_readers_bytes": readers} {
			kv[pre+k] = strconv.Itoa(v << 20)
		}
	}
	set("s1", "stage1", 200, 90, 20, 64, 2)
	set("s1", "full", 260, 100, 30, 64, 3)
	set("s2", "stage1", 210, 91, 21, 64, 2)
	set("s3", "full", 250, 99, 25, 63, 3)
	var b strings.Builder
	memoryParts(func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }, kv, []string{"stage1", "full"}, []int64{10_000_000, 20_000_000})
	out := b.String()
	for _, want := range []string{
		"| s1 | 10,000,000 | 200 | 90 | 20 | 64 | 2 | 24 |\n",
		"| s1 | 20,000,000 | 260 | 100 | 30 | 64 | 3 | 63 |\n",
		"| s2 | 10,000,000 | 210 | 91 | 21 | 64 | 2 | 32 |\n",
		"| s3 | 20,000,000 | 250 | 99 | 25 | 63 | 3 | 60 |\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no row %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "| s2 | 20,000,000") || strings.Contains(out, "| s3 | 10,000,000") {
		t.Errorf("a row for a stage the run did not record:\n%s", out)
	}

	b.Reset()
	memoryParts(func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }, map[string]string{}, []string{"stage1", "full"}, []int64{1, 2})
	if b.Len() != 0 {
		t.Errorf("a run without INFO memory got a table:\n%s", b.String())
	}
}

func TestScaleRestart(t *testing.T) {
	kv := scaleRun{
		"restart_key": "counter:7", "graceful_wal_kib": "0", "graceful_ms": "98.5", "graceful_after_rss": "40960",
		"graceful_coord_ms": "412.0", "crash_extra_keys": "1000000", "crash_wal_kib": "9216", "crash_ms": "2140.0",
		"crash_after_rss": "41984", "after_crash_verify_sample": "2000", "after_crash_verify_bad": "0",
	}
	var b strings.Builder
	scaleRestart(func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }, kv, 10_000_000)
	out := b.String()
	for _, want := range []string{
		"| graceful (SIGTERM, then start) | 0.0 MiB | 98.5 ms | 40 MiB | pass | 412.0 ms |\n",
		"| crash (1,000,000 more keys loaded, SIGKILL at once, then start) | 9.0 MiB | 2140.0 ms | 41 MiB | **FAIL** | no answer |\n",
		"2000 sampled counters of all 11,000,000 read back through the coordinator: 0 not equal to 1.\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}

	// A run from before the log was measured, and a shard that never answered.
	delete(kv, "crash_wal_kib")
	delete(kv, "crash_ms")
	b.Reset()
	scaleRestart(func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }, kv, 10_000_000)
	if want := "SIGKILL at once, then start) | ? | no answer | | **FAIL** | no answer |\n"; !strings.Contains(b.String(), want) {
		t.Errorf("no %q in\n%s", want, b.String())
	}
}
