package coordinator

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/shardcounter/shardcounter/resp"
	"github.com/shardcounter/shardcounter/ring"
)

// router decides where each write goes and gathers the partials of reads.
//
// Writes: a counter with spread n writes to one of the first n shards of
// its preference list (ring.Prefs); when that shard is down, to the next.
// Invariant 1 (a counter's value is the sum of its partials) makes any
// placement correct, so routing is only policy.
//
// Replies: for a counter held by one shard, INCRBY replies with that shard's
// new partial, which is the exact total. A counter known to have partials on
// several shards (a spread counter, or one written elsewhere during a
// failover, or seen so by a read) is "split": its reply adds the partials of
// the other shards as last seen.
type router struct {
	ring         *ring.Ring
	shards       []*shardConn
	writes       []*writeLane // per shard
	reads        []*readLane
	fan          chan *readFan // reads waiting for the next round of fanOut
	spread       int
	coord        uint64
	seq          atomic.Uint64
	pick         atomic.Uint64 // rotates a spread counter's writes over its shards
	stopped      atomic.Bool   // drain has run: the lanes are gone
	writeTimeout time.Duration
	retryBackoff time.Duration
	split        *lru.Cache[string, *splitState]
	ctx          context.Context // cancelled at shutdown; set by start
	goFunc       func(func())    // runs a tracked goroutine; set by start
	nSplit       atomic.Int64    // entries in split: the common case, 0, skips its lock
	// ownerSeen is the last partial each owner shard replied for a counter
	// held by one shard. When the owner goes down and the counter splits,
	// its replies start from there instead of from zero.
	ownerSeen *seenCache
	metrics   *metrics
	log       *slog.Logger
	hot       *hotTracker // the dashboard's hot counters: hot.go
	folds     chan string // counters for the folder to check: fold.go

	// Hot splitting: counters written faster than hotThreshold per second
	// get spread hotSpread. hotSet is replaced whole once a second.
	hotThreshold float64
	hotSpread    int
	hotSet       atomic.Pointer[map[string]struct{}]
}

// maxRound bounds the requests in one lane round.
const maxRound = 4096

// splitCacheSize bounds the split counters the coordinator remembers.
const splitCacheSize = 100000

func newRouter(rg *ring.Ring, shards []*shardConn, spread int, writeTimeout time.Duration, m *metrics) (*router, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("coordinator: make coordinator id: %w", err)
	}
	r := &router{
		ring: rg, shards: shards, spread: spread, coord: binary.BigEndian.Uint64(b[:]),
		writeTimeout: writeTimeout, retryBackoff: 20 * time.Millisecond, metrics: m,
		hot: newHotTracker(), fan: make(chan *readFan, maxRound), folds: make(chan string, foldQueue),
		log: slog.Default(),
	}
	var err error
	if r.split, err = lru.NewWithEvict(splitCacheSize, func(string, *splitState) { r.nSplit.Add(-1) }); err != nil {
		return nil, err
	}
	r.ownerSeen = newSeenCache()
	for _, sc := range shards {
		// The queue holds four rounds: room for the rerouted rounds of a
		// failed shard without a goroutine per request (see route).
		r.writes = append(r.writes, &writeLane{sc: sc, r: r, ch: make(chan *writeReq, 4*maxRound), maxBatch: maxRound, byKey: map[string]*group{}})
		r.reads = append(r.reads, &readLane{sc: sc, r: r, ch: make(chan *readReq, 1)})
	}
	return r, nil
}

// start runs every lane through goFunc.
func (r *router) start(ctx context.Context, goFunc func(func())) {
	r.ctx, r.goFunc = ctx, goFunc
	for i := range r.shards {
		wl, rl := r.writes[i], r.reads[i]
		goFunc(func() { wl.run(ctx) })
		goFunc(func() { rl.run(ctx) })
	}
	goFunc(func() { r.fanOut(ctx) })
	goFunc(func() { r.foldLoop(ctx) })
}

// nextID returns a request id unique to this coordinator process.
func (r *router) nextID() resp.RequestID {
	return resp.RequestID{Coord: r.coord, Seq: r.seq.Add(1)}
}

// incrResult is the outcome of one increment.
type incrResult struct {
	total   int64 // the reply: exact for a counter on one shard, best known for a split one
	shard   int   // the shard that took the write
	partial int64 // that shard's new partial
}

