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

// foldCluster starts three shards and a coordinator, and increments key
// by 10. prefs is key's preference list, owner first.
func foldCluster(t *testing.T, key string) (tc *testCluster, prefs []int) {
	t.Helper()
	tc = newTestCluster(t, 3)
	if err := tc.client.IncrBy(context.Background(), key, 10).Err(); err != nil {
		t.Fatal(err)
	}
	return tc, tc.coord.ring.Prefs([]byte(key))
}

// outage stops shard i, sends writes increments of key through tc (each
// must answer from+1, from+2, ...: tc saw the owner's partial), and brings
// the shard back.
func (tc *testCluster) outage(i int, key string, writes int, from int64) {
	tc.t.Helper()
	tc.stopShard(i)
	tc.waitShard(i, false)
	for n := range writes {
		if v, err := tc.client.Incr(context.Background(), key).Result(); err != nil || v != from+int64(n)+1 {
			tc.t.Fatalf("failover write %d: %d %v, want %d", n, v, err, from+int64(n)+1)
		}
	}
	tc.restartShard(i)
	tc.waitShard(i, true)
}

// A counter that took writes on another shard while its owner was down is
// folded once the owner is back, without waiting for a command: the owner
// covers the other partial, and a coordinator that never saw the failover
// (here a second one) replies to INCRBY with the exact total, not with the
// owner's partial alone. GET and SHARDVALUES keep adding up every shard's
// own partial, and SET clears what the owner covers.
func TestFoldAfterAnOutage(t *testing.T) {
	ctx := context.Background()
	key := "folded"
	tc, prefs := foldCluster(t, key)
	owner, next := prefs[0], prefs[1]
	tc.outage(owner, key, 3, 10)
	tc.waitPartial(owner, key, []any{int64(10), int64(3)})
	if got := tc.shardPartial(next, key); got != int64(3) {
		t.Fatalf("%s holds %#v, want the 3 failover writes", tc.addrs[next].ID, got)
	}

	other := newTestCluster(t, 0, func(c *Config) { c.Shards = tc.addrs })
	if v, err := other.client.Incr(ctx, key).Result(); err != nil || v != 14 {
		t.Fatalf("INCR through a coordinator that never saw the failover: %d %v, want 14", v, err)
	}
	if v, err := tc.client.Incr(ctx, key).Result(); err != nil || v != 15 {
		t.Fatalf("INCR through the coordinator that saw it: %d %v, want 15", v, err)
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
	// That read found the counter covered: the coordinator answers
	// writes to the owner from the owner's reply, but remembers where the
	// other partials are.
	if st, ok := tc.coord.router.split.Peek(key); !ok || !st.folded.Load() {
		t.Fatal("the counter is not marked folded after a read found it covered")
	}
	if v, err := tc.client.Incr(ctx, key).Result(); err != nil || v != 16 {
		t.Fatalf("INCR of the folded counter: %d %v, want 16", v, err)
	}
	// A write in flight when the counter left the split cache (here it is
	// dropped, as eviction would) is answered from the owner's reply.
	tc.coord.router.split.Remove(key)
	if v, err := tc.client.Incr(ctx, key).Result(); err != nil || v != 17 {
		t.Fatalf("INCR after the split state was dropped: %d %v, want 17", v, err)
	}
	if v, err := tc.client.Get(ctx, key).Int64(); err != nil || v != 17 {
		t.Fatalf("GET: %d %v, want 17", v, err)
	}

	// Another outage, of the owner and of the shard that took the first
	// failover writes: the writes go to the third shard, and the replies
	// still count the partials on the other two.
	third := prefs[2]
	tc.stopShard(next)
	tc.waitShard(next, false)
	tc.outage(owner, key, 2, 17)
	tc.restartShard(next)
	tc.waitShard(next, true)
	if got := tc.shardPartial(third, key); got != int64(2) {
		t.Fatalf("%s holds %#v, want the 2 writes of the second outage", tc.addrs[third].ID, got)
	}
	tc.waitPartial(owner, key, []any{int64(14), int64(5)})
	if v, err := other.client.Incr(ctx, key).Result(); err != nil || v != 20 {
		t.Fatalf("INCR through the other coordinator after the second fold: %d %v, want 20", v, err)
	}

	if err := tc.client.Set(ctx, key, 7, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got := tc.shardPartial(owner, key); got != int64(7) {
		t.Fatalf("after SET the owner holds %#v, want 7", got)
	}
	if v, err := other.client.Incr(ctx, key).Result(); err != nil || v != 8 {
		t.Fatalf("INCR after SET: %d %v, want 8", v, err)
	}
	if v, err := tc.client.Incr(ctx, key).Result(); err != nil || v != 9 {
		t.Fatalf("INCR after SET through the coordinator that folded: %d %v, want 9", v, err)
	}
}

// A read through a coordinator that did not see the failover writes (the
// one that made them is gone) finds the partials the owner does not cover
// and folds them.
func TestFoldOnRead(t *testing.T) {
	ctx := context.Background()
	key := "folded-on-read"
	tc, prefs := foldCluster(t, key)
	owner := prefs[0]
	writer := newTestCluster(t, 0, func(c *Config) { c.Shards = tc.addrs })
	tc.stopShard(owner)
	writer.waitShard(owner, false)
	for range 2 {
		if err := writer.client.Incr(ctx, key).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := writer.coord.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	tc.restartShard(owner)
	tc.waitShard(owner, true)
	if got := tc.shardPartial(owner, key); got != int64(10) {
		t.Fatalf("the owner holds %#v before any read, want 10", got)
	}
	if v, err := tc.client.Get(ctx, key).Int64(); err != nil || v != 12 {
		t.Fatalf("GET: %d %v, want 12", v, err)
	}
	tc.waitPartial(owner, key, []any{int64(10), int64(2)})
	fresh := newTestCluster(t, 0, func(c *Config) { c.Shards = tc.addrs })
	if v, err := fresh.client.IncrBy(ctx, key, 3).Result(); err != nil || v != 15 {
		t.Fatalf("INCRBY through a new coordinator after the fold: %d %v, want 15", v, err)
	}
}

// A fold that cannot read every shard when the owner comes back (another
// shard is down) is made once that shard is back too.
func TestFoldWaitsForEveryShard(t *testing.T) {
	ctx := context.Background()
	key := "folded-late"
	tc, prefs := foldCluster(t, key)
	owner, third := prefs[0], prefs[2]
	tc.stopShard(owner)
	tc.waitShard(owner, false)
	if err := tc.client.Incr(ctx, key).Err(); err != nil {
		t.Fatal(err)
	}
	tc.stopShard(third)
	tc.waitShard(third, false)
	tc.restartShard(owner)
	tc.waitShard(owner, true)
	time.Sleep(100 * time.Millisecond) // the fold tries, and cannot read third
	if got := tc.shardPartial(owner, key); got != int64(10) {
		t.Fatalf("the owner holds %#v, want 10: the fold ran with a shard down", got)
	}
	tc.restartShard(third)
	tc.waitShard(third, true)
	tc.waitPartial(owner, key, []any{int64(10), int64(1)})
	if v, err := tc.client.Incr(ctx, key).Result(); err != nil || v != 12 {
		t.Fatalf("INCR after the fold: %d %v, want 12", v, err)
	}
}

// A hot counter's writes spread over several shards, so it is not folded
// while it is hot; once it cools, its next write folds the other shards'
// partials into the owner (no shard came back to start a fold), and a new
// coordinator's INCR is exact.
func TestFoldWhenAHotCounterCools(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3, func(c *Config) { c.HotThreshold = 200 })
	key := "was-viral"
	owner := tc.coord.ring.Owner([]byte(key))
	var sent int64
	deadline := time.Now().Add(10 * time.Second)
	for !tc.coord.router.isHot([]byte(key)) {
		if time.Now().After(deadline) {
			t.Fatal("a counter written at well over 200/s never became hot")
		}
		p := tc.client.Pipeline()
		for range 100 {
			p.Incr(ctx, key)
		}
		if _, err := p.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		sent += 100
		time.Sleep(10 * time.Millisecond)
	}
	// Hot: its writes go to every shard.
	p := tc.client.Pipeline()
	for range 30 {
		p.Incr(ctx, key)
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	sent += 30
	deadline = time.Now().Add(15 * time.Second)
	for tc.coord.router.isHot([]byte(key)) {
		if time.Now().After(deadline) {
			t.Fatal("the counter is still hot 15 s after its writes stopped")
		}
		time.Sleep(100 * time.Millisecond)
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		v, err := tc.client.Incr(ctx, key).Result()
		sent++
		if err != nil || v != sent {
			t.Fatalf("INCR of the cooled counter: %d %v, want %d", v, err, sent)
		}
		if got, ok := tc.shardPartial(owner, key).([]any); ok && len(got) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cooled counter was not folded: the owner holds %#v", tc.shardPartial(owner, key))
		}
		time.Sleep(50 * time.Millisecond)
	}
	fresh := newTestCluster(t, 0, func(c *Config) { c.Shards = tc.addrs })
	if v, err := fresh.client.Incr(ctx, key).Result(); err != nil || v != sent+1 {
		t.Fatalf("INCR through a new coordinator: %d %v, want %d", v, err, sent+1)
	}
}
