package coordinator

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/shardcounter/shardcounter/resp"
)

// clusterStats is what the dashboard, INFO and `shardcounter status` show
// about the cluster, gathered in the background so that answering never
// waits on a shard:
//
//   - every statsInterval, each shard that is up is asked for SC.STATS (with
//     the shard timeout, one goroutine per shard, so a shard that hangs
//     delays only its own figures); writes/s is the change of its write
//     count between two polls;
//   - every statsInterval, the coordinator's request counters (the
//     Prometheus metrics) are sampled into a ring of opsHistory rates, and
//     the hot-counter tracker closes a window.
type clusterStats struct {
	// afterTick, if set, runs after each tick of the hot tracker.
	afterTick func()
	shards    []*shardConn
	metrics   *metrics
	hot       *hotTracker

	mu     sync.Mutex
	per    []shardFigures
	ops    []opsSample // ring, oldest at opsPos once full
	opsPos int
	last   opsTotals
}

// statsInterval is how often the figures are refreshed.
const statsInterval = time.Second

// opsHistory is how many samples of the cluster's ops/s are kept: five
// minutes at statsInterval.
const opsHistory = 300

// shardFigures is the last SC.STATS of one shard.
type shardFigures struct {
	Known          bool      // SC.STATS has answered at least once
	At             time.Time // when it last answered
	Keys           int64     // RocksDB's estimate of records
	Counters       int64     // counters held; -1 while the shard is still counting
	CountersCapped bool      // Counters is a lower bound
	Writes         int64     // writes applied since the shard started
	WritesPerSec   float64
}

// opsSample is the cluster's rate of client commands over one interval,
// as this coordinator saw them.
type opsSample struct {
	At     time.Time
	Reads  float64
	Writes float64
}

type opsTotals struct {
	at            time.Time
	reads, writes float64
}

func newClusterStats(shards []*shardConn, m *metrics, hot *hotTracker) *clusterStats {
	return &clusterStats{shards: shards, metrics: m, hot: hot, per: make([]shardFigures, len(shards))}
}

// start runs the pollers through goFunc until ctx is done.
func (cs *clusterStats) start(ctx context.Context, goFunc func(func())) {
	for _, sc := range cs.shards {
		goFunc(func() { cs.pollShard(ctx, sc) })
	}
	goFunc(func() { cs.sampleOps(ctx) })
}

func (cs *clusterStats) pollShard(ctx context.Context, sc *shardConn) {
	t := time.NewTicker(statsInterval)
	defer t.Stop()
	for {
		cs.pollOnce(ctx, sc)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pollOnce asks one shard for SC.STATS. A shard that is down is skipped:
// its breaker answers at once, and its last figures are kept.
func (cs *clusterStats) pollOnce(ctx context.Context, sc *shardConn) {
	if !sc.up.Load() {
		return
	}
	msg, err := sc.do(ctx, resp.ShardCmd{Name: resp.CmdStats, Shard: sc.name()}.Args())
	if err != nil {
		return
	}
	m, err := msg.AsIntMap()
	if err != nil {
		return
	}
	now := time.Now()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	f := &cs.per[sc.idx]
	rate := 0.0
	// A shard whose write count went down has restarted: no rate until the
	// next poll.
	if f.Known && m["writes"] >= f.Writes && now.After(f.At) {
		rate = float64(m["writes"]-f.Writes) / now.Sub(f.At).Seconds()
	}
	counters, ok := m["counters"]
	if !ok {
		counters = -1 // a shard from before SC.STATS had counters
	}
	*f = shardFigures{Known: true, At: now, Keys: m["keys"], Counters: counters,
		CountersCapped: m["counters_capped"] != 0, Writes: m["writes"], WritesPerSec: rate}
}

// figures returns shard i's last figures. WritesPerSec is 0 when they are
// older than three intervals (the shard stopped answering).
func (cs *clusterStats) figures(i int) shardFigures {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	f := cs.per[i]
	if time.Since(f.At) > 3*statsInterval {
		f.WritesPerSec = 0
	}
	return f
}

func (cs *clusterStats) sampleOps(ctx context.Context) {
	t := time.NewTicker(statsInterval)
	defer t.Stop()
	cs.sample(time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			cs.sample(now)
			cs.hot.tick()
			if cs.afterTick != nil {
				cs.afterTick()
			}
		}
	}
}

// sample adds one point to the ops/s history.
func (cs *clusterStats) sample(now time.Time) {
	reads, writes := cs.metrics.requestTotals()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	prev := cs.last
	cs.last = opsTotals{at: now, reads: reads, writes: writes}
	if prev.at.IsZero() {
		return
	}
	secs := now.Sub(prev.at).Seconds()
	if secs <= 0 {
		return
	}
	s := opsSample{At: now, Reads: max(0, reads-prev.reads) / secs, Writes: max(0, writes-prev.writes) / secs}
	if len(cs.ops) < opsHistory {
		cs.ops = append(cs.ops, s)
		return
	}
	cs.ops[cs.opsPos] = s
	cs.opsPos = (cs.opsPos + 1) % opsHistory
}

// history returns the ops/s samples, oldest first.
func (cs *clusterStats) history() []opsSample {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	out := make([]opsSample, 0, len(cs.ops))
	out = append(out, cs.ops[cs.opsPos:]...)
	return append(out, cs.ops[:cs.opsPos]...)
}

// The commands counted as reads and as writes in the ops/s history, by
// their label in shardcounter_requests_total.
var (
	readCommands  = []string{"get", "mget", "exists", "type", "shardvalues", "scan", "keys", "dbsize", "http_read"}
	writeCommands = []string{"incr", "decr", "incrby", "decrby", "set", "del", "unlink", "flushall", "flushdb", "http_incr"}
)

// requestTotals adds up shardcounter_requests_total over the read and the
// write commands. It reads the counters without creating series.
func (m *metrics) requestTotals() (reads, writes float64) {
	kind := map[string]int{}
	for _, c := range readCommands {
		kind[c] = 1
	}
	for _, c := range writeCommands {
		kind[c] = 2
	}
	ch := make(chan prometheus.Metric, 64)
	go func() {
		m.requests.Collect(ch)
		close(ch)
	}()
	for metric := range ch {
		var pb dto.Metric
		if err := metric.Write(&pb); err != nil || pb.Counter == nil {
			continue
		}
		for _, l := range pb.Label {
			if l.GetName() != "command" {
				continue
			}
			switch kind[strings.ToLower(l.GetValue())] {
			case 1:
				reads += pb.Counter.GetValue()
			case 2:
				writes += pb.Counter.GetValue()
			}
		}
	}
	return reads, writes
}
