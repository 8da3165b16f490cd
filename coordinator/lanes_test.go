package coordinator

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Increments of many keys that queue while a round to their shard is in
// flight go out together as the next round: one WriteBatch on the shard
// (one fsync with --sync), not one per key or per group of keys.
func TestQueuedIncrementsShareOneRound(t *testing.T) {
	back := newTestCluster(t, 1)
	fz := newFreezer(t, back.addrs[0].Addr)
	tc := newTestCluster(t, 0, func(c *Config) {
		c.Shards = []ShardAddr{{ID: back.addrs[0].ID, Addr: fz.ln.Addr().String()}}
		c.ShardTimeout = 5 * time.Second
		c.WriteTimeout = 10 * time.Second
	})
	tc.waitShard(0, true)
	ctx := context.Background()
	sh := back.shards[0]
	before := sh.Stats().Batches

	fz.frozen.Store(true)
	first := make(chan error, 1)
	go func() { first <- tc.client.Incr(ctx, "first").Err() }()
	time.Sleep(200 * time.Millisecond) // its round is now held by the freezer
	const keys = 64
	done := make(chan error, 1)
	go func() {
		p := tc.newClient(redis.Options{}).Pipeline()
		for i := range keys {
			p.IncrBy(ctx, fmt.Sprintf("k%d", i), int64(i+1))
		}
		_, err := p.Exec(ctx)
		done <- err
	}()
	time.Sleep(300 * time.Millisecond) // every one of them queued
	fz.frozen.Store(false)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Two batches: the held round, then everything queued behind it. (One
	// if the first increment was slow to leave and went out with the rest.)
	if got := sh.Stats().Batches - before; got < 1 || got > 2 {
		t.Errorf("the shard wrote %d batches for the held round and the %d increments queued behind it, want 2", got, keys)
	}
	for i := range keys {
		if v, err := tc.client.Get(ctx, fmt.Sprintf("k%d", i)).Int64(); err != nil || v != int64(i+1) {
			t.Fatalf("k%d = %d, %v; want %d", i, v, err, i+1)
		}
	}
}
