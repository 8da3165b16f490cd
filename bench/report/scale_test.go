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
