package integration

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDownShard: with a shard killed, reads refuse to give a partial sum and
// name the shard, writes for its keys go to the next shard, and after a
// restart GET has every acknowledged increment.
func TestDownShard(t *testing.T) {
	ctx := context.Background()
	c := startCluster(t, clusterOpts{coordArgs: []string{"--shard-timeout", "300ms", "--write-timeout", "1s"}})
	rdb := c.client()
	const down = "s2"
	key := keyOn(t, rdb, down, "owned-by-s2") // holds 1
	other := keyOn(t, rdb, "s1", "owned-by-s1")
	if err := rdb.IncrBy(ctx, key, 9).Err(); err != nil {
		t.Fatal(err)
	}
	want := int64(10)

	c.killShard(c.shardIndex(down))
	// A write sent in the instant before the coordinator reads the closed
	// connection cannot be told from one the shard applied before dying: it
	// is rightly ambiguous (UNKNOWN). Give the coordinator that instant.
	time.Sleep(50 * time.Millisecond)

	// Writes for the down shard's key fail over to the next shard. With
	// spread 1 an INCR reply is the counter's value: the coordinator saw
	// the owner's partial (10) in the last reply, so the replies go on
	// from there and never repeat one already given (1 and 10 were).
	var replies []int64
	for i := 0; i < 20; i++ {
		v, err := rdb.Incr(ctx, key).Result()
		if err != nil {
			t.Fatalf("INCR %d of a key owned by the killed shard: %v", i, err)
		}
		want++
		replies = append(replies, v)
	}
	if replies[0] <= 10 {
		t.Errorf("INCR replies during failover: %v; want them to continue from the last reply (10): 11..30", replies)
	}
	if err := rdb.Incr(ctx, other).Err(); err != nil {
		t.Fatalf("INCR of a key owned by a live shard: %v", err)
	}

	// Reads fail, name the shard, and never give a partial sum.
	for _, k := range []string{key, other} {
		v, err := rdb.Get(ctx, k).Result()
		if err == nil {
			t.Fatalf("GET %s with shard %s down answered %q, want an error", k, down, v)
		}
		if !strings.Contains(err.Error(), down) {
			t.Fatalf("GET %s with shard %s down: %q does not name the shard", k, down, err)
		}
	}
	if v, err := rdb.MGet(ctx, key, other).Result(); err == nil || !strings.Contains(err.Error(), down) {
		t.Fatalf("MGET with shard %s down: %v, %v; want an error naming it", down, v, err)
	}

	// HTTP: GET_TOTAL is 503, /health is 503 and names the shard.
	code, r := c.sharded(`{"counterId":"`+key+`","operationType":"GET_TOTAL"}`, "")
	if code != http.StatusServiceUnavailable || r.Success || r.TotalValue != nil {
		t.Fatalf("GET_TOTAL with a shard down: %d %+v, want 503 without a total", code, r)
	}
	code, body := c.httpDo("GET", "/health", "", "")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"`+down+`"`) {
		t.Fatalf("/health with %s down: %d %s; want 503 naming %s", down, code, body, down)
	}
	for _, id := range []string{"s1", "s3"} {
		if strings.Contains(body, `"down: `+id) {
			t.Fatalf("/health names live shard %s as down: %s", id, body)
		}
	}
	_, metrics := c.httpDo("GET", "/metrics", "", "")
	if !strings.Contains(metrics, "shardcounter_shard_errors_total") {
		t.Fatalf("/metrics lacks shardcounter_shard_errors_total after shard errors:\n%s", metrics)
	}

	// Back up: GET has the full total; the split counter still replies with
	// the exact total.
	c.startShard(c.shardIndex(down))
	c.waitHealthy()
	if v := waitGet(t, rdb, key); v != want {
		t.Fatalf("GET after the restart: %d, want %d (every acknowledged increment)", v, want)
	}
	sv := shardValues(t, rdb, key)
	// Strays may have been folded back into the owner already.
	if sv[down] < 10 || sv["s1"]+sv["s2"]+sv["s3"] != want {
		t.Fatalf("SHARDVALUES after failover: %v, want %s >= 10 and a sum of %d", sv, down, want)
	}
	if v, err := rdb.Incr(ctx, key).Result(); err != nil || v != want+1 {
		t.Fatalf("INCR of the split counter: %d, %v; want the exact total %d", v, err, want+1)
	}
	code, r = c.sharded(`{"counterId":"`+key+`","operationType":"GET_TOTAL"}`, "")
	if code != http.StatusOK || r.TotalValue == nil || *r.TotalValue != want+1 {
		t.Fatalf("GET_TOTAL after the restart: %d %+v, want %d", code, r, want+1)
	}
}

