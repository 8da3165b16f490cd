package coordinator

import (
	"context"
	"testing"
	"time"
)

// A write right after its owner stops, before any probe noticed, is not
// lost: the refused dial proves it was not sent, so it goes to the next
// shard.
func TestWriteRightAfterShardStops(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3, func(c *Config) { c.ProbeInterval = time.Hour })
	key := "k-after-stop"
	owner := tc.coord.ring.Owner([]byte(key))
	if err := tc.client.Incr(ctx, key).Err(); err != nil {
		t.Fatal(err)
	}
	tc.stopShard(owner)
	for i := 0; i < 3; i++ {
		if err := tc.client.Incr(ctx, key).Err(); err != nil {
			t.Fatalf("write %d after the owner stopped: %v", i, err)
		}
	}
	if tc.coord.shards[owner].up.Load() {
		t.Fatal("breaker still closed after a refused connection")
	}
	tc.restartShard(owner)
	tc.coord.shards[owner].probe(ctx)
	if v, err := tc.client.Get(ctx, key).Int64(); err != nil || v != 4 {
		t.Fatalf("GET after restart: %d %v", v, err)
	}
}
