package coordinator

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestIncrGetShardValues(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3)
	c := tc.client
	if v, err := c.IncrBy(ctx, "global_likes", 5).Result(); err != nil || v != 5 {
		t.Fatalf("INCRBY: %d %v", v, err)
	}
	if v, err := c.Incr(ctx, "global_likes").Result(); err != nil || v != 6 {
		t.Fatalf("INCR: %d %v", v, err)
	}
	if v, err := c.DecrBy(ctx, "global_likes", 2).Result(); err != nil || v != 4 {
		t.Fatalf("DECRBY: %d %v", v, err)
	}
	if v, err := c.Get(ctx, "global_likes").Result(); err != nil || v != "4" {
		t.Fatalf("GET: %q %v", v, err)
	}
	if err := c.Get(ctx, "nope").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET missing: %v", err)
	}
	m, err := c.Do(ctx, "SHARDVALUES", "global_likes").Result()
	if err != nil {
		t.Fatal(err)
	}
	sv, ok := m.(map[any]any)
	if !ok || len(sv) != 3 {
		t.Fatalf("SHARDVALUES over RESP3: %#v", m)
	}
	var sum int64
	for _, v := range sv {
		sum += v.(int64)
	}
	if sum != 4 {
		t.Fatalf("SHARDVALUES sum %d, want 4: %v", sum, sv)
	}
	vals, err := c.MGet(ctx, "global_likes", "nope").Result()
	if err != nil || vals[0] != "4" || vals[1] != nil {
		t.Fatalf("MGET: %#v %v", vals, err)
	}
}

func TestConcurrentIncrsGetConsecutiveReplies(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3)
	const workers, each = 50, 40
	replies := make(chan int64, workers*each)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				v, err := tc.client.Incr(ctx, "hot").Result()
				if err != nil {
					t.Error(err)
					return
				}
				replies <- v
			}
		}()
	}
	wg.Wait()
	close(replies)
	seen := map[int64]bool{}
	for v := range replies {
		if seen[v] {
			t.Fatalf("reply %d given twice", v)
		}
		seen[v] = true
	}
	for i := int64(1); i <= workers*each; i++ {
		if !seen[i] {
			t.Fatalf("reply %d missing", i)
		}
	}
}

func TestPipelineKeepsOrder(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3)
	p := tc.client.Pipeline()
	var incrs []*redis.IntCmd
	for i := 0; i < 100; i++ {
		incrs = append(incrs, p.Incr(ctx, "p"))
	}
	get := p.Get(ctx, "p")
	set := p.Set(ctx, "p", 1000, 0)
	after := p.Incr(ctx, "p")
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for i, c := range incrs {
		if c.Val() != int64(i+1) {
			t.Fatalf("pipelined INCR %d replied %d", i, c.Val())
		}
	}
	if get.Val() != "100" || set.Val() != "OK" || after.Val() != 1001 {
		t.Fatalf("GET %q SET %q INCR %d", get.Val(), set.Val(), after.Val())
	}
}

func TestFailoverAndDownShardErrors(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3)
	c := tc.client
	key := "failover-key"
	owner := tc.coord.ring.Owner([]byte(key))
	if err := c.IncrBy(ctx, key, 10).Err(); err != nil {
		t.Fatal(err)
	}
	tc.stopShard(owner)
	tc.waitShard(owner, false)
	// Writes go to the next shard.
	for i := 0; i < 5; i++ {
		if err := c.Incr(ctx, key).Err(); err != nil {
			t.Fatalf("write during failover: %v", err)
		}
	}
	// Reads refuse to give a partial sum, and name the shard.
	err := c.Get(ctx, key).Err()
	if err == nil || !strings.Contains(err.Error(), tc.addrs[owner].ID) {
		t.Fatalf("GET with a shard down: %v", err)
	}
	tc.restartShard(owner)
	tc.waitShard(owner, true)
	if v, err := c.Get(ctx, key).Int64(); err != nil || v != 15 {
		t.Fatalf("GET after restart: %d %v", v, err)
	}
	// The counter is split now; INCR still replies with the exact total.
	if v, err := c.Incr(ctx, key).Result(); err != nil || v != 16 {
		t.Fatalf("INCR on a split counter: %d %v", v, err)
	}
}