// incr routes q, made by newWriteReq. Its outcome is there once q.wait
// returns.
func (r *router) incr(q *writeReq) {
	r.hot.observe(q.key, q.delta)
	q.prefs = r.ring.Prefs(q.key)
	var st *splitState
	if r.nSplit.Load() > 0 {
		if s, ok := r.split.Get(string(q.key)); ok {
			// A folded counter is answered as one on its owner alone,
			// unless the write goes elsewhere (see writeReq.record).
			st, q.split = s, !s.folded.Load()
		}
	}
	spread := r.spread
	if r.isHot(q.key) {
		spread = max(spread, r.hotSpread)
		q.split = true
	} else if q.split {
		// Split, and written to its owner again: its other partials may
		// be folded into the owner's replies (fold.go).
		r.foldLater(q.key, st)
	}
	if q.split || spread > 1 {
		// Writes to several shards at once: each shard checks only the
		// others' partials as last seen, so the increments in flight are
		// counted here.
		if st == nil {
			st = r.splitState(q.key)
		}
		if err := st.reserve(q.delta); err != nil {
			q.finish(-1, 0, err)
			return
		}
		q.reserved = st
	}
	if spread > 1 {
		// Every write moves on to the next of the key's shards, also in
		// a burst of pipelined writes that all arrive before any is sent.
		q.first = int(r.pick.Add(1) % uint64(spread))
	}
	r.route(q, nil, false)
}

// route queues q for the next shard of its preference list, counting
// from q.first and wrapping around, that is up. inLane is true when the
// caller is a lane goroutine.
func (r *router) route(q *writeReq, lastErr error, inLane bool) {
	for q.tries < len(q.prefs) {
		i := (q.first + q.tries) % len(q.prefs)
		q.tries++
		sc := r.shards[q.prefs[i]]
		if !sc.up.Load() {
			lastErr = sc.unavailable()
			continue
		}
		q.pos = i
		if q.tries > 1 {
			// The shard it was meant for was down.
			r.metrics.failovers.WithLabelValues(r.shards[q.prefs[q.first]].id, sc.id).Inc()
		}
		lane := r.writes[sc.idx]
		select {
		case lane.ch <- q:
			r.orphans(sc.idx)
		default:
			if inLane {
				// A lane must never block on a full queue: the lanes
				// of two shards could wait on each other.
				r.goFunc(func() { r.sendWrite(lane, q) })
			} else {
				r.sendWrite(lane, q) // back-pressure on the client connection
			}
		}
		return
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("no shard left to try")
	}
	q.finish(-1, 0, fmt.Errorf("%w for key %q: %v", resp.ErrNoShardAvailable, q.key, lastErr))
}

// reroute sends q, which was certainly not applied where it was queued, to
// the next shard of its preference list.
func (r *router) reroute(q *writeReq, err error) {
	if !q.deadline.IsZero() && time.Now().After(q.deadline) {
		q.finish(-1, 0, fmt.Errorf("%w for key %q before the deadline: %v", resp.ErrNoShardAvailable, q.key, err))
		return
	}
	r.route(q, err, true)
}

// errShutdown answers requests that were never sent because the
// coordinator is shutting down.
var errShutdown = fmt.Errorf("%w: coordinator is shutting down", resp.ErrShuttingDown)

// sendWrite queues q on lane, or answers it if the coordinator shuts down
// first: a lane that has stopped would never answer it.
func (r *router) sendWrite(lane *writeLane, q *writeReq) {
	if r.ctx.Err() != nil {
		q.finish(-1, 0, errShutdown)
		return
	}
	select {
	case lane.ch <- q:
		r.orphans(lane.sc.idx)
	case <-r.ctx.Done():
		q.finish(-1, 0, errShutdown)
	}
}

// drain answers everything still queued once every lane has stopped.
func (r *router) drain() {
	r.stopped.Store(true)
	for _, l := range r.writes {
		l.failAll(nil)
	}
	r.emptyFan()
}

// orphans is called after a request went on shard i's queue. Once drain
// has run nothing reads that queue: a client still working through a
// pipeline it sent before the shutdown would wait for that reply forever.
// So whoever queues after drain began answers the queue itself. (Either
// drain sees the request in the queue, or the sender sees stopped.)
func (r *router) orphans(i int) {
	if r.stopped.Load() {
		r.emptyQueues(i)
	}
}

