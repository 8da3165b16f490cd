package coordinator

import (
	"context"
	"time"

	"github.com/shardcounter/shardcounter/resp"
)

// Folding: making the owner's INCRBY replies exact again.
//
// A counter written on a shard other than its owner (a failover write, or
// a hot counter's spread writes) has partials on several shards. Its GET
// is exact, as every GET is. Its INCRBY replies are exact only in a
// coordinator that knows the counter is split (see splitState); one that
// restarted, or dropped the counter from its split cache, would reply with
// the owner's partial alone.
//
// Moving the strays into the owner (add there, subtract here) cannot be
// done safely: a GET reads the shards one by one, and between the two
// steps it would count the stray twice or not at all. So nothing moves.
// The owner records in its partial what the other shards' partials of the
// counter added up to when it was folded, its covered part, and replies to
// increments with count+covered: the exact total while the others stay as
// they are. SC.COVER sets it by compare-and-set from what the folder read,
// so two folds of one counter, or a fold and a late retry of it, apply at
// most one change; and only if the key was not reset (SET, DEL, FLUSH)
// since the folder asked the owner for its reset epoch (SC.EPOCH), before
// its read: a reset sets covered back to 0, so comparing covered alone
// would let a fold read before the reset cover partials that are gone.
// GET and SHARDVALUES still add up the counts.
//
// The folder takes counters that may need a fold: a read found the other
// shards' partials adding up to something else than what the owner covers
// (observe), a write found the counter split (incr), or a shard's breaker
// closed (foldBack). It reads them afresh, with every shard up, and covers
// those that still need it. A read that finds a counter covered marks its
// split state folded: writes to the owner are answered from the owner's
// reply, and the other partials are kept as last seen for a write that
// goes elsewhere, which ends the fold (writeReq.splitState). Counters
// written with spread above 1, or hot, are not folded: their writes keep
// landing on several shards.

// foldEvery is how often one counter may be checked for a fold.
const foldEvery = time.Second

// foldQueue bounds the counters waiting for the folder; beyond it a check
// is dropped, and made again at the counter's next read or write.
const foldQueue = 4096

// foldLater queues key, whose split state is st, for the folder, unless
// folding does not apply to it or it was queued less than foldEvery ago.
func (r *router) foldLater(key []byte, st *splitState) {
	if !r.foldable(key) || !st.foldDue() {
		return
	}
	select {
	case r.folds <- string(key): // a copy: key may be a client's buffer
	default:
	}
}

// foldBack queues every split counter for the folder once a shard's
// breaker closes: those that took writes elsewhere while their owner was
// down, and those whose fold failed because some shard was down, are
// folded without waiting for their next read or write. Unlike foldLater
// it does not wait for foldEvery (a breaker closes seldom), and it waits
// for room in the queue, in a goroutine of its own, so that every counter
// of a long outage is checked.
func (r *router) foldBack() {
	if r.spread > 1 || r.nSplit.Load() == 0 || r.goFunc == nil {
		return
	}
	keys := r.split.Keys()
	r.goFunc(func() {
		for _, k := range keys {
			if !r.foldable([]byte(k)) {
				continue
			}
			st, ok := r.split.Peek(k)
			if !ok {
				continue
			}
			st.mu.Lock()
			st.foldAt = time.Now()
			st.mu.Unlock()
			select {
			case r.folds <- k:
			case <-r.ctx.Done():
				return
			}
		}
	})
}

// foldable reports whether key's partials may be folded into its owner
// now: its writes go to one shard, and that shard is up.
func (r *router) foldable(key []byte) bool {
	return r.spread == 1 && !r.isHot(key) && r.shards[r.ring.Owner(key)].up.Load()
}

// foldDue reports whether the counter may be queued for the folder now,
// foldEvery after the last time, and if so counts it as queued.
func (st *splitState) foldDue() bool {
	now := time.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	if now.Sub(st.foldAt) < foldEvery {
		return false
	}
	st.foldAt = now
	return true
}

// isHot reports whether key is a hot counter now (see refreshHot).
func (r *router) isHot(key []byte) bool {
	hs := r.hotSet.Load()
	if hs == nil {
		return false
	}
	_, hot := (*hs)[string(key)]
	return hot
}

