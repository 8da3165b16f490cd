package coordinator

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardcounter/shardcounter/resp"
)

// A shard restarted under its id on an empty data directory is kept out:
// reads fail naming it instead of summing without its partials, writes go
// to the next shard, a coordinator started afterwards refuses it too (the
// other shards recorded the old directory), and SHARDACCEPT admits it, on
// every coordinator.
func TestReplacedDataDirectoryIsRefused(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3)
	const victim = 1
	key := ""
	for i := 0; key == ""; i++ {
		if k := "likes:" + string(rune('a'+i)); tc.coord.ring.Owner([]byte(k)) == victim {
			key = k
		}
	}
	if err := tc.client.IncrBy(ctx, key, 5).Err(); err != nil {
		t.Fatal(err)
	}

	tc.stopShard(victim)
	tc.waitShard(victim, false)
	tc.shards[victim] = startShardAt(t, tc.addrs[victim].ID, t.TempDir(), tc.addrs[victim].Addr)
	// Its probes find it answering; it must stay down, for the right reason.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.HasPrefix(tc.coord.shards[victim].status().Err, resp.ErrShardReplaced.Error()) {
		if time.Now().After(deadline) {
			t.Fatalf("s2 on a new directory: %+v; want it down as replaced", tc.coord.shards[victim].status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(5 * tc.coord.cfg.ProbeInterval)
	if tc.coord.shards[victim].up.Load() {
		t.Fatal("the coordinator re-admitted a shard whose data directory was replaced")
	}
	replacedErr := func(c *redis.Client) {
		t.Helper()
		_, err := c.Get(ctx, key).Result()
		if err == nil || !strings.HasPrefix(err.Error(), "SHARDDOWN ") || !strings.Contains(err.Error(), "data directory replaced: shard s2 answers from data directory") ||
			!strings.Contains(err.Error(), "SHARDACCEPT s2") {
			t.Fatalf("GET with s2 replaced: %v; want SHARDDOWN naming s2 as replaced", err)
		}
	}
	replacedErr(tc.client)
	// Writes still go on, to the next shard.
	if v, err := tc.client.IncrBy(ctx, key, 2).Result(); err != nil {
		t.Fatalf("INCRBY with its owner replaced: %v, %v", v, err)
	}

	// A coordinator that never saw the old directory learns it from the
	// other shards.
	cfg := tc.coord.cfg
	cfg.Listen, cfg.HTTP = "127.0.0.1:0", ""
	c2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Start(); err != nil {
		t.Fatal(err)
	}
	defer c2.Shutdown(ctx)
	client2 := redis.NewClient(&redis.Options{Addr: c2.Addr().String()})
	defer client2.Close()
	if c2.shards[victim].up.Load() {
		t.Fatal("a new coordinator admitted the replaced shard")
	}
	if st := c2.shards[victim].status(); !strings.HasPrefix(st.Err, resp.ErrShardReplaced.Error()+": shard s2") {
		t.Fatalf("new coordinator's reason for s2 being down: %q", st.Err)
	}
	replacedErr(client2)

	// The operator accepts the loss: both coordinators admit it, and the
	// counter holds what was written since.
	if err := tc.client.Do(ctx, "SHARDACCEPT", "s2").Err(); err != nil {
		t.Fatalf("SHARDACCEPT: %v", err)
	}
	tc.waitShard(victim, true)
	deadline = time.Now().Add(5 * time.Second)
	for !c2.shards[victim].up.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the second coordinator never admitted s2 after SHARDACCEPT")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, c := range []*redis.Client{tc.client, client2} {
		if v, err := c.Get(ctx, key).Int64(); err != nil || v != 2 {
			t.Fatalf("GET after SHARDACCEPT: %d, %v; want 2 (the 5 were on the lost directory)", v, err)
		}
	}
	if err := tc.client.Do(ctx, "SHARDACCEPT", "s9").Err(); err == nil || !strings.Contains(err.Error(), `no shard "s9"`) {
		t.Fatalf("SHARDACCEPT of an unknown id: %v", err)
	}
}

