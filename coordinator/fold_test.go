package coordinator

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// shardPartial is what shard i answers SC.GET for key: its count, or
// [count, covered] once a fold covered other shards' partials.
func (tc *testCluster) shardPartial(i int, key string) any {
	tc.t.Helper()
	c := redis.NewClient(&redis.Options{Addr: tc.addrs[i].Addr})
	defer c.Close()
	v, err := c.Do(context.Background(), "SC.GET", tc.addrs[i].ID, key).Slice()
	if err != nil || len(v) != 1 {
		tc.t.Fatalf("SC.GET %s on %s: %v %v", key, tc.addrs[i].ID, v, err)
	}
	return v[0]
}

// waitPartial waits until shard i's SC.GET of key answers want.
func (tc *testCluster) waitPartial(i int, key string, want any) {
	tc.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := tc.shardPartial(i, key)
		if reflect.DeepEqual(got, want) {
			return
		}
		if time.Now().After(deadline) {
			tc.t.Fatalf("shard %s holds %#v of %s, want %#v", tc.addrs[i].ID, got, key, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A counter that took writes on another shard while its owner was down is
// folded once the owner is back: the owner covers the other partial, and a
// coordinator that never saw the failover (here a second one) replies to
// INCRBY with the exact total, not with the owner's partial alone. GET and
// SHARDVALUES keep adding up every shard's own partial. A fold is found by
// a write through the coordinator that knew, and by any read.
func TestFoldMakesIncrRepliesExactAgain(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3)
	key := "folded"
	owner := tc.coord.ring.Owner([]byte(key))
	next := tc.coord.ring.Prefs([]byte(key))[1]
	if err := tc.client.IncrBy(ctx, key, 10).Err(); err != nil {
		t.Fatal(err)
	}

	outage := func(writes int, from int64) {
		t.Helper()
		tc.stopShard(owner)
		tc.waitShard(owner, false)
		for i := range writes {
			if v, err := tc.client.Incr(ctx, key).Result(); err != nil || v != from+int64(i)+1 {
				t.Fatalf("failover write %d: %d %v, want %d", i, v, err, from+int64(i)+1)
			}
		}
		tc.restartShard(owner)
		tc.waitShard(owner, true)
	}
	outage(3, 10)
	if got := tc.shardPartial(next, key); got != int64(3) {
		t.Fatalf("the failover writes: %s holds %#v, want 3", tc.addrs[next].ID, got)
	}

	// The first write to the owner after it is back queues the fold.
	if v, err := tc.client.Incr(ctx, key).Result(); err != nil || v != 14 {
		t.Fatalf("first write after the outage: %d %v, want 14", v, err)
	}
	tc.waitPartial(owner, key, []any{int64(11), int64(3)})

	other := newTestCluster(t, 0, func(c *Config) { c.Shards = tc.addrs })
	if v, err := other.client.Incr(ctx, key).Result(); err != nil || v != 15 {
		t.Fatalf("INCR through a coordinator that never saw the failover: %d %v, want 15", v, err)
	}
	if v, err := tc.client.Get(ctx, key).Int64(); err != nil || v != 15 {
		t.Fatalf("GET: %d %v, want 15", v, err)
	}
	vals, err := tc.client.Do(ctx, "SHARDVALUES", key).Result()
	want := map[any]any{tc.addrs[0].ID: int64(0), tc.addrs[1].ID: int64(0), tc.addrs[2].ID: int64(0)}
	want[tc.addrs[owner].ID], want[tc.addrs[next].ID] = int64(12), int64(3)
	if err != nil || !reflect.DeepEqual(vals, want) {
		t.Fatalf("SHARDVALUES: %v %v, want %v", vals, err, want)
	}
	// That GET found the counter covered: this coordinator no longer
	// counts it split.
	if tc.coord.router.split.Contains(key) {
		t.Fatal("the counter is still split after a read found it covered")
	}

	// A second outage; this time a read through the coordinator that did
	// not see it finds the new partials and folds them.
	outage(2, 15)
	other.waitShard(owner, true)
	if v, err := other.client.Get(ctx, key).Int64(); err != nil || v != 17 {
		t.Fatalf("GET after the second outage: %d %v, want 17", v, err)
	}
	tc.waitPartial(owner, key, []any{int64(12), int64(5)})
	third := newTestCluster(t, 0, func(c *Config) { c.Shards = tc.addrs })
	if v, err := third.client.IncrBy(ctx, key, 3).Result(); err != nil || v != 20 {
		t.Fatalf("INCRBY through a new coordinator after the second fold: %d %v, want 20", v, err)
	}

	// SET resets every shard: nothing is covered any more.
	if err := tc.client.Set(ctx, key, 7, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got := tc.shardPartial(owner, key); got != int64(7) {
		t.Fatalf("after SET the owner holds %#v, want 7", got)
	}
	if v, err := third.client.Incr(ctx, key).Result(); err != nil || v != 8 {
		t.Fatalf("INCR after SET: %d %v, want 8", v, err)
	}
}
