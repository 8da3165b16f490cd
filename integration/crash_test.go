package integration

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCoordinatorKill9UnderLoad kills the coordinator with SIGKILL while 50
// clients send INCRs, and starts it again on the same ports: nothing that
// was acknowledged is lost, and no total exceeds the increments sent (the
// requests cut off by the kill may or may not have been applied).
func TestCoordinatorKill9UnderLoad(t *testing.T) {
	c := startCluster(t, clusterOpts{})
	g := newLoadGen(t, c.addr, "", "ckill", 40, 50)
	g.start(50)
	time.Sleep(700 * time.Millisecond)
	killedAt := time.Now()
	c.killCoordinator()
	time.Sleep(300 * time.Millisecond)
	c.startCoordinator()
	restartedAt := time.Now()
	time.Sleep(700 * time.Millisecond)
	g.halt()
	f := g.settle(t)
	before, nBefore := g.window(time.Time{}, killedAt)
	after, nAfter := g.window(restartedAt.Add(200*time.Millisecond), time.Now())
	t.Logf("sent %d, acknowledged %d, stored %d, lost %d, double-counted %d; writes before the kill %d/%d ok, after the restart %d/%d ok",
		f.sent, f.acked, f.stored, f.lost, f.double, before, nBefore, after, nAfter)
	if after == 0 {
		t.Errorf("no write succeeded after the coordinator restarted: %s", g.errorSample(restartedAt, time.Now()))
	}
}

// TestHungShard stops a shard with SIGSTOP under load: the process keeps
// its connections but answers nothing.
//   - Clients never hang: a GET fails within --shard-timeout (plus
//     scheduling slack), naming the shard; a write either fails over or,
//     if it was in flight to the hung shard, fails within --write-timeout
//     (plus at most one --shard-timeout, see below) as "UNKNOWN ... may or
//     may not have been applied".
//   - The circuit breaker opens: once the in-flight writes have run out of
//     time, no write round is sent to the hung shard, and new writes for
//     its keys succeed elsewhere without waiting for it.
//   - After SIGCONT the probe re-admits it: /health is 200, writes reach
//     it again, and every acknowledged increment is in the totals.
func TestHungShard(t *testing.T) {
	const (
		shardTimeout = 300 * time.Millisecond
		writeTimeout = time.Second
		slack        = 400 * time.Millisecond
	)
	c := startCluster(t, clusterOpts{coordArgs: []string{"--shard-timeout", shardTimeout.String(), "--write-timeout", writeTimeout.String()}})
	const victim = 1
	id := c.shards[victim].id
	rounds := fmt.Sprintf(`shardcounter_shard_round_seconds_count{shard="%s"}`, id)
	g := newLoadGen(t, c.addr, "", "hung", 40, 20)
	g.start(20)
	time.Sleep(500 * time.Millisecond)

	p := c.shards[victim].p
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stoppedAt := time.Now()
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			p.cmd.Process.Signal(syscall.SIGCONT)
		}
	}
	defer resume()

	// Once the writes in flight at the stop have run out of time, the
	// breaker keeps every write away from the hung shard.
	time.Sleep(writeTimeout + slack)
	quietFrom := time.Now()
	r1 := c.metricValue(rounds)
	time.Sleep(1200 * time.Millisecond)
	r2 := c.metricValue(rounds)
	quietTo := time.Now()
	if r2 != r1 {
		t.Errorf("%v write rounds went to hung shard %s after its breaker opened, want none", r2-r1, id)
	}
	resume()
	resumedAt := time.Now()
	c.waitHealthy()
	time.Sleep(500 * time.Millisecond)
	g.halt()
	if r3 := c.metricValue(rounds); r3 <= r2 {
		t.Errorf("no write round reached %s after SIGCONT: it was not re-admitted", id)
	}

	// Nobody hung.
	for _, r := range g.gets {
		if r.start.Before(stoppedAt.Add(20*time.Millisecond)) || !r.start.Before(resumedAt.Add(-shardTimeout-slack)) {
			continue
		}
		if d := r.end.Sub(r.start); d > shardTimeout+slack {
			t.Errorf("a GET with %s hung took %s, want at most --shard-timeout %s (+%s)", id, d, shardTimeout, slack)
		}
		if r.err == nil || !strings.Contains(r.err.Error(), id) {
			t.Errorf("a GET with %s hung: %v, %d; want an error naming %s", id, r.err, r.val, id)
		}
	}
	var slowest time.Duration
	for _, r := range g.reqs {
		if r.start.Before(stoppedAt.Add(-shardTimeout)) || !r.start.Before(resumedAt) {
			continue
		}
		d := r.end.Sub(r.start)
		slowest = max(slowest, d)
		// A retry round that starts just before the write's deadline
		// still runs for a whole --shard-timeout (writeLane.failed checks
		// the deadline against the backoff only), so a write may end up
		// to one --shard-timeout past --write-timeout.
		if d > writeTimeout+shardTimeout+slack {
			t.Errorf("an INCR with %s hung took %s, want at most --write-timeout %s + --shard-timeout %s (+%s): %v",
				id, d, writeTimeout, shardTimeout, slack, r.err)
		}
		if r.err != nil && !strings.HasPrefix(r.err.Error(), "UNKNOWN") {
			t.Errorf("an INCR with %s hung failed with %v, want success (failover) or UNKNOWN", id, r.err)
		}
	}
	// Writes that started once the breaker was open did not wait for the
	// hung shard.
	ok, total := g.window(quietFrom, quietTo)
	if ok != total || total == 0 {
		t.Errorf("with the breaker open, %d of %d writes succeeded, want all: %s", ok, total, g.errorSample(quietFrom, quietTo))
	}
	for _, r := range g.reqs {
		if !r.start.Before(quietFrom) && r.start.Before(quietTo) && r.end.Sub(r.start) >= shardTimeout {
			t.Errorf("a write with the breaker open took %s: it waited for the hung shard", r.end.Sub(r.start))
			break
		}
	}
	f := g.settle(t)
	failedOK, failedTotal := g.window(stoppedAt, quietFrom)
	t.Logf("hung %s: sent %d, acknowledged %d, stored %d, lost %d, double-counted %d; %d/%d writes ok in the first %s, %d/%d with the breaker open; slowest write %s",
		id, f.sent, f.acked, f.stored, f.lost, f.double, failedOK, failedTotal, quietFrom.Sub(stoppedAt).Round(time.Millisecond), ok, total, slowest.Round(time.Millisecond))
	if t.Failed() {
		c.logWriteMetrics()
	}
}