// emptyQueues answers every request queued for shard i with errShutdown;
// none of them was sent.
func (r *router) emptyQueues(i int) {
	for {
		select {
		case q := <-r.writes[i].ch:
			q.finish(i, 0, errShutdown)
		default:
			r.emptyReads(i)
			return
		}
	}
}

// emptyReads answers every read queued for shard i with errShutdown.
func (r *router) emptyReads(i int) {
	for {
		select {
		case q := <-r.reads[i].ch:
			q.done(i, nil, nil, nil, errShutdown)
		default:
			return
		}
	}
}

// emptyFan answers every read waiting for a round with errShutdown.
func (r *router) emptyFan() {
	for {
		select {
		case q := <-r.fan:
			q.done(nil, errShutdown)
		default:
			return
		}
	}
}

// splitState is what a coordinator knows of a split counter's partials.
type splitState struct {
	// folded is set when the last read found the owner covering the
	// others' partials (fold.go): then a write to the owner is answered
	// from the owner's reply alone, which is exact, and partials keep the
	// others' as they were for a write that goes elsewhere.
	folded   atomic.Bool
	mu       sync.Mutex
	partials []int64
	// up and down are the sums of the positive and of the negative
	// increments that this coordinator has in flight for the counter.
	up, down int64
	foldAt   time.Time // when the counter was last queued for the folder
}

// reserve counts delta as in flight, or fails with ErrOverflow when the
// best-known total with every increment in flight in delta's direction and
// delta would leave int64. Each successful reserve is undone by one done.
func (st *splitState) reserve(delta int64) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	t, err := st.sumLocked()
	if err != nil {
		return err
	}
	pending := &st.up
	if delta < 0 {
		pending = &st.down
	}
	t, ok := resp.AddInt(t, *pending)
	if ok {
		_, ok = resp.AddInt(t, delta)
	}
	sum, fits := resp.AddInt(*pending, delta)
	if !ok || !fits {
		return resp.ErrOverflow
	}
	*pending = sum
	return nil
}

// done ends an increment of delta that reserve counted: shard took it and
// its partial is now partial, in one step, and done returns the best-known
// total; or, with shard -1, it was not applied.
func (st *splitState) done(delta int64, shard int, partial int64) (int64, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if delta < 0 {
		st.down -= delta
	} else {
		st.up -= delta
	}
	if shard < 0 {
		return 0, nil
	}
	st.partials[shard] = partial
	return st.sumLocked()
}

func (r *router) splitState(key []byte) *splitState {
	if st, ok := r.split.Get(string(key)); ok {
		return st
	}
	st := &splitState{partials: make([]int64, len(r.shards))}
	if v, ok := r.ownerSeen.get(key); ok {
		st.partials[r.ring.Owner(key)] = v
	}
	if prev, ok, _ := r.split.PeekOrAdd(string(key), st); ok {
		return prev
	}
	r.nSplit.Add(1)
	return st
}

