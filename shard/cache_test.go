package shard

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestPartialCache(t *testing.T) {
	c := newPartialCache(1) // the smallest freecache: 512 KiB
	if _, ok := c.get([]byte("a")); ok {
		t.Fatal("empty cache has a")
	}
	c.add([]byte("a"), partial{count: -7})
	c.add([]byte("b"), partial{count: 1 << 62})
	c.add([]byte("a"), partial{count: 42})
	c.add([]byte("c"), partial{count: 3, covered: -9})
	if v, ok := c.get([]byte("a")); !ok || v != (partial{count: 42}) {
		t.Fatalf("a = %v %v, want 42", v, ok)
	}
	if v, ok := c.get([]byte("b")); !ok || v != (partial{count: 1 << 62}) {
		t.Fatalf("b = %v %v, want 1<<62", v, ok)
	}
	if v, ok := c.get([]byte("c")); !ok || v != (partial{count: 3, covered: -9}) {
		t.Fatalf("c = %v %v, want count 3 covering -9", v, ok)
	}
	c.add([]byte("c"), partial{count: 4})
	if v, ok := c.get([]byte("c")); !ok || v != (partial{count: 4}) {
		t.Fatalf("c = %v %v after it stopped covering, want 4", v, ok)
	}
	c.remove([]byte("a"))
	if _, ok := c.get([]byte("a")); ok {
		t.Fatal("a survived remove")
	}
	c.purge()
	if _, ok := c.get([]byte("b")); ok {
		t.Fatal("b survived purge")
	}

	// An entry over freecache's limit (1/1024 of the cache) is not cached.
	long := []byte(strings.Repeat("k", 4096))
	c.add(long, partial{count: 5})
	if _, ok := c.get(long); ok {
		t.Fatal("a 4 KiB key was cached in a 512 KiB cache")
	}

	// The memory is bounded: many more counters than fit evict the old
	// ones, and the newest are there.
	for i := range 100_000 {
		c.add(fmt.Appendf(nil, "counter:%d", i), partial{count: int64(i)})
	}
	if n := c.c.EntryCount(); n >= 100_000 || n == 0 {
		t.Fatalf("%d entries in a 512 KiB cache after 100000 adds", n)
	}
	if v, ok := c.get([]byte("counter:99999")); !ok || v.count != 99999 {
		t.Fatalf("newest entry = %d %v", v, ok)
	}
}

// TestCachedPartialsMatchTheStore runs increments, DELs, SETs and FLUSHes of
// many counters, some with keys too long to cache, through a shard whose
// cache holds few of them, and checks every reply and every value against a
// model, then again after a restart (an empty cache).
func TestCachedPartialsMatchTheStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	small := func(c *Config) { c.CacheEntries = 1 }
	s, c := startShard(t, "s1", dir, small)
	rng := rand.New(rand.NewPCG(1, 2))
	keys := make([]string, 3000)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
		if i%10 == 0 {
			keys[i] += strings.Repeat("x", 2000) // over the cache's entry limit
		}
	}
	model := map[string]int64{}
	for step := range 20_000 {
		k := keys[rng.IntN(len(keys))]
		switch r := rng.IntN(100); {
		case r < 90:
			d := rng.Int64N(201) - 100
			v, err := c.IncrBy(ctx, k, d).Result()
			model[k] += d
			if err != nil || v != model[k] {
				t.Fatalf("step %d: INCRBY %.20s %d = %d %v, want %d", step, k, d, v, err, model[k])
			}
		case r < 96:
			if err := c.Do(ctx, "SC.DEL", "s1", k).Err(); err != nil {
				t.Fatal(err)
			}
			delete(model, k)
		case r < 99:
			v := rng.Int64N(1000)
			if err := c.Do(ctx, "SC.SET", "s1", k, v).Err(); err != nil {
				t.Fatal(err)
			}
			model[k] = v
		default:
			if step%10 == 0 { // now and then, the whole shard
				if err := c.Do(ctx, "SC.FLUSH", "s1").Err(); err != nil {
					t.Fatal(err)
				}
				clear(model)
			}
		}
	}
	check := func(c *redis.Client, when string) {
		t.Helper()
		for _, k := range keys {
			v, err := c.Get(ctx, k).Int64()
			if err == redis.Nil {
				v, err = 0, nil
			}
			if err != nil || v != model[k] {
				t.Fatalf("%s: GET %.20s = %d %v, want %d", when, k, v, err, model[k])
			}
		}
	}
	check(c, "before restart")
	c.Close()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	_, c = startShard(t, "s1", dir, small)
	check(c, "after restart")
	// And the writer's view after the restart, through the cache again.
	for _, k := range keys[:200] {
		v, err := c.Incr(ctx, k).Result()
		model[k]++
		if err != nil || v != model[k] {
			t.Fatalf("INCR %.20s after restart = %d %v, want %d", k, v, err, model[k])
		}
	}
}

// TestInfoMemory checks the memory section of INFO against what the shard
// was configured with and what it has written.
func TestInfoMemory(t *testing.T) {
	ctx := context.Background()
	_, c := startShard(t, "s1", t.TempDir(), func(c *Config) { c.CacheEntries = 10000 })
	for i := range 2000 {
		if err := c.Incr(ctx, fmt.Sprintf("k%d", i)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]int64{}
	for _, line := range strings.Split(info, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			fields[k] = n
		}
	}
	if got := fields["partial_cache_buffer_bytes"]; got != 10000*cacheEntryBytes {
		t.Errorf("partial_cache_buffer_bytes %d, want %d", got, 10000*cacheEntryBytes)
	}
	// 2000 counters are in the memtable, and the Go runtime holds at least
	// the partial cache.
	for k, low := range map[string]int64{
		"used_memory_rss": 1 << 20, "go_memory_bytes": 10000 * cacheEntryBytes, "rocksdb_memtables_bytes": 2000 * 8,
	} {
		if fields[k] < low {
			t.Errorf("%s %d, want at least %d\n%s", k, fields[k], low, info)
		}
	}
	for _, k := range []string{"rocksdb_block_cache_bytes", "rocksdb_block_cache_pinned_bytes", "rocksdb_table_readers_bytes", "allocator_trims"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("no %s in\n%s", k, info)
		}
	}
}

// A cache too small for freecache is made at its minimum, and INFO says so.
func TestCacheBufferBytes(t *testing.T) {
	for entries, want := range map[int]int{1: 512 << 10, 8192: 512 << 10, 8193: 8193 * 64, 262144: 16 << 20} {
		if got := cacheBufferBytes(entries); got != want {
			t.Errorf("cacheBufferBytes(%d) = %d, want %d", entries, got, want)
		}
	}
}