// A shard that restarts with its own data directory is admitted again, and
// every shard ends up recording every other.
func TestRestartWithTheSameDirectoryIsAdmitted(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3)
	for _, sc := range tc.coord.shards {
		m, err := sc.members(ctx, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.peers) != 2 {
			t.Fatalf("shard %s records %v, want its 2 peers", sc.id, m.peers)
		}
		if inc, ok, _ := sc.admission(); !ok || inc != m.own || sc.name() != sc.id+"@"+m.own {
			t.Fatalf("shard %s: admitted %v with %q, named %q; it answers from %s", sc.id, ok, inc, sc.name(), m.own)
		}
	}
	if err := tc.client.IncrBy(ctx, "k", 3).Err(); err != nil {
		t.Fatal(err)
	}
	for i := range tc.shards {
		tc.stopShard(i)
		tc.waitShard(i, false)
		tc.restartShard(i)
		tc.waitShard(i, true)
	}
	if v, err := tc.client.Get(ctx, "k").Int64(); err != nil || v != 3 {
		t.Fatalf("GET after restarts: %d, %v", v, err)
	}
}

// In a one-shard cluster no peer records the shard: the coordinator's own
// memory of the directory it admitted refuses a replaced one, and
// SHARDACCEPT clears that memory too.
func TestReplacedOnlyShardIsRefusedAndAccepted(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 1)
	if err := tc.client.IncrBy(ctx, "k", 5).Err(); err != nil {
		t.Fatal(err)
	}
	tc.stopShard(0)
	tc.waitShard(0, false)
	tc.shards[0] = startShardAt(t, tc.addrs[0].ID, t.TempDir(), tc.addrs[0].Addr)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.HasPrefix(tc.coord.shards[0].status().Err, resp.ErrShardReplaced.Error()) {
		if time.Now().After(deadline) {
			t.Fatalf("s1 on a new directory: %+v; want it down as replaced", tc.coord.shards[0].status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := tc.client.Do(ctx, "SHARDACCEPT", "s1").Err(); err != nil {
		t.Fatalf("SHARDACCEPT: %v", err)
	}
	if !tc.coord.shards[0].up.Load() {
		t.Fatalf("SHARDACCEPT answered OK, and s1 is down: %+v", tc.coord.shards[0].status())
	}
	if v, err := tc.client.Get(ctx, "k").Result(); err != redis.Nil {
		t.Fatalf("GET k after accepting an empty directory: %q, %v; want nil", v, err)
	}
}

// A membership check whose caller gave up (a /health request that went
// away) learns nothing: it marks no shard down.
func TestAbandonedCheckKeepsShardsUp(t *testing.T) {
	tc := newTestCluster(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	// Hold the check, so that the probes below wait for it and find their
	// context ended when they get it.
	tc.coord.membersMu.Lock()
	sc := tc.coord.shards[0]
	sc.mu.Lock()
	sc.admitted = false // as if not checked yet: its probe runs a check
	sc.mu.Unlock()
	done := make(chan struct{})
	go func() {
		tc.coord.probe(ctx, sc)
		close(done)
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	tc.coord.membersMu.Unlock()
	<-done
	for i, sc := range tc.coord.shards[1:] {
		if st := sc.status(); !st.Up {
			t.Fatalf("shard %d down after an abandoned check: %s", i+1, st.Err)
		}
	}
	// The members call itself, cancelled, does not open the breaker either.
	if _, err := tc.coord.shards[1].members(ctx, "", nil); !errors.Is(err, errGaveUp) {
		t.Fatalf("members with an ended context: %v, want errGaveUp", err)
	}
	if st := tc.coord.shards[1].status(); !st.Up {
		t.Fatalf("shard down after a cancelled SC.MEMBERS: %s", st.Err)
	}
}
