package coordinator

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/redis/rueidis"

	"github.com/shardcounter/shardcounter/resp"
)

// writeReq is one client increment on its way to a shard.
type writeReq struct {
	key      []byte
	delta    int64
	deadline time.Time
	prefs    []int // the key's shards, owner first (shared, read-only)
	pos      int   // index in prefs of the shard it is queued for
	single   bool  // send alone, never coalesced (after a group overflowed)
	// done receives the outcome: the shard and the shard's new partial
	// after this request's delta, or an error. It is called exactly once,
	// from a lane goroutine.
	done func(shard int, partial int64, err error)
}

// group is one SC.INCR: the coalesced requests for one key in one round.
// Its request id is fixed at the first send, so a retry is deduplicated.
type group struct {
	key       []byte
	sum       int64
	reqs      []*writeReq
	id        resp.RequestID
	deadline  time.Time
	notBefore time.Time
}

// writeLane batches the increments for a slice of one shard's keys. It is
// the coordinator's group commit: one goroutine takes every queued request,
// coalesces those for the same key into one SC.INCR, sends the whole round
// as one pipeline and hands each request its own exact partial. A key always
// maps to the same lane and a lane has one round in flight, so increments of
// one key reach the shard in the order they were queued.
type writeLane struct {
	sc       *shardConn
	r        *router
	ch       chan *writeReq
	maxBatch int
	retries  []*group
	byKey    map[string]*group
}

func (l *writeLane) run(ctx context.Context) {
	reqs := make([]*writeReq, 0, l.maxBatch)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		reqs = reqs[:0]
		wait := time.Hour
		if len(l.retries) > 0 {
			wait = max(time.Until(l.retries[0].notBefore), 0)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			l.failAll(fmt.Errorf("%w: coordinator is shutting down", resp.ErrShuttingDown))
			return
		case q := <-l.ch:
			reqs = append(reqs, q)
		case <-timer.C:
		}
	drain:
		for len(reqs) < l.maxBatch {
			select {
			case q := <-l.ch:
				reqs = append(reqs, q)
			default:
				break drain
			}
		}
		l.round(ctx, reqs)
	}
}

// failAll answers everything still queued at shutdown.
func (l *writeLane) failAll(err error) {
	for _, g := range l.retries {
		for _, q := range g.reqs {
			q.done(l.sc.idx, 0, err)
		}
	}
	for {
		select {
		case q := <-l.ch:
			q.done(l.sc.idx, 0, err)
		default:
			return
		}
	}
}

// round sends due retries and the new requests as one pipeline.
func (l *writeLane) round(ctx context.Context, reqs []*writeReq) {
	now := time.Now()
	var groups []*group
	keep := l.retries[:0]
	for _, g := range l.retries {
		if g.notBefore.After(now) {
			keep = append(keep, g)
			continue
		}
		groups = append(groups, g)
	}
	l.retries = keep

	if !l.sc.up.Load() {
		// Nothing of these was sent: they may go to the next shard.
		for _, q := range reqs {
			l.r.reroute(q, l.sc.unavailable())
		}
		reqs = reqs[:0]
	}
	clear(l.byKey)
	for _, q := range reqs {
		if !q.single {
			if g := l.byKey[string(q.key)]; g != nil {
				if s, ok := resp.AddInt(g.sum, q.delta); ok {
					g.sum = s
					g.reqs = append(g.reqs, q)
					continue
				}
			}
		}
		g := &group{key: q.key, sum: q.delta, reqs: []*writeReq{q}, id: l.r.nextID(), deadline: q.deadline}
		if !q.single {
			l.byKey[string(q.key)] = g
		}
		groups = append(groups, g)
	}
	if len(groups) == 0 {
		return
	}
	cmds := make(rueidis.Commands, len(groups))
	for i, g := range groups {
		cmds[i] = l.sc.cmd(resp.IncrCmd{Shard: l.sc.id, Key: g.key, Delta: g.sum, ID: g.id}.Args())
	}
	rctx, cancel := context.WithTimeout(ctx, l.sc.timeout)
	start := time.Now()
	results := l.sc.client.DoMulti(rctx, cmds...)
	cancel()
	l.r.metrics.shardRound(l.sc.id, time.Since(start), len(groups))
	for i, g := range groups {
		partial, err := results[i].AsInt64()
		if err == nil {
			l.sc.latency.Store(int64(time.Since(start)))
			base := partial - g.sum
			for _, q := range g.reqs {
				base += q.delta
				q.done(l.sc.idx, base, nil)
			}
			continue
		}
		l.failed(g, l.sc.classify(err))
	}
}

