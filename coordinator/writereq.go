package coordinator

import (
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shardcounter/shardcounter/resp"
)

// writeReq is one client increment: what the router and the write lanes
// carry to a shard, and the reply the client's connection waits for. It is
// pooled: one allocation-free object per increment on the hot path.
type writeReq struct {
	r        *router
	key      []byte
	delta    int64
	deadline time.Time   // set by the first lane round that takes it
	prefs    []int       // the key's shards, owner first (shared, read-only)
	pos      int         // index in prefs of the shard it is queued for
	first    int         // index in prefs of the shard it is meant for
	tries    int         // shards of prefs tried so far, from first on
	single   bool        // send alone, never coalesced (after a group overflowed)
	split    bool        // the counter was known to be split when it came in
	reserved *splitState // counts q as in flight (splitState.reserve)
	covered  int64       // what the target's partial covers of the others' (router.fold)

	res   incrResult
	err   error
	ready sync.Mutex // held from newWriteReq until finish

	errs  prometheus.Counter  // counts an error reply; may be nil
	lat   prometheus.Observer // observes the latency when start is set
	start time.Time
}

var writeReqPool = sync.Pool{New: func() any { return new(writeReq) }}

// newWriteReq returns a request for delta on key. The caller hands it to
// router.incr and then waits for it (WriteTo, or wait and release).
func newWriteReq(r *router, key []byte, delta int64) *writeReq {
	q := writeReqPool.Get().(*writeReq)
	q.r, q.key, q.delta = r, key, delta
	q.ready.Lock()
	return q
}

// finish sets the outcome: shard took the write and its partial is now
// partial, or err. It is called exactly once, by the router or a lane; the
// caller must not touch q afterwards.
func (q *writeReq) finish(shard int, partial int64, err error) {
	switch {
	case err == nil:
		// The shard checked that partial+covered stays in int64.
		q.res = incrResult{total: partial + q.covered, shard: shard, partial: partial}
		if q.mayBeSplit(shard) {
			q.res.total, err = q.record(shard, partial)
		}
	case q.reserved != nil:
		q.reserved.done(q.delta, -1, 0)
	}
	q.err = err
	q.ready.Unlock()
}

// mayBeSplit reports whether q's counter may have partials on shards
// other than shard, q's target: it is split, or shard is not its owner.
// Then the counter's split state gives its total.
func (q *writeReq) mayBeSplit(shard int) bool {
	return shard != q.prefs[0] || q.r.spread > 1 || q.split
}

// splitState is the split state of q's counter for a write to shard. A
// counter that left the split cache since q came in (a read found it on
// its owner alone, or it was evicted) is answered from the owner's reply,
// the owner's partial and what it covers: splitState is nil then. A write
// to another shard makes a state, from the owner's partial as last seen,
// and ends a fold: the counter has a new partial elsewhere.
func (q *writeReq) splitState(shard int) *splitState {
	owner := q.prefs[0]
	if shard == owner {
		st, ok := q.r.split.Get(string(q.key))
		if !ok {
			return nil
		}
		return st
	}
	st := q.r.splitState(q.key)
	if st.folded.Load() {
		st.mu.Lock()
		if st.folded.Load() {
			// Owner writes do not update partials while it is folded.
			if v, ok := q.r.ownerSeen.get(q.key); ok {
				st.partials[owner] = v
			}
			st.folded.Store(false)
		}
		st.mu.Unlock()
	}
	return st
}

// record keeps shard's new partial in the counter's split state and
// returns the best-known total.
func (q *writeReq) record(shard int, partial int64) (int64, error) {
	st := q.splitState(shard)
	if st == nil {
		if q.reserved != nil {
			q.reserved.done(q.delta, -1, 0)
			q.reserved = nil
		}
		// The shard checked that partial+covered stays in int64.
		return partial + q.covered, nil
	}
	if q.reserved != nil && q.reserved != st {
		// Evicted from the split cache, and made anew since reserve.
		q.reserved.done(q.delta, -1, 0)
		q.reserved = nil
	}
	var total int64
	var err error
	if q.reserved != nil {
		total, err = st.done(q.delta, shard, partial)
	} else {
		total, err = st.set(shard, partial)
	}
	if err != nil {
		// The shard took it, so the overflow error, which says it did
		// not, would be wrong. A write through another coordinator raced
		// it: each checked the partials as it last saw them.
		err = fmt.Errorf("%w: shard %s took the increment, but the partials of this counter as last seen now add up past int64: %v",
			resp.ErrAmbiguous, q.r.shards[shard].id, err)
	}
	return total, err
}

// wait blocks until finish.
func (q *writeReq) wait() (incrResult, error) {
	q.ready.Lock()
	defer q.ready.Unlock()
	return q.res, q.err
}

// release returns q to the pool; q must not be used afterwards.
func (q *writeReq) release() {
	*q = writeReq{}
	writeReqPool.Put(q)
}

// WriteTo waits for the outcome, writes the reply and releases q.
func (q *writeReq) WriteTo(w resp.Writer) {
	res, err := q.wait()
	if !q.start.IsZero() {
		q.lat.Observe(time.Since(q.start).Seconds())
	}
	if err != nil {
		if q.errs != nil {
			q.errs.Inc()
		}
		w.WriteErr(err)
	} else {
		w.WriteInt64(res.total)
	}
	q.release()
}