// TestDownShardAtCoordinatorStart: a coordinator started while a shard is
// down serves writes, refuses reads, and picks the shard up when it comes.
func TestDownShardAtCoordinatorStart(t *testing.T) {
	ctx := context.Background()
	c := startCluster(t, clusterOpts{coordArgs: []string{"--shard-timeout", "300ms", "--write-timeout", "1s"}})
	c.killCoordinator()
	c.killShard(2)
	c.startCoordinator()
	rdb := c.client()
	for i := 0; i < 30; i++ {
		if err := rdb.Incr(ctx, "k"+string(rune('a'+i%26))).Err(); err != nil {
			t.Fatalf("INCR with s3 down since start: %v", err)
		}
	}
	if err := rdb.Get(ctx, "ka").Err(); err == nil || !strings.Contains(err.Error(), "s3") {
		t.Fatalf("GET with s3 down: %v, want an error naming s3", err)
	}
	c.startShard(2)
	c.waitHealthy()
	if v := waitGet(t, rdb, "ka"); v != 2 {
		t.Fatalf("GET ka: %d, want 2", v)
	}
}

// TestWrongShardID: a coordinator whose --shards points s1 at s2's process
// and s2 at s1's refuses to start, naming the ids.
func TestWrongShardID(t *testing.T) {
	dir := t.TempDir()
	a1, a2 := freeAddr(t), freeAddr(t)
	s1 := startProc(t, "shard s1", "shard", "--id", "s1", "--listen", a1, "--data", dir+"/s1")
	s2 := startProc(t, "shard s2", "shard", "--id", "s2", "--listen", a2, "--data", dir+"/s2")
	waitReady(t, s1, a1)
	waitReady(t, s2, a2)

	coord := startProc(t, "coordinator", "coordinator", "--listen", freeAddr(t), "--http", freeAddr(t),
		"--shards", "s1="+a2+",s2="+a1, "--shard-timeout", "300ms", "--write-timeout", "1s")
	code := coord.wait(t, 15*time.Second)
	stderr := coord.stderr.String()
	if code == 0 {
		t.Fatalf("coordinator with swapped shard ids exited 0; stderr:\n%s", stderr)
	}
	named := false
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, "s1") && strings.Contains(l, "s2") && strings.Contains(strings.ToLower(l), "shard") {
			named = true
		}
	}
	if !named {
		t.Fatalf("coordinator with swapped shard ids: no error line names both ids:\n%s", stderr)
	}

	// The shards are unharmed and keep their own ids.
	coord2Addr := freeAddr(t)
	coord2 := startProc(t, "coordinator", "coordinator", "--listen", coord2Addr, "--http", freeAddr(t),
		"--shards", "s1="+a1+",s2="+a2)
	waitReady(t, coord2, coord2Addr)
}

// TestWrongShardIDAfterStart: a shard restarted on another's address while
// the coordinator runs is not taken for the other: reads fail naming the
// shard rather than summing the wrong partials.
func TestWrongShardIDAfterStart(t *testing.T) {
	ctx := context.Background()
	c := startCluster(t, clusterOpts{shards: 2, coordArgs: []string{"--shard-timeout", "300ms", "--write-timeout", "1s"}})
	rdb := c.client()
	if err := rdb.IncrBy(ctx, "x", 5).Err(); err != nil {
		t.Fatal(err)
	}
	// Replace s2 by a process that says it is s1 (on a fresh data dir).
	c.killShard(1)
	impostor := startProc(t, "impostor", "shard", "--id", "s1", "--listen", c.shards[1].addr, "--data", t.TempDir())
	waitReady(t, impostor, c.shards[1].addr)
	time.Sleep(500 * time.Millisecond) // some probe rounds
	v, err := rdb.Get(ctx, "x").Result()
	if err == nil {
		t.Fatalf("GET with an impostor in s2's place answered %q, want an error", v)
	}
	if !strings.Contains(err.Error(), "s2") {
		t.Fatalf("GET with an impostor in s2's place: %q does not name s2", err)
	}
}