// failed decides what happens to a group whose SC.INCR did not succeed.
func (l *writeLane) failed(g *group, err error) {
	switch {
	case errors.Is(err, resp.ErrOverflow) && len(g.reqs) > 1:
		// Together they overflow; alone some may not, as in Redis.
		for _, q := range g.reqs {
			q.single = true
			l.enqueue(q)
		}
	case notSent(err):
		for _, q := range g.reqs {
			l.r.reroute(q, err)
		}
	case errors.Is(err, resp.ErrShardUnavailable):
		// Sent, no answer: it may have been applied. Retry here with the
		// same request id until the deadline; never send it elsewhere.
		if time.Now().Add(l.r.retryBackoff).After(g.deadline) {
			amb := fmt.Errorf("%w: shard %s did not confirm increment of %q before the deadline; it may or may not have been applied: %v",
				resp.ErrAmbiguous, l.sc.id, g.key, err)
			for _, q := range g.reqs {
				q.done(l.sc.idx, 0, amb)
			}
			return
		}
		g.notBefore = time.Now().Add(l.r.retryBackoff + time.Duration(rand.Int64N(int64(l.r.retryBackoff))))
		l.retries = append(l.retries, g)
		l.r.metrics.retries.Inc()
	default:
		for _, q := range g.reqs {
			q.done(l.sc.idx, 0, err)
		}
	}
}

// enqueue puts q back on this lane's own queue; the lane goroutine must
// not block on it.
func (l *writeLane) enqueue(q *writeReq) {
	select {
	case l.ch <- q:
	default:
		go func() { l.ch <- q }()
	}
}

// readReq asks one shard for the partials of some keys.
type readReq struct {
	keys [][]byte
	// done receives one partial per key (found[i] false when the shard has
	// no record), or an error. Called once, from a lane goroutine.
	done func(shard int, partials []int64, found []bool, err error)
}

// readLane batches the reads for one shard: every request queued during a
// round goes out as one SC.GET with all their keys.
type readLane struct {
	sc       *shardConn
	r        *router
	ch       chan *readReq
	maxBatch int
}

func (l *readLane) run(ctx context.Context) {
	reqs := make([]*readReq, 0, l.maxBatch)
	for {
		reqs = reqs[:0]
		select {
		case <-ctx.Done():
			err := fmt.Errorf("%w: coordinator is shutting down", resp.ErrShuttingDown)
			for {
				select {
				case q := <-l.ch:
					q.done(l.sc.idx, nil, nil, err)
				default:
					return
				}
			}
		case q := <-l.ch:
			reqs = append(reqs, q)
		}
		nkeys := len(reqs[0].keys)
	drain:
		for len(reqs) < l.maxBatch && nkeys < l.maxBatch {
			select {
			case q := <-l.ch:
				reqs = append(reqs, q)
				nkeys += len(q.keys)
			default:
				break drain
			}
		}
		l.round(ctx, reqs, nkeys)
	}
}

func (l *readLane) round(ctx context.Context, reqs []*readReq, nkeys int) {
	if !l.sc.up.Load() {
		err := l.sc.unavailable()
		for _, q := range reqs {
			q.done(l.sc.idx, nil, nil, err)
		}
		return
	}
	keys := make([][]byte, 0, nkeys)
	for _, q := range reqs {
		keys = append(keys, q.keys...)
	}
	msg, err := l.sc.do(ctx, resp.KeysCmd{Name: resp.CmdGet, Shard: l.sc.id, Keys: keys}.Args())
	var vals []rueidis.RedisMessage
	if err == nil {
		vals, err = msg.ToArray()
		if err == nil && len(vals) != len(keys) {
			err = fmt.Errorf("shard %s answered %d values for %d keys", l.sc.id, len(vals), len(keys))
		}
	}
	if err != nil {
		for _, q := range reqs {
			q.done(l.sc.idx, nil, nil, err)
		}
		return
	}
	partials := make([]int64, len(keys))
	found := make([]bool, len(keys))
	for i := range vals {
		if vals[i].IsNil() {
			continue
		}
		v, err := vals[i].AsInt64()
		if err != nil {
			err = fmt.Errorf("shard %s: bad partial: %w", l.sc.id, err)
			for _, q := range reqs {
				q.done(l.sc.idx, nil, nil, err)
			}
			return
		}
		partials[i], found[i] = v, true
	}
	off := 0
	for _, q := range reqs {
		n := len(q.keys)
		q.done(l.sc.idx, partials[off:off+n], found[off:off+n], nil)
		off += n
	}
}