// others is the best-known sum of the partials of q's key on shards other
// than shard, for a write to shard that may not be the only one holding
// the key: a split counter's, or a write to a shard other than the owner.
// It is 0 otherwise, and when the sum leaves int64 (the write then fails
// its check in finish).
func (r *router) others(q *writeReq, shard int) int64 {
	if !q.mayBeSplit(shard) {
		return 0
	}
	st := q.splitState(shard)
	if st == nil {
		return 0
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	var sum resp.Sum
	for s, p := range st.partials {
		if s != shard {
			sum.Add(p)
		}
	}
	t, ok := sum.Int64()
	if !ok {
		return 0
	}
	return t
}

// set records shard's partial and returns the best-known total.
func (st *splitState) set(shard int, partial int64) (int64, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.partials[shard] = partial
	return st.sumLocked()
}

// total is the best-known total, or ErrOverflow when the partials as last
// seen already add up past int64.
func (st *splitState) total() (int64, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.sumLocked()
}

func (st *splitState) sumLocked() (int64, error) {
	var sum resp.Sum
	for _, p := range st.partials {
		sum.Add(p)
	}
	t, ok := sum.Int64()
	if !ok {
		return 0, fmt.Errorf("%w: the partials of this counter add up past int64", resp.ErrOverflow)
	}
	return t, nil
}

// readResult is the partials of some keys on every shard.
type readResult struct {
	partials [][]int64 // [shard][key]
	found    [][]bool  // [shard][key]
	// covered is what each partial covers of the other shards' (see
	// router.fold), [shard][key]; a shard's row is nil when none of its
	// partials covers anything.
	covered [][]int64
}

// coveredRow is shard s's row of covered, nil when none of its partials
// covers anything.
func (rr *readResult) coveredRow(s int) []int64 {
	if s < len(rr.covered) {
		return rr.covered[s]
	}
	return nil
}

// coveredBy is what shard s's partial of key i covers of the others'.
func (rr *readResult) coveredBy(s, i int) int64 {
	if row := rr.coveredRow(s); row != nil {
		return row[i]
	}
	return 0
}

// total sums key i over the shards. ok is false when no shard has it.
func (rr *readResult) total(i int) (total int64, exists bool, err error) {
	var sum resp.Sum
	for s := range rr.partials {
		if rr.found[s][i] {
			exists = true
			sum.Add(rr.partials[s][i])
		}
	}
	total, ok := sum.Int64()
	if !ok {
		return 0, true, resp.ErrOverflow
	}
	return total, exists, nil
}

// readFan is one read waiting for a fan-out round.
type readFan struct {
	keys [][]byte
	done func(*readResult, error)
}

// read asks every shard for the partials of keys and calls done once with
// all of them. If any shard cannot answer, done gets that shard's error: a
// partial sum is never passed off as the total.
func (r *router) read(keys [][]byte, done func(*readResult, error)) {
	if r.ctx.Err() != nil {
		done(nil, errShutdown)
		return
	}
	select {
	case r.fan <- &readFan{keys: keys, done: done}:
		if r.stopped.Load() {
			r.emptyFan() // see orphans
		}
	case <-r.ctx.Done():
		done(nil, errShutdown)
	}
}

// fanOut runs the reads in rounds. A round takes every read queued while
// the last one was out and asks each shard once, through its read lane, for
// all their keys; the shards answer in parallel. Each read is answered when
// every shard has. So concurrent GETs share one round on each shard,
// instead of each lane starting a round of its own as soon as it is free,
// with whatever few reads came since. With 50 clients on one key a shard's
// round then carried 18-20 GETs instead of 11-15, and a GET cost the
// coordinator and the shards 16-19% less CPU (bench/README.md).
func (r *router) fanOut(ctx context.Context) {
	reqs := make([]*readFan, 0, maxRound)
	for {
		select {
		case <-ctx.Done():
			r.emptyFan()
			return
		case q := <-r.fan:
			reqs = append(reqs[:0], q)
		}
		nkeys := len(reqs[0].keys)
	drain:
		for nkeys < maxRound {
			select {
			case q := <-r.fan:
				reqs = append(reqs, q)
				nkeys += len(q.keys)
			default:
				break drain
			}
		}
		r.readRound(ctx, reqs, nkeys)
		clear(reqs)
	}
}

// readRound asks every shard for the keys of reqs, nkeys in all, waits for
// all of them and answers each read.
func (r *router) readRound(ctx context.Context, reqs []*readFan, nkeys int) {
	keys, at := distinctKeys(reqs, nkeys)
	n := len(r.shards)
	all := readResult{partials: make([][]int64, n), found: make([][]bool, n), covered: make([][]int64, n)}
	errs := make([]error, n)
	var wg sync.WaitGroup
	wg.Add(n)
	for i, rl := range r.reads {
		// fanOut is the only sender to the read lanes, one request a lane
		// a round, so this never waits for room (the queue holds one).
		rl.ch <- &readReq{keys: keys, done: func(shard int, partials, covered []int64, found []bool, err error) {
			all.partials[shard], all.covered[shard], all.found[shard], errs[shard] = partials, covered, found, err
			wg.Done()
		}}
		if ctx.Err() != nil {
			// The lane may have stopped already, and then nothing else
			// answers what is queued for it.
			r.emptyReads(i)
		}
	}
	wg.Wait()
	var err error
	for _, e := range errs {
		if e != nil {
			err = e
			break
		}
	}
	if err != nil {
		for _, q := range reqs {
			q.done(nil, err)
		}
		return
	}
	if at != nil {
		all.expand(at)
	}
	// Each read gets its own rows of the round's partials, from one
	// allocation for the whole round.
	results := make([]readResult, len(reqs))
	rows, foundRows := make([][]int64, n*len(reqs)), make([][]bool, n*len(reqs))
	var coveredRows [][]int64 // only when some partial covers others: rarely
	for _, c := range all.covered {
		if c != nil {
			coveredRows = make([][]int64, n*len(reqs))
			break
		}
	}
	off := 0
	for i, q := range reqs {
		k := len(q.keys)
		rr := &results[i]
		rr.partials, rr.found = rows[i*n:(i+1)*n:(i+1)*n], foundRows[i*n:(i+1)*n:(i+1)*n]
		if coveredRows != nil {
			rr.covered = coveredRows[i*n : (i+1)*n : (i+1)*n]
			for s, c := range all.covered {
				if c != nil {
					rr.covered[s] = c[off : off+k : off+k]
				}
			}
		}
		for s := range n {
			rr.partials[s], rr.found[s] = all.partials[s][off:off+k:off+k], all.found[s][off:off+k:off+k]
		}
		off += k
		r.observe(q.keys, rr)
		q.done(rr, nil)
	}
}

// distinctKeys lists the keys that reqs ask for, nkeys in all, each once:
// many clients reading one hot counter cost each shard one lookup a round.
// at[j] is the index in keys of the j-th key asked for; at is nil when no
// key repeats, and keys then are the keys asked for, in order.
func distinctKeys(reqs []*readFan, nkeys int) (keys [][]byte, at []int) {
	if len(reqs) == 1 && nkeys == 1 {
		return reqs[0].keys, nil
	}
	keys = make([][]byte, 0, nkeys)
	at = make([]int, 0, nkeys)
	index := make(map[string]int, nkeys)
	for _, q := range reqs {
		for _, k := range q.keys {
			i, ok := index[string(k)]
			if !ok {
				i = len(keys)
				index[string(k)] = i
				keys = append(keys, k)
			}
			at = append(at, i)
		}
	}
	if len(keys) == len(at) {
		at = nil
	}
	return keys, at
}

// expand turns the partials of distinct keys into those of every key
// asked for: key j's are those of distinct key at[j] (see distinctKeys).
func (rr *readResult) expand(at []int) {
	for s := range rr.partials {
		partials, found := make([]int64, len(at)), make([]bool, len(at))
		for j, i := range at {
			partials[j], found[j] = rr.partials[s][i], rr.found[s][i]
		}
		rr.partials[s], rr.found[s] = partials, found
		if rr.coveredRow(s) != nil {
			covered := make([]int64, len(at))
			for j, i := range at {
				covered[j] = rr.covered[s][i]
			}
			rr.covered[s] = covered
		}
	}
}

// observe learns from a read which counters are split: those with
// partials on shards other than the owner. It marks them folded when the
// owner's partial covers the others (see fold.go), and queues them for the
// folder otherwise.
func (r *router) observe(keys [][]byte, rr *readResult) {
	for i, k := range keys {
		owner := r.ring.Owner(k)
		others, covered, ok := rr.others(i, owner)
		strays := !ok || others != 0 || covered != 0
		folded := r.spread == 1 && ok && others == covered
		if r.spread == 1 && !strays {
			if r.spread == 1 {
				r.split.Remove(string(k))
				if rr.found[owner][i] {
					r.ownerSeen.put(k, rr.partials[owner][i])
				}
			}
			continue
		}
		st := r.splitState(k)
		st.mu.Lock()
		for s := range rr.partials {
			st.partials[s] = 0
			if rr.found[s][i] {
				st.partials[s] = rr.partials[s][i]
			}
		}
		st.folded.Store(folded)
		st.mu.Unlock()
		if !folded && ok {
			r.foldLater(k, st)
		}
	}
}

// refreshHot recomputes the hot counters from the hot tracker, once a
// second. A counter becomes hot at hotThreshold writes per second and stays
// hot until it falls below half of that, so it does not flap.
func (r *router) refreshHot() {
	if r.hotThreshold <= 0 {
		return
	}
	old := r.hotSet.Load()
	set := map[string]struct{}{}
	for _, c := range r.hot.top(64) {
		was := false
		if old != nil {
			_, was = (*old)[c.Key]
		}
		if c.WritesPerSec >= r.hotThreshold || (was && c.WritesPerSec >= r.hotThreshold/2) {
			set[c.Key] = struct{}{}
		}
	}
	if len(set) == 0 {
		if old != nil {
			r.hotSet.Store(nil)
		}
		r.metrics.hotCounters.Set(0)
		return
	}
	r.hotSet.Store(&set)
	r.metrics.hotCounters.Set(float64(len(set)))
}
