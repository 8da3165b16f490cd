package integration

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// loadGen runs INCR load from many clients and keeps the books a crash test
// needs: per key, how many increments were sent (counted before sending),
// acknowledged and failed, and for every request when it started and ended
// and how it ended. The client's own retries are off (MaxRetries -1), so
// every outcome is known: a failed INCR was sent at most once.
type loadGen struct {
	rdb  *redis.Client
	keys []string

	sent, acked, failed []atomic.Int64 // per key
	// ambiguous counts the failed increments that may have been applied:
	// UNKNOWN errors and broken connections (README, Ambiguous outcomes).
	ambiguous []atomic.Int64

	mu   sync.Mutex
	reqs []reqRecord
	gets []getRecord

	stop chan struct{}
	wg   sync.WaitGroup
}

type reqRecord struct {
	start, end time.Time
	err        error
}

type getRecord struct {
	start, end time.Time
	val        int64
	sentAfter  int64 // the key's sent count when the GET had returned
	err        error
}

// newLoadGen makes nkeys counters named prefix:0.. and a go-redis client
// with one connection per worker and no retries.
func newLoadGen(t *testing.T, addr, password, prefix string, nkeys, workers int) *loadGen {
	g := &loadGen{
		rdb: newClient(t, &redis.Options{Addr: addr, Password: password, MaxRetries: -1,
			PoolSize: workers + 2, MinIdleConns: workers}),
		keys: testKeys(prefix, nkeys),
		sent: make([]atomic.Int64, nkeys), acked: make([]atomic.Int64, nkeys), failed: make([]atomic.Int64, nkeys),
		ambiguous: make([]atomic.Int64, nkeys),
		stop:      make(chan struct{}),
	}
	return g
}

// start runs workers INCR loops and one GET sampler until halt.
func (g *loadGen) start(workers int) {
	for w := 0; w < workers; w++ {
		g.wg.Add(1)
		go g.worker(uint64(w))
	}
	g.wg.Add(1)
	go g.sampler()
}

func (g *loadGen) worker(seed uint64) {
	defer g.wg.Done()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 42))
	var local []reqRecord
	defer func() {
		g.mu.Lock()
		g.reqs = append(g.reqs, local...)
		g.mu.Unlock()
	}()
	for {
		select {
		case <-g.stop:
			return
		default:
		}
		i := rng.IntN(len(g.keys))
		g.sent[i].Add(1)
		start := time.Now()
		err := g.rdb.Incr(ctx, g.keys[i]).Err()
		local = append(local, reqRecord{start: start, end: time.Now(), err: err})
		if err == nil {
			g.acked[i].Add(1)
			continue
		}
		g.failed[i].Add(1)
		if isAmbiguous(err) {
			g.ambiguous[i].Add(1)
		}
		// Do not spin on refused dials while a process is down.
		time.Sleep(2 * time.Millisecond)
	}
}

// sampler GETs a random key every 10ms. A GET that answers is later checked
// against the increments sent until it returned: a total must never exceed
// them.
func (g *loadGen) sampler() {
	defer g.wg.Done()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 7))
	for {
		select {
		case <-g.stop:
			return
		case <-time.After(10 * time.Millisecond):
		}
		i := rng.IntN(len(g.keys))
		start := time.Now()
		v, err := g.rdb.Get(ctx, g.keys[i]).Int64()
		if err == redis.Nil {
			v, err = 0, nil
		}
		rec := getRecord{start: start, end: time.Now(), val: v, sentAfter: g.sent[i].Load(), err: err}
		g.mu.Lock()
		g.gets = append(g.gets, rec)
		g.mu.Unlock()
	}
}

// halt stops the load and waits for every request to end.
func (g *loadGen) halt() {
	close(g.stop)
	g.wg.Wait()
}

// window counts the requests that started in [from, to) and succeeded.
func (g *loadGen) window(from, to time.Time) (ok, total int) {
	for _, r := range g.reqs {
		if r.start.Before(from) || !r.start.Before(to) {
			continue
		}
		total++
		if r.err == nil {
			ok++
		}
	}
	return ok, total
}

// errorSample lists a few distinct errors of requests in [from, to).
func (g *loadGen) errorSample(from, to time.Time) string {
	seen := map[string]int{}
	for _, r := range g.reqs {
		if r.err != nil && !r.start.Before(from) && r.start.Before(to) {
			seen[r.err.Error()]++
		}
	}
	var out []string
	for e, n := range seen {
		out = append(out, fmt.Sprintf("%dx %s", n, e))
	}
	sort.Strings(out)
	if len(out) > 5 {
		out = out[:5]
	}
	return strings.Join(out, "; ")
}

// figures are the books of one run, after every process is back.
type figures struct {
	sent, acked, stored, lost, double int64
}

// settle reads every key's total (waiting until GET answers) and compares
// it with the books: lost counts acknowledged increments missing from a
// total, double counts a total beyond the increments sent (something
// applied twice).
func (g *loadGen) settle(t *testing.T) figures {
	t.Helper()
	var f figures
	for i, k := range g.keys {
		v := waitGet(t, g.rdb, k)
		sent, acked := g.sent[i].Load(), g.acked[i].Load()
		f.sent += sent
		f.acked += acked
		f.stored += v
		if v < acked {
			f.lost += acked - v
			t.Errorf("%s = %d: %d acknowledged increments missing (acknowledged %d, sent %d)", k, v, acked-v, acked, sent)
		}
		if v > sent {
			f.double += v - sent
			t.Errorf("%s = %d: more than the %d increments sent (acknowledged %d)", k, v, sent, acked)
		}
	}
	for _, r := range g.gets {
		if r.err == nil && r.val > r.sentAfter {
			t.Errorf("a GET at %s answered %d, more than the %d increments sent by then",
				r.start.Format("15:04:05.000"), r.val, r.sentAfter)
		}
	}
	return f
}

// metricValue reads one sample from the coordinator's /metrics, 0 if
// absent.
func (c *cluster) metricValue(name string) float64 {
	c.t.Helper()
	_, body := c.httpDo("GET", "/metrics", "", "")
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				c.t.Fatalf("metric %s: %q", name, l)
			}
			return f
		}
	}
	return 0
}

// isAmbiguous reports whether a failed increment may have been applied: an
// UNKNOWN error, or no Redis error reply at all (the connection broke).
func isAmbiguous(err error) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return true
	}
	return strings.HasPrefix(err.Error(), "UNKNOWN")
}

// checkRefusedNotApplied requires every total to be at most the
// acknowledged increments plus the ambiguous ones: an increment refused
// with any other error (TRYAGAIN, SHARDDOWN, ...) says it was not applied.
func (g *loadGen) checkRefusedNotApplied(t *testing.T) {
	t.Helper()
	for i, k := range g.keys {
		v := waitGet(t, g.rdb, k)
		acked, amb, failed := g.acked[i].Load(), g.ambiguous[i].Load(), g.failed[i].Load()
		if v > acked+amb {
			t.Errorf("%s = %d: beyond %d acknowledged + %d ambiguous; %d increments refused as not applied were applied (of %d refused)",
				k, v, acked, amb, v-acked-amb, failed-amb)
		}
	}
}