// foldLoop is the folder: it checks the queued counters in rounds of up
// to maxRound.
func (r *router) foldLoop(ctx context.Context) {
	keys := make([][]byte, 0, maxRound)
	for {
		select {
		case <-ctx.Done():
			return
		case k := <-r.folds:
			keys = append(keys[:0], []byte(k))
		}
	drain:
		for len(keys) < maxRound {
			select {
			case k := <-r.folds:
				keys = append(keys, []byte(k))
			default:
				break drain
			}
		}
		r.fold(ctx, keys)
	}
}

// fold reads keys on every shard and covers, on its owner, each counter
// whose other partials add up to something else than the owner covers. It
// asks each owner for its keys' reset epochs first, so that a cover made
// from a read older than a reset is refused. It gives up on any error:
// the counter is checked again at its next read or write.
func (r *router) fold(ctx context.Context, keys [][]byte) {
	byOwner := map[int][]int{} // owner -> indexes in keys
	for i, k := range keys {
		owner := r.ring.Owner(k)
		byOwner[owner] = append(byOwner[owner], i)
	}
	epochs := make([]int64, len(keys))
	for owner, idx := range byOwner {
		if !r.epochs(ctx, r.shards[owner], keys, idx, epochs) {
			delete(byOwner, owner)
		}
	}
	read := make(chan error, 1)
	var rr *readResult
	r.read(keys, func(res *readResult, err error) {
		rr = res
		read <- err
	})
	if err := <-read; err != nil {
		return
	}
	for owner, idx := range byOwner {
		var items []resp.CoverItem
		for _, i := range idx {
			others, covered, ok := rr.others(i, owner)
			if ok && others != covered && !r.isHot(keys[i]) {
				items = append(items, resp.CoverItem{Key: keys[i], Epoch: epochs[i], From: covered, To: others})
			}
		}
		r.cover(ctx, r.shards[owner], items)
	}
}

// epochs asks sc for the reset epochs of the keys at idx, into epochs.
// It reports whether it has them all.
func (r *router) epochs(ctx context.Context, sc *shardConn, keys [][]byte, idx []int, epochs []int64) bool {
	ask := make([][]byte, len(idx))
	for j, i := range idx {
		ask[j] = keys[i]
	}
	off := 0
	for _, chunk := range keyChunks(ask, sc.cmdBytes) {
		msg, err := sc.do(ctx, resp.KeysCmd{Name: resp.CmdEpoch, Shard: sc.name(), Keys: chunk}.Args())
		if err != nil {
			r.log.Warn("folding partials: reading reset epochs failed; the counters are folded at their next read or write", "shard", sc.id, "counters", len(chunk), "err", err)
			return false
		}
		got, err := msg.AsIntSlice()
		if err != nil || len(got) != len(chunk) {
			r.log.Warn("folding partials: bad SC.EPOCH reply", "shard", sc.id, "err", err, "epochs", len(got), "counters", len(chunk))
			return false
		}
		for j, e := range got {
			epochs[idx[off+j]] = e
		}
		off += len(chunk)
	}
	return true
}

// cover sends items to sc, their owner, as SC.COVERs of at most a quarter
// of the request limit each, and counts those that took effect.
func (r *router) cover(ctx context.Context, sc *shardConn, items []resp.CoverItem) {
	if len(items) == 0 {
		return
	}
	for _, chunk := range chunks(items, func(it resp.CoverItem) int { return itemBytes(it.Key) }, sc.cmdBytes) {
		msg, err := sc.do(ctx, resp.CoverCmd{Shard: sc.name(), Items: chunk}.Args())
		if err != nil {
			r.log.Warn("folding partials into their owner failed; they are folded at the counters' next read or write", "shard", sc.id, "counters", len(chunk), "err", err)
			return
		}
		replies, err := msg.ToArray()
		if err != nil || len(replies) != len(chunk) {
			r.log.Warn("folding partials: bad SC.COVER reply", "shard", sc.id, "err", err, "replies", len(replies), "counters", len(chunk))
			return
		}
		for i := range replies {
			if now, err := replies[i].AsInt64(); err == nil && now == chunk[i].To {
				r.metrics.folds.Inc()
			}
		}
	}
}

// others is the sum of key i's partials on the shards other than owner,
// and what owner's partial covers of them. ok is false when the sum leaves
// int64.
func (rr *readResult) others(i, owner int) (others, covered int64, ok bool) {
	var sum resp.Sum
	for s := range rr.partials {
		if s != owner && rr.found[s][i] {
			sum.Add(rr.partials[s][i])
		}
	}
	others, ok = sum.Int64()
	return others, rr.coveredBy(owner, i), ok
}
