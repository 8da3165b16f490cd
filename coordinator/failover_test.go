package coordinator

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// A write for a shard that has stopped goes to the next shard, also right
// after the stop, before any probe ran: the coordinator sees the closed
// connection, and the refused dial that follows proves the write was not
// sent. The total is exact once the shard is back.
func TestWriteForDownShardFailsOver(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3, func(c *Config) { c.ProbeInterval = time.Hour })
	key := "k-after-stop"
	owner := tc.coord.ring.Owner([]byte(key))
	if err := tc.client.IncrBy(ctx, key, 10).Err(); err != nil {
		t.Fatal(err)
	}
	tc.stopShard(owner)
	// Only a write sent in the instant before the coordinator reads the
	// close is ambiguous (it cannot be told from one applied before a
	// crash); give it that instant.
	time.Sleep(20 * time.Millisecond)
	for i := 0; i < 3; i++ {
		v, err := tc.client.Incr(ctx, key).Result()
		if err != nil {
			t.Fatalf("write %d after the owner stopped: %v", i, err)
		}
		// The coordinator saw the owner's partial (10) before it went
		// down, so the replies go on from there.
		if want := int64(11 + i); v != want {
			t.Fatalf("write %d replied %d, want %d", i, v, want)
		}
	}
	tc.restartShard(owner)
	tc.coord.probe(ctx, tc.coord.shards[owner])
	if v, err := tc.client.Get(ctx, key).Int64(); err != nil || v != 13 {
		t.Fatalf("GET after restart: %d %v", v, err)
	}
}

// A counter written faster than HotThreshold is split over HotSpread
// shards, and its total stays exact.
func TestHotCounterSplits(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3, func(c *Config) { c.HotThreshold = 200 })
	key := "viral"
	var sent int64
	deadline := time.Now().Add(10 * time.Second)
	for {
		p := tc.client.Pipeline()
		for i := 0; i < 100; i++ {
			p.Incr(ctx, key)
		}
		if _, err := p.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		sent += 100
		vals, err := tc.client.Do(ctx, "SHARDVALUES", key).Result()
		if err != nil {
			t.Fatal(err)
		}
		holders := 0
		for _, v := range vals.(map[any]any) {
			if v.(int64) != 0 {
				holders++
			}
		}
		if holders > 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a counter written at well over 200/s never split: %v", vals)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if v, err := tc.client.Get(ctx, key).Int64(); err != nil || v != sent {
		t.Fatalf("GET of the split counter: %d %v, want %d", v, err, sent)
	}
	if v, err := tc.client.Incr(ctx, key).Result(); err != nil || v != sent+1 {
		t.Fatalf("INCR of the split counter from its only coordinator: %d %v, want %d", v, err, sent+1)
	}
}

// With spread 3 and one shard down, every write still finds an up shard:
// the preference list wraps around from wherever a write starts.
func TestSpreadWritesWrapAroundADownShard(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3, func(c *Config) { c.Spread = 3 })
	tc.stopShard(1)
	tc.waitShard(1, false)
	for i := 0; i < 30; i++ {
		if err := tc.client.Incr(ctx, "spread-key").Err(); err != nil {
			t.Fatalf("write %d with one of three shards down: %v", i, err)
		}
	}
	tc.restartShard(1)
	tc.waitShard(1, true)
	if v, err := tc.client.Get(ctx, "spread-key").Int64(); err != nil || v != 30 {
		t.Fatalf("GET: %d %v, want 30", v, err)
	}
}

// A breaker opened by a transport error (the shard closed the connection:
// CLIENT KILL, an idle timeout, a reset) is probed again at once, not at
// the next ProbeInterval (an hour here): a shard that answers is back
// within a round trip, and the writes for its keys go to it again rather
// than to the next shard.
func TestShardProbedAtOnceWhenItsBreakerOpens(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3, func(c *Config) { c.ProbeInterval = time.Hour })
	key := "k-after-reset"
	owner := tc.coord.ring.Owner([]byte(key))
	sc := tc.coord.shards[owner]
	sc.markDown(errors.New("read: connection reset by peer"))
	deadline := time.Now().Add(2 * time.Second)
	for !sc.up.Load() {
		if time.Now().After(deadline) {
			t.Fatalf("shard %s still down 2 s after its breaker opened: %s", sc.id, sc.status().Err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := tc.client.Incr(ctx, key).Err(); err != nil {
		t.Fatal(err)
	}
	shardClient := redis.NewClient(&redis.Options{Addr: tc.addrs[owner].Addr})
	defer shardClient.Close()
	if v, err := shardClient.Do(ctx, "SC.GET", sc.id, key).Slice(); err != nil || len(v) != 1 || v[0] != int64(1) {
		t.Fatalf("the owner's partial after the INCR: %v, %v; want [1]: the write went elsewhere", v, err)
	}
}

// A coordinator connects to its shards, and then checks them, all at once:
// two hung shards cost it two shard timeouts (about 2 s here), one to dial
// and one to probe, not two for each of them and a membership check besides
// (5 s, when it took them one after another).
func TestStartWaitsForHungShardsOnce(t *testing.T) {
	back := newTestCluster(t, 3)
	shards := append([]ShardAddr(nil), back.addrs...)
	for i := range 2 {
		fz := newFreezer(t, back.addrs[i].Addr)
		fz.frozen.Store(true)
		t.Cleanup(func() { fz.frozen.Store(false) })
		shards[i].Addr = fz.ln.Addr().String()
	}
	start := time.Now()
	tc := newTestCluster(t, 0, func(c *Config) {
		c.Shards = shards
		c.ShardTimeout = time.Second
		c.ProbeInterval = time.Hour
	})
	took := time.Since(start)
	t.Logf("New and Start took %s", took)
	if took > 3500*time.Millisecond {
		t.Errorf("New and Start took %s with two hung shards and a 1s shard timeout", took)
	}
	if tc.coord.shards[0].up.Load() || tc.coord.shards[1].up.Load() || !tc.coord.shards[2].up.Load() {
		t.Fatalf("up after start: %v %v %v, want the two hung shards down and s3 up",
			tc.coord.shards[0].up.Load(), tc.coord.shards[1].up.Load(), tc.coord.shards[2].up.Load())
	}
	if err := tc.client.Incr(context.Background(), "k").Err(); err != nil {
		t.Fatalf("INCR with s3 up: %v", err)
	}
}
