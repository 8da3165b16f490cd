package integration

import (
	"context"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestConcurrentIncrsAreConsecutive: with spread 1, concurrent INCRs of one
// key from many connections get unique, consecutive replies, as in Redis.
func TestConcurrentIncrsAreConsecutive(t *testing.T) {
	ctx := context.Background()
	c := startCluster(t, clusterOpts{coordArgs: []string{"--spread", "1"}})
	const workers, each = 50, 40
	// One connection per worker.
	rdb := newClient(t, &redis.Options{Addr: c.addr, PoolSize: workers})

	replies := make(chan int64, workers*each)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				v, err := rdb.Incr(ctx, "hot").Result()
				if err != nil {
					t.Errorf("INCR hot: %v", err)
					return
				}
				replies <- v
			}
		}()
	}
	wg.Wait()
	close(replies)
	if t.Failed() {
		return
	}
	seen := make([]bool, workers*each+1)
	for v := range replies {
		if v < 1 || v > workers*each {
			t.Fatalf("INCR replied %d, outside 1..%d", v, workers*each)
		}
		if seen[v] {
			t.Fatalf("INCR reply %d given twice", v)
		}
		seen[v] = true
	}
	for v := 1; v <= workers*each; v++ {
		if !seen[v] {
			t.Fatalf("no INCR replied %d", v)
		}
	}
	if v := getInt(t, rdb, "hot"); v != workers*each {
		t.Fatalf("GET hot: %d, want %d", v, workers*each)
	}
}

// TestSpreadCounter: with --spread 3 a hot counter takes writes on several
// shards at once, and GET still sums to every increment.
func TestSpreadCounter(t *testing.T) {
	ctx := context.Background()
	c := startCluster(t, clusterOpts{coordArgs: []string{"--spread", "3"}})
	const workers, each = 20, 50
	rdb := newClient(t, &redis.Options{Addr: c.addr, PoolSize: workers})
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				v, err := rdb.IncrBy(ctx, "split", 2).Result()
				if err != nil {
					t.Errorf("INCRBY split: %v", err)
					return
				}
				if v < 2 || v > 2*workers*each {
					t.Errorf("INCRBY split replied %d, outside 2..%d", v, 2*workers*each)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if v := getInt(t, rdb, "split"); v != 2*workers*each {
		t.Fatalf("GET split: %d, want %d", v, 2*workers*each)
	}
	sv := shardValues(t, rdb, "split")
	used := 0
	for _, p := range sv {
		if p != 0 {
			used++
		}
	}
	if used < 2 || sv["s1"]+sv["s2"]+sv["s3"] != 2*workers*each {
		t.Fatalf("SHARDVALUES split: %v, want partials on several shards summing to %d", sv, 2*workers*each)
	}
}
