package integration

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ledger records, per key, the sum of acknowledged increments and of the
// failed ones (whose outcome the client does not know).
type ledger struct {
	mu     sync.Mutex
	acked  map[string]int64
	failed map[string]int64
	nAck   int
	nFail  int
}

func newLedger() *ledger {
	return &ledger{acked: map[string]int64{}, failed: map[string]int64{}}
}

// writeUntilStopped runs write in the background until the returned stop is
// called; stop returns when every write has ended.
func (l *ledger) writeUntilStopped(rdb *redis.Client, keys []string, workers int) (stop func()) {
	stopCh, done := make(chan struct{}), make(chan struct{})
	go func() {
		l.write(rdb, keys, workers, 1<<30, stopCh)
		close(done)
	}()
	return func() {
		close(stopCh)
		<-done
	}
}

// write runs ops INCRBYs spread over keys from workers goroutines, or until
// stop is closed (if stop is not nil). Failures are recorded, not fatal.
func (l *ledger) write(rdb *redis.Client, keys []string, workers, ops int, stop <-chan struct{}) {
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < ops; i += workers {
				if stop != nil {
					select {
					case <-stop:
						return
					default:
					}
				}
				k := keys[i%len(keys)]
				delta := int64(i%7 + 1)
				err := rdb.IncrBy(ctx, k, delta).Err()
				l.mu.Lock()
				if err == nil {
					l.acked[k] += delta
					l.nAck++
				} else {
					l.failed[k] += delta
					l.nFail++
				}
				l.mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// checkExact requires GET of every key to equal its acknowledged sum.
func (l *ledger) checkExact(t *testing.T, rdb *redis.Client, keys []string) {
	t.Helper()
	for _, k := range keys {
		if v := waitGet(t, rdb, k); v != l.acked[k] {
			t.Errorf("GET %s = %d, want %d (the sum of its acknowledged increments)", k, v, l.acked[k])
		}
	}
}

// checkBounds requires GET of every key to hold every acknowledged
// increment, and nothing beyond the failed ones that may have been applied.
func (l *ledger) checkBounds(t *testing.T, rdb *redis.Client, keys []string) {
	t.Helper()
	for _, k := range keys {
		v := waitGet(t, rdb, k)
		if v < l.acked[k] || v > l.acked[k]+l.failed[k] {
			t.Errorf("GET %s = %d, want %d acknowledged (+ up to %d unconfirmed)", k, v, l.acked[k], l.failed[k])
		}
	}
}

func testKeys(prefix string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s:%d", prefix, i)
	}
	return keys
}

// TestShardKill9KeepsAcknowledgedIncrements kills every shard with SIGKILL
// after acknowledged increments, restarts them on the same data directories
// and ports, and finds every increment.
func TestShardKill9KeepsAcknowledgedIncrements(t *testing.T) {
	t.Run("wal", func(t *testing.T) { testShardKill9(t) })
	t.Run("sync", func(t *testing.T) { testShardKill9(t, "--sync") })
}

func testShardKill9(t *testing.T, shardArgs ...string) {
	c := startCluster(t, clusterOpts{shardArgs: shardArgs, coordArgs: []string{"--shard-timeout", "300ms", "--write-timeout", "1s"}})
	rdb := c.client()
	keys := testKeys("k9", 30)
	l := newLedger()
	l.write(rdb, keys, 10, 3000, nil)
	if l.nFail > 0 {
		t.Fatalf("%d of %d increments failed with every shard up", l.nFail, l.nFail+l.nAck)
	}
	for i := range c.shards {
		c.killShard(i)
	}
	if err := rdb.Get(context.Background(), keys[0]).Err(); err == nil {
		t.Fatal("GET succeeded with every shard killed")
	}
	for i := range c.shards {
		c.startShard(i)
	}
	c.waitHealthy()
	l.checkExact(t, rdb, keys)
}

// TestShardKill9DuringWrites kills one shard while increments are in
// flight: every acknowledged one survives, and no increment is applied
// twice.
func TestShardKill9DuringWrites(t *testing.T) {
	c := startCluster(t, clusterOpts{coordArgs: []string{"--shard-timeout", "300ms", "--write-timeout", "1s"}})
	// No client-side retries: a failed INCRBY was sent once.
	rdb := newClient(t, &redis.Options{Addr: c.addr, MaxRetries: -1})
	keys := testKeys("inflight", 30)
	l := newLedger()
	stop := l.writeUntilStopped(rdb, keys, 8)
	time.Sleep(300 * time.Millisecond)
	c.killShard(1)
	time.Sleep(300 * time.Millisecond)
	c.startShard(1)
	time.Sleep(300 * time.Millisecond)
	stop()
	if l.nAck == 0 {
		t.Fatal("no increment was acknowledged")
	}
	t.Logf("%d increments acknowledged, %d failed", l.nAck, l.nFail)
	c.waitHealthy()
	l.checkBounds(t, rdb, keys)
	c.logWriteMetrics()
}

// TestShardCleanRestart stops each shard with SIGTERM (exit 0) and starts it
// again: every acknowledged increment is there.
func TestShardCleanRestart(t *testing.T) {
	c := startCluster(t, clusterOpts{coordArgs: []string{"--shard-timeout", "300ms", "--write-timeout", "1s"}})
	rdb := c.client()
	keys := testKeys("clean", 30)
	l := newLedger()
	l.write(rdb, keys, 10, 2000, nil)
	if l.nFail > 0 {
		t.Fatalf("%d increments failed with every shard up", l.nFail)
	}
	for i := range c.shards {
		c.stopShard(i)
		c.startShard(i)
	}
	c.waitHealthy()
	l.checkExact(t, rdb, keys)

	// And the counters carry on from there.
	ctx := context.Background()
	if v, err := rdb.IncrBy(ctx, keys[0], 1).Result(); err != nil || v != l.acked[keys[0]]+1 {
		t.Fatalf("INCRBY after restart: %d, %v; want %d", v, err, l.acked[keys[0]]+1)
	}
}

// TestCoordinatorKill9LosesNothing kills the coordinator with SIGKILL and
// starts it again on the same ports: the coordinator holds no state, so
// nothing is lost.
func TestCoordinatorKill9LosesNothing(t *testing.T) {
	c := startCluster(t, clusterOpts{})
	rdb := newClient(t, &redis.Options{Addr: c.addr, MaxRetries: -1})
	keys := testKeys("coord", 30)
	l := newLedger()
	l.write(rdb, keys, 10, 2000, nil)
	if l.nFail > 0 {
		t.Fatalf("%d increments failed", l.nFail)
	}
	c.killCoordinator()
	if err := rdb.Ping(context.Background()).Err(); err == nil {
		t.Fatal("PING succeeded with the coordinator killed")
	}
	c.startCoordinator()
	l.checkExact(t, rdb, keys)
	ctx := context.Background()
	if v, err := rdb.Incr(ctx, keys[3]).Result(); err != nil || v != l.acked[keys[3]]+1 {
		t.Fatalf("INCR after the coordinator restart: %d, %v; want %d", v, err, l.acked[keys[3]]+1)
	}
}

// TestShardSIGTERMUnderLoad stops each shard cleanly while writes are in
// flight: nothing acknowledged is lost, and nothing is applied twice (a
// write whose reply the stop cut off must not be applied again elsewhere).
func TestShardSIGTERMUnderLoad(t *testing.T) {
	c := startCluster(t, clusterOpts{coordArgs: []string{"--shard-timeout", "300ms", "--write-timeout", "1s"}})
	rdb := newClient(t, &redis.Options{Addr: c.addr, MaxRetries: -1})
	keys := testKeys("term", 30)
	l := newLedger()
	stop := l.writeUntilStopped(rdb, keys, 8)
	// Each shard in turn: a clean stop under load, and a restart.
	for i := range c.shards {
		time.Sleep(200 * time.Millisecond)
		c.shards[i].p.stop(t, syscall.SIGTERM)
		c.startShard(i)
	}
	time.Sleep(200 * time.Millisecond)
	stop()
	t.Logf("%d increments acknowledged, %d failed", l.nAck, l.nFail)
	c.waitHealthy()
	l.checkBounds(t, rdb, keys)
	c.logWriteMetrics()
}

// logWriteMetrics logs the coordinator's retry and failover counters when
// the test has failed: they tell a lost write from a doubled one.
func (c *cluster) logWriteMetrics() {
	if !c.t.Failed() {
		return
	}
	_, m := c.httpDo("GET", "/metrics", "", "")
	var lines []string
	for _, l := range strings.Split(m, "\n") {
		if strings.HasPrefix(l, "shardcounter_write_retries_total") || strings.HasPrefix(l, "shardcounter_failover_writes_total") ||
			strings.HasPrefix(l, "shardcounter_shard_errors_total") {
			lines = append(lines, l)
		}
	}
	c.t.Logf("coordinator write metrics:\n%s", strings.Join(lines, "\n"))
}
