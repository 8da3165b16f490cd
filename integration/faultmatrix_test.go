package integration

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestShardRefusesAnotherIDOnItsData: a shard restarted on its data
// directory with another --id refuses to start, naming both ids, and the
// directory still serves its own id afterwards.
func TestShardRefusesAnotherIDOnItsData(t *testing.T) {
	c := startCluster(t, clusterOpts{shards: 2, coordArgs: []string{"--shard-timeout", "300ms", "--write-timeout", "1s"}})
	rdb := c.client()
	key := keyOn(t, rdb, "s1", "own") // holds 1 on s1
	c.stopShard(0)
	s := c.shards[0]
	p := startProc(t, "shard s1 as s9", "shard", "--id", "s9", "--listen", s.addr, "--data", s.dir)
	if code := p.wait(t, exitTimeout); code == 0 {
		t.Fatalf("a shard started as s9 on s1's data directory exited 0")
	}
	if e := p.stderr.String(); !strings.Contains(e, "s1") || !strings.Contains(e, "s9") {
		t.Errorf("refusal does not name both ids:\n%s", e)
	}
	c.startShard(0)
	c.waitHealthy()
	if v := waitGet(t, rdb, key); v != 1 {
		t.Fatalf("GET %s after the refused start = %d, want 1", key, v)
	}
}

// TestShardOnAWipedDataDirectory: a shard killed, its data directory
// deleted and started again under its id. Reads fail naming it rather than
// sum without its partials, also through a coordinator restarted since;
// writes go on; SHARDACCEPT admits it, and the totals lose exactly what it
// held.
func TestShardOnAWipedDataDirectory(t *testing.T) {
	ctx := context.Background()
	c := startCluster(t, clusterOpts{coordArgs: []string{"--shard-timeout", "300ms", "--write-timeout", "1s"}})
	rdb := c.client()
	lost := keyOn(t, rdb, "s2", "lost") // holds 1, on s2
	kept := keyOn(t, rdb, "s1", "kept") // holds 1, on s1
	c.killShard(1)
	if err := os.RemoveAll(c.shards[1].dir); err != nil {
		t.Fatal(err)
	}
	c.startShard(1)
	c.killCoordinator()
	c.startCoordinator()
	rdb = c.client()
	deadline := time.Now().Add(pollTimeout)
	for {
		_, err := rdb.Get(ctx, kept).Result()
		if err != nil && strings.Contains(err.Error(), "data directory replaced: shard s2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET with s2 on a wiped directory: %v; want SHARDDOWN naming s2 as replaced", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body := c.httpDo("GET", "/health", "", ""); code != 503 || !strings.Contains(body, "data directory replaced") {
		t.Fatalf("/health with s2 replaced: %d %s", code, body)
	}
	if err := rdb.Incr(ctx, lost).Err(); err != nil {
		t.Fatalf("INCR with the owner replaced: %v", err)
	}
	if err := rdb.Do(ctx, "SHARDACCEPT", "s2").Err(); err != nil {
		t.Fatalf("SHARDACCEPT s2: %v", err)
	}
	if v := waitGet(t, rdb, lost); v != 1 {
		t.Fatalf("GET %s after SHARDACCEPT = %d, want 1: the 1 it held on s2 is lost, the failover increment counts", lost, v)
	}
	if v := getInt(t, rdb, kept); v != 1 {
		t.Fatalf("GET %s = %d, want 1", kept, v)
	}
}

// proxiedCluster is a cluster whose shard s1 is behind a faultProxy.
func proxiedCluster(t *testing.T, coordArgs ...string) (*cluster, *faultProxy) {
	var proxy *faultProxy
	c := startCluster(t, clusterOpts{
		coordArgs: coordArgs,
		front: func(i int, addr string) string {
			if i > 0 {
				return addr
			}
			proxy = newFaultProxy(t, addr)
			return proxy.addr
		},
	})
	return c, proxy
}

// TestBlackholedShard: a shard that keeps its connections but swallows
// every byte. Every client command ends within a bound with the right
// answer or a clear error: reads name the shard, writes fail over or end
// as UNKNOWN. Once it answers again, every acknowledged increment is there
// and none twice.
func TestBlackholedShard(t *testing.T) {
	const (
		shardTimeout = 300 * time.Millisecond
		writeTimeout = time.Second
		bound        = writeTimeout + 2*shardTimeout + 2*time.Second // generous: a hang is unbounded
	)
	c, proxy := proxiedCluster(t, "--shard-timeout", shardTimeout.String(), "--write-timeout", writeTimeout.String())
	g := newLoadGen(t, c.addr, "", "bh", 30, 16)
	g.start(16)
	time.Sleep(400 * time.Millisecond)
	proxy.blackhole.Store(true)
	holed := time.Now()
	time.Sleep(2500 * time.Millisecond)
	proxy.blackhole.Store(false)
	opened := time.Now()
	c.waitHealthy()
	time.Sleep(300 * time.Millisecond)
	g.halt()
	for _, r := range g.reqs {
		if d := r.end.Sub(r.start); d > bound {
			t.Errorf("an INCR took %s (bound %s): %v", d, bound, r.err)
		}
		if r.err != nil && !strings.HasPrefix(r.err.Error(), "UNKNOWN") {
			t.Errorf("an INCR with s1 blackholed failed with %v, want success or UNKNOWN", r.err)
		}
	}
	for _, r := range g.gets {
		if d := r.end.Sub(r.start); d > bound {
			t.Errorf("a GET took %s (bound %s): %v", d, bound, r.err)
		}
		if r.err != nil && !strings.Contains(r.err.Error(), "s1") {
			t.Errorf("a GET failed with %v, which does not name s1", r.err)
		}
		if r.start.After(holed.Add(shardTimeout+200*time.Millisecond)) && r.end.Before(opened) && r.err == nil {
			t.Errorf("a GET with s1 blackholed answered %d", r.val)
		}
	}
	f := g.settle(t)
	g.checkRefusedNotApplied(t)
	t.Logf("sent %d, acknowledged %d, stored %d", f.sent, f.acked, f.stored)
	if t.Failed() {
		c.logWriteMetrics()
	}
}

// TestSlowShard: a shard whose replies come later than --shard-timeout.
// Writes to it are retried with the same id (each retry's reply is late
// too) and end as UNKNOWN, or fail over once its breaker is open; nothing
// is applied twice and nothing acknowledged is lost.
func TestSlowShard(t *testing.T) {
	c, proxy := proxiedCluster(t, "--shard-timeout", "300ms", "--write-timeout", "1500ms")
	g := newLoadGen(t, c.addr, "", "slow", 30, 16)
	g.start(16)
	time.Sleep(400 * time.Millisecond)
	proxy.replyDelay.Store(int64(450 * time.Millisecond))
	time.Sleep(3 * time.Second)
	proxy.replyDelay.Store(0)
	c.waitHealthy()
	time.Sleep(500 * time.Millisecond)
	g.halt()
	for _, r := range g.reqs {
		if r.err != nil && !strings.HasPrefix(r.err.Error(), "UNKNOWN") {
			t.Errorf("an INCR with s1 slow failed with %v, want success or UNKNOWN", r.err)
			break
		}
	}
	f := g.settle(t)
	g.checkRefusedNotApplied(t)
	ok, total := g.window(time.Time{}, time.Now())
	t.Logf("sent %d, acknowledged %d (%d/%d ok), stored %d, retries %v", f.sent, f.acked, ok, total, f.stored,
		c.metricValue("shardcounter_write_retries_total"))
	if t.Failed() {
		c.logWriteMetrics()
	}
}

// TestCoordinatorStartsWithBlackholedShard: a coordinator (re)started while
// a shard swallows every byte starts, takes writes for every key, and
// refuses reads naming the shard, each within a bound.
func TestCoordinatorStartsWithBlackholedShard(t *testing.T) {
	c, proxy := proxiedCluster(t, "--shard-timeout", "300ms", "--write-timeout", "1s")
	c.killCoordinator()
	proxy.blackhole.Store(true)
	start := time.Now()
	c.startCoordinator()
	t.Logf("coordinator ready %s after start", time.Since(start).Round(time.Millisecond))
	rdb := newClient(t, &redis.Options{Addr: c.addr, MaxRetries: -1, ReadTimeout: 10 * time.Second})
	ctx := context.Background()
	for _, k := range testKeys("bhstart", 20) {
		t0 := time.Now()
		if err := rdb.Incr(ctx, k).Err(); err != nil {
			t.Errorf("INCR %s with s1 blackholed since the start: %v (after %s)", k, err, time.Since(t0))
		}
	}
	t0 := time.Now()
	err := rdb.Get(ctx, "bhstart:0").Err()
	if err == nil || errors.Is(err, redis.Nil) || !strings.Contains(err.Error(), "s1") {
		t.Errorf("GET with s1 blackholed: %v after %s, want an error naming s1", err, time.Since(t0))
	}
	proxy.blackhole.Store(false)
	c.waitHealthy()
	for _, k := range testKeys("bhstart", 20) {
		if v := waitGet(t, rdb, k); v != 1 {
			t.Errorf("GET %s = %d, want 1", k, v)
		}
	}
}

// TestTwoCoordinatorsFlappingShard: two coordinators take INCR load on the
// same counters while one shard is killed with SIGKILL and restarted, over
// and over. Every acknowledged increment (through either coordinator) is
// in the totals, and no total exceeds the increments sent through both.
func TestTwoCoordinatorsFlappingShard(t *testing.T) {
	args := []string{"--shard-timeout", "300ms", "--write-timeout", "1s"}
	c := startCluster(t, clusterOpts{coordArgs: args})
	c2 := c.secondCoordinator()
	g1 := newLoadGen(t, c.addr, "", "two", 20, 12)
	g2 := newLoadGen(t, c2.addr, "", "two", 20, 12)
	g1.start(12)
	g2.start(12)
	for i := 0; i < 3; i++ {
		time.Sleep(400 * time.Millisecond)
		c.killShard(1)
		time.Sleep(400 * time.Millisecond)
		c.startShard(1)
	}
	time.Sleep(400 * time.Millisecond)
	g1.halt()
	g2.halt()
	c.waitHealthy()
	c2.waitHealthy()
	for i, k := range g1.keys {
		sent := g1.sent[i].Load() + g2.sent[i].Load()
		acked := g1.acked[i].Load() + g2.acked[i].Load()
		for _, rdb := range []*redis.Client{g1.rdb, g2.rdb} {
			v := waitGet(t, rdb, k)
			if v < acked || v > sent {
				t.Errorf("GET %s = %d, want between %d acknowledged and %d sent", k, v, acked, sent)
			}
		}
	}
	ok1, n1 := g1.window(time.Time{}, time.Now())
	ok2, n2 := g2.window(time.Time{}, time.Now())
	t.Logf("coordinator 1: %d/%d ok, coordinator 2: %d/%d ok", ok1, n1, ok2, n2)
	if t.Failed() {
		c.logWriteMetrics()
		c2.logWriteMetrics()
	}
}

// TestShardStopsUnderLoadRefusingOnlyWhatItDidNotApply stops a shard with
// SIGTERM, and another with SIGKILL, under INCR load, and restarts them.
// Every acknowledged increment is in the totals; an increment refused with
// an error that says "not applied" (TRYAGAIN, SHARDDOWN, ...) is not; only
// UNKNOWN errors and broken connections may go either way.
func TestShardStopsUnderLoadRefusingOnlyWhatItDidNotApply(t *testing.T) {
	for _, sync := range []bool{false, true} {
		name := "wal"
		var shardArgs []string
		if sync {
			name, shardArgs = "sync", []string{"--sync"}
		}
		t.Run(name, func(t *testing.T) {
			c := startCluster(t, clusterOpts{shardArgs: shardArgs, coordArgs: []string{"--shard-timeout", "300ms", "--write-timeout", "1s"}})
			g := newLoadGen(t, c.addr, "", "stop", 30, 16)
			g.start(16)
			time.Sleep(300 * time.Millisecond)
			c.stopShard(0)
			time.Sleep(300 * time.Millisecond)
			c.startShard(0)
			time.Sleep(300 * time.Millisecond)
			c.killShard(1)
			time.Sleep(300 * time.Millisecond)
			c.startShard(1)
			time.Sleep(300 * time.Millisecond)
			g.halt()
			c.waitHealthy()
			f := g.settle(t)
			g.checkRefusedNotApplied(t)
			ok, total := g.window(time.Time{}, time.Now())
			t.Logf("sent %d, acknowledged %d (%d/%d ok), stored %d; %s", f.sent, f.acked, ok, total, f.stored,
				g.errorSample(time.Time{}, time.Now()))
			if t.Failed() {
				c.logWriteMetrics()
			}
		})
	}
}

// TestSplitCountersTwoCoordinatorsFlappingShards: counters spread over two
// shards, written through two coordinators, while shards are stopped with
// SIGSTOP, killed while stopped, and restarted. Totals hold every
// acknowledged increment, and refused increments were not applied.
func TestSplitCountersTwoCoordinatorsFlappingShards(t *testing.T) {
	args := []string{"--shard-timeout", "300ms", "--write-timeout", "1s", "--spread", "2"}
	c := startCluster(t, clusterOpts{coordArgs: args})
	c2 := c.secondCoordinator()
	g1 := newLoadGen(t, c.addr, "", "split", 10, 10)
	g2 := newLoadGen(t, c2.addr, "", "split", 10, 10)
	g1.start(10)
	g2.start(10)
	for i := 0; i < 3; i++ {
		time.Sleep(300 * time.Millisecond)
		p := c.shards[i].p
		p.cmd.Process.Signal(syscall.SIGSTOP)
		time.Sleep(400 * time.Millisecond)
		c.killShard(i) // SIGKILL works on a stopped process
		time.Sleep(100 * time.Millisecond)
		c.startShard(i)
	}
	time.Sleep(400 * time.Millisecond)
	g1.halt()
	g2.halt()
	c.waitHealthy()
	c2.waitHealthy()
	for i, k := range g1.keys {
		sent := g1.sent[i].Load() + g2.sent[i].Load()
		acked := g1.acked[i].Load() + g2.acked[i].Load()
		amb := g1.ambiguous[i].Load() + g2.ambiguous[i].Load()
		v := waitGet(t, g1.rdb, k)
		if v < acked || v > acked+amb || v > sent {
			t.Errorf("GET %s = %d, want between %d acknowledged and %d (+ %d ambiguous), sent %d", k, v, acked, acked+amb, amb, sent)
		}
	}
	ok1, n1 := g1.window(time.Time{}, time.Now())
	ok2, n2 := g2.window(time.Time{}, time.Now())
	t.Logf("coordinator 1: %d/%d ok, coordinator 2: %d/%d ok; %s", ok1, n1, ok2, n2, g1.errorSample(time.Time{}, time.Now()))
	if t.Failed() {
		c.logWriteMetrics()
		c2.logWriteMetrics()
	}
}

// TestCoordinatorSIGTERMWithHungShard: a coordinator stopped with SIGTERM
// while one shard hangs (SIGSTOP) under load exits cleanly within a bound,
// and every client command in flight gets a reply, success or an error,
// never a hang. Totals hold every acknowledged increment afterwards.
func TestCoordinatorSIGTERMWithHungShard(t *testing.T) {
	c := startCluster(t, clusterOpts{coordArgs: []string{"--shard-timeout", "300ms", "--write-timeout", "1s"}})
	g := newLoadGen(t, c.addr, "", "cterm", 30, 16)
	g.start(16)
	time.Sleep(300 * time.Millisecond)
	p := c.shards[1].p
	p.cmd.Process.Signal(syscall.SIGSTOP)
	defer p.cmd.Process.Signal(syscall.SIGCONT)
	time.Sleep(100 * time.Millisecond)
	c.coord.stop(t, syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	g.halt()
	p.cmd.Process.Signal(syscall.SIGCONT)
	for _, r := range g.reqs {
		if d := r.end.Sub(r.start); d > 10*time.Second {
			t.Errorf("an INCR took %s: %v", d, r.err)
		}
	}
	c.startCoordinator()
	c.waitHealthy()
	g.rdb = c.client()
	f := g.settle(t)
	g.checkRefusedNotApplied(t)
	t.Logf("sent %d, acknowledged %d, stored %d; %s", f.sent, f.acked, f.stored, g.errorSample(time.Time{}, time.Now()))
}

// TestShardClientKillUnderLoad: under INCR load, every shard closes the
// coordinator's connections with CLIENT KILL, over and over, all three at
// once. The coordinator retries what was in flight with the same request
// ids and probes each shard again at once. An increment either succeeds or,
// in the instant when all three shards are down, is refused with TRYAGAIN
// (certainly not applied; go-redis retries it by itself); never UNKNOWN or
// a broken connection. Every acknowledged increment is in the totals once.
func TestShardClientKillUnderLoad(t *testing.T) {
	ctx := context.Background()
	c := startCluster(t, clusterOpts{})
	shards := make([]*redis.Client, len(c.shards))
	for i, s := range c.shards {
		shards[i] = newClient(t, &redis.Options{Addr: s.addr, MaxRetries: -1})
	}
	g := newLoadGen(t, c.addr, "", "ck", 30, 16)
	g.start(16)
	killed := int64(0)
	for range 10 {
		time.Sleep(150 * time.Millisecond)
		for i, s := range shards {
			n, err := s.Do(ctx, "CLIENT", "KILL", "USER", "default", "SKIPME", "yes").Int64()
			if err != nil {
				t.Fatalf("CLIENT KILL on %s: %v", c.shards[i].id, err)
			}
			killed += n
		}
	}
	time.Sleep(300 * time.Millisecond)
	g.halt()
	if killed < 10 {
		t.Fatalf("CLIENT KILL closed %d connections in 10 rounds on 3 shards: the coordinator's were not there to close", killed)
	}
	refused := 0
	for _, r := range g.reqs {
		if r.err != nil {
			refused++
			if !strings.HasPrefix(r.err.Error(), "TRYAGAIN") {
				t.Errorf("an INCR failed while its shard's connection was killed: %v; want success or TRYAGAIN", r.err)
			}
		}
	}
	f := g.settle(t)
	if f.acked == 0 || f.stored != f.acked {
		t.Errorf("stored %d of %d acknowledged increments", f.stored, f.acked)
	}
	t.Logf("killed %d connections; sent %d, acknowledged %d, refused with TRYAGAIN %d, stored %d", killed, f.sent, f.acked, refused, f.stored)
}
