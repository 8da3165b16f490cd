package shard

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linxGnu/grocksdb"

	"github.com/shardcounter/shardcounter/resp"
)

type opKind uint8

const (
	opIncr opKind = iota
	opSet
	opDel
	opFlush
	opMulti // SC.MINCR: several keys under one request id
	// opProbe (SC.PING) writes the probe record, so that its reply proves
	// the writer and the disk take writes (see Server.scPing).
	opProbe
	opCover // SC.COVER: set the covered part of some partials, compare-and-set
	opEpoch // SC.EPOCH: the reset epochs of some keys (see writer.epochs)
)

// op is one write waiting for the writer. The writer fills in val or err
// and resolves fut.
type op struct {
	kind   opKind
	key    []byte
	delta  int64 // opIncr: the delta; opSet: the new value
	lo, hi int64 // opIncr: the lowest and highest running sums (see resp.IncrCmd)
	id     resp.RequestID
	hasID  bool

	items  []incrItem  // opMulti
	covers []coverItem // opCover
	keys   [][]byte    // opEpoch
	epochs []int64     // opEpoch: the reply, one per key

	val     int64 // opIncr: the new partial's count; opDel: 1 if the key existed
	covered int64 // opIncr: the new partial's covered part
	err     error
	dup     *op // set when this op repeats an earlier request id in the same batch
	fut     *resp.Future
}

// incrItem is one key of an opMulti, with its outcome.
type incrItem struct {
	key           []byte
	delta, lo, hi int64
	val, covered  int64 // the new partial's count and covered part
	overflow      bool
}

// coverItem is one key of an opCover: covered becomes to if it was from
// and no reset of the key came since epoch. now is what covered is after
// the op.
type coverItem struct {
	key      []byte
	epoch    int64
	from, to int64
	now      int64
	overflow bool
}

// writePartial writes a partial as an SC.* reply does: its count, or the
// array [count, covered] when a fold covered other shards' counts (see
// partial).
func writePartial(w resp.Writer, count, covered int64) {
	if covered == 0 {
		w.WriteInt64(count)
		return
	}
	w.WriteArray(2)
	w.WriteInt64(count)
	w.WriteInt64(covered)
}

func (o *op) reply() resp.Reply {
	switch {
	case o.err != nil:
		return resp.Err(o.err)
	case o.kind == opMulti:
		items := o.items
		return itemsReply(len(items), func(i int) bool { return items[i].overflow },
			func(w resp.Writer, i int) { writePartial(w, items[i].val, items[i].covered) })
	case o.kind == opCover:
		covers := o.covers
		return itemsReply(len(covers), func(i int) bool { return covers[i].overflow },
			func(w resp.Writer, i int) { w.WriteInt64(covers[i].now) })
	case o.kind == opEpoch:
		epochs := o.epochs
		return resp.ReplyFunc(func(w resp.Writer) {
			w.WriteArray(len(epochs))
			for _, e := range epochs {
				w.WriteInt64(e)
			}
		})
	case o.kind == opIncr && o.hasID:
		return resp.ReplyFunc(func(w resp.Writer) { writePartial(w, o.val, o.covered) })
	case o.kind == opIncr || o.kind == opDel:
		return resp.Int(o.val)
	case o.kind == opProbe:
		return resp.Status("PONG")
	}
	return resp.OK
}

// itemsReply is the reply to an op of n items: for each, the overflow
// error when it overflowed, or what write writes.
func itemsReply(n int, overflowed func(int) bool, write func(resp.Writer, int)) resp.Reply {
	return resp.ReplyFunc(func(w resp.Writer) {
		w.WriteArray(n)
		for i := range n {
			if overflowed(i) {
				w.WriteErr(resp.ErrOverflow)
			} else {
				write(w, i)
			}
		}
	})
}

// writer is the shard's single logical writer. It takes ops from many
// connections, applies them in memory in arrival order, writes each group as
// one RocksDB WriteBatch (group commit: the WAL is written, and with --sync
// fsynced, once per group) and only then replies to every op of the group.
//
// Only the writer goroutine touches cache, dedup and the batch state.
type writer struct {
	st       *store
	log      *slog.Logger
	ch       chan *op
	maxBatch int

	mu     sync.RWMutex // guards closed against submit
	closed bool
	stop   chan struct{}
	done   chan struct{}

	cache *partialCache // hot committed partials
	dedup *dedupIndex

	// write writes a batch to RocksDB (store.write); a test may stall it
	// as a hung disk would.
	write func(*grocksdb.WriteBatch) error

	// Batch state, reused between batches.
	wb      *grocksdb.WriteBatch
	dirty   map[string]dirtyValue
	loaded  map[string]loadedValue // committed partials of this batch's keys
	pending map[resp.RequestID]*op
	keyBuf  []byte
	valBuf  []byte

	writes  atomic.Uint64 // ops applied
	batches atomic.Uint64 // WriteBatches written

	// epochs count the resets (SET, DEL, FLUSH) of the keys of each of
	// epochBuckets buckets by KeyHash, from a start that differs between
	// runs. A fold reads a key's epoch (SC.EPOCH) before it reads the
	// partials, and its SC.COVER applies only if the epoch is unchanged:
	// a fold that read a counter before a reset must not cover partials
	// that the reset deleted. (Comparing covered alone would not do: a
	// reset sets it to 0 as it was before the fold.) They live in memory
	// only: a restart starts them anew, and covers in flight across it
	// fail and are made again.
	epochs [epochBuckets]int64
}

// epochBuckets is the number of reset epochs, a power of two: a reset
// makes the folds of the other keys of its bucket wait for the next try.
const epochBuckets = 4096

func epochBucket(key []byte) int { return int(resp.KeyHash(key) & (epochBuckets - 1)) }

type loadedValue struct {
	v      partial
	exists bool
}

type dirtyValue struct {
	v       partial
	deleted bool
}

func newWriter(st *store, log *slog.Logger, cacheEntries, maxBatch int, window time.Duration) (*writer, error) {
	cache := newPartialCache(cacheEntries)
	d, err := loadDedupIndex(st, window)
	if err != nil {
		return nil, err
	}
	w := &writer{
		st: st, log: log, ch: make(chan *op, maxBatch), maxBatch: maxBatch,
		stop: make(chan struct{}), done: make(chan struct{}),
		cache: cache, dedup: d, write: st.write,
		wb: grocksdb.NewWriteBatch(), dirty: make(map[string]dirtyValue), loaded: make(map[string]loadedValue), pending: make(map[resp.RequestID]*op),
	}
	start := time.Now().UnixNano()
	for i := range w.epochs {
		w.epochs[i] = start
	}
	return w, nil
}

// submit queues o. It fails with ErrShuttingDown once the writer is closing;
// then o was certainly not applied.
func (w *writer) submit(o *op) error {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return fmt.Errorf("%w: not accepting writes", resp.ErrShuttingDown)
	}
	w.ch <- o
	return nil
}

// run is the writer goroutine.
func (w *writer) run() {
	defer close(w.done)
	prune := time.NewTicker(w.dedup.pruneEvery())
	defer prune.Stop()
	batch := make([]*op, 0, w.maxBatch)
	for {
		select {
		case o := <-w.ch:
			batch = append(batch[:0], o)
		drain:
			for len(batch) < w.maxBatch {
				select {
				case o := <-w.ch:
					batch = append(batch, o)
				default:
					break drain
				}
			}
			w.apply(batch)
			clear(batch)
		case now := <-prune.C:
			if err := w.dedup.prune(now); err != nil {
				w.log.Error("pruning request ids failed", "err", err)
			}
		case <-w.stop:
			for {
				select {
				case o := <-w.ch:
					w.apply([]*op{o})
				default:
					return
				}
			}
		}
	}
}

// close stops taking ops, finishes the queued ones and stops the goroutine.
func (w *writer) close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.done
		return
	}
	w.closed = true
	w.mu.Unlock()
	close(w.stop)
	<-w.done
	w.wb.Destroy()
}

// value returns the partial of key as this batch sees it.
func (w *writer) value(key []byte, flushed bool) (partial, bool, error) {
	if d, ok := w.dirty[string(key)]; ok {
		return d.v, !d.deleted, nil
	}
	if flushed {
		return partial{}, false, nil
	}
	if l, ok := w.loaded[string(key)]; ok {
		return l.v, l.exists, nil
	}
	if v, ok := w.cache.get(key); ok {
		return v, true, nil
	}
	return w.st.partial(key)
}

// load reads, in one RocksDB MultiGet, the partials of the batch's keys
// that are not in the cache: one call into RocksDB instead of one per key.
func (w *writer) load(batch []*op) error {
	var missing [][]byte
	need := func(key []byte) {
		if _, ok := w.loaded[string(key)]; ok {
			return
		}
		if v, ok := w.cache.get(key); ok {
			w.loaded[string(key)] = loadedValue{v: v, exists: true}
			return
		}
		w.loaded[string(key)] = loadedValue{} // placeholder, filled below
		missing = append(missing, key)
	}
	for _, o := range batch {
		switch o.kind {
		case opIncr, opDel:
			need(o.key)
		case opMulti:
			for _, it := range o.items {
				need(it.key)
			}
		case opCover:
			for _, c := range o.covers {
				need(c.key)
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	vals, found, err := w.st.partials(missing)
	if err != nil {
		return err
	}
	for i, key := range missing {
		w.loaded[string(key)] = loadedValue{v: vals[i], exists: found[i]}
	}
	return nil
}

// apply runs one group of ops and writes it as one WriteBatch: it reads
// the partials the ops need, applies the ops in memory in order, writes
// the result, and only then replies to each op.
func (w *writer) apply(batch []*op) {
	defer w.reset()
	if err := w.load(batch); err != nil {
		w.log.Error("reading partials failed; replying errors to the whole batch", "err", err, "ops", len(batch))
		for _, o := range batch {
			o.err = err
			o.fut.Resolve(o.reply())
		}
		return
	}
	flushed := w.applyOps(batch)
	err := w.commit(flushed, onlyProbes(batch))
	if err != nil {
		w.log.Error("RocksDB write failed; replying errors to the whole batch", "err", err, "ops", len(batch))
	}
	w.answer(batch, err)
}

// reset forgets the batch state once a batch is answered.
func (w *writer) reset() {
	w.wb.Clear()
	clear(w.loaded)
	clear(w.dirty)
	clear(w.pending)
}

// applyOps applies each op of the batch in memory, in order: the new partials
// go to dirty, request-id records to the WriteBatch. It reports whether
// the batch holds a FLUSH.
func (w *writer) applyOps(batch []*op) (flushed bool) {
	for _, o := range batch {
		switch o.kind {
		case opIncr:
			w.applyIncr(o, flushed)
		case opMulti:
			w.applyMulti(o, flushed)
		case opSet:
			w.dirty[string(o.key)] = dirtyValue{v: partial{count: o.delta}}
			w.epochs[epochBucket(o.key)]++
		case opDel:
			_, exists, err := w.value(o.key, flushed)
			if err != nil {
				o.err = err
				continue
			}
			if exists {
				o.val = 1
			}
			w.dirty[string(o.key)] = dirtyValue{deleted: true}
			w.epochs[epochBucket(o.key)]++
		case opFlush:
			clear(w.dirty)
			flushed = true
			w.wb.DeleteRange([]byte{prefixCounter}, []byte{prefixCounter + 1})
			for i := range w.epochs {
				w.epochs[i]++
			}
		case opProbe:
			w.valBuf = encodeInt(w.valBuf[:0], time.Now().UnixNano())
			w.wb.Put(metaProbe, w.valBuf)
		case opCover:
			w.applyCover(o, flushed)
		case opEpoch:
			o.epochs = make([]int64, len(o.keys))
			for i, k := range o.keys {
				o.epochs[i] = w.epochs[epochBucket(k)]
			}
		}
	}
	return flushed
}

// onlyProbes reports whether the batch holds nothing but probes.
func onlyProbes(batch []*op) bool {
	for _, o := range batch {
		if o.kind != opProbe {
			return false
		}
	}
	return true
}

// commit writes the dirty partials with the rest of the WriteBatch and,
// once RocksDB has it, updates the cache and the applied request ids. A
// batch of probes alone is not counted in batches, which tells that the
// counters changed (see counterCount).
func (w *writer) commit(flushed, probes bool) error {
	for k, d := range w.dirty {
		w.keyBuf = counterKey(w.keyBuf[:0], []byte(k))
		if d.deleted {
			w.wb.Delete(w.keyBuf)
		} else {
			w.valBuf = appendPartial(w.valBuf[:0], d.v)
			w.wb.Put(w.keyBuf, w.valBuf)
		}
	}
	if w.wb.Count() == 0 {
		return nil
	}
	if err := w.write(w.wb); err != nil {
		// Not IOERR ("not applied"): a write that failed, say at its
		// fsync, may already be in the WAL, and come back with it at the
		// next start. A coordinator must neither re-route it nor report
		// it as refused.
		return fmt.Errorf("%w: RocksDB write failed, the batch may be in its log: %v", resp.ErrAmbiguous, err)
	}
	if !probes {
		w.batches.Add(1)
	}
	if flushed {
		w.cache.purge()
	}
	for k, d := range w.dirty {
		w.keyBuf = append(w.keyBuf[:0], k...)
		if d.deleted {
			w.cache.remove(w.keyBuf)
		} else {
			w.cache.add(w.keyBuf, d.v)
		}
	}
	for id := range w.pending {
		w.dedup.applied(id)
	}
	return nil
}

// answer replies to each op of the batch: werr, when the write failed, to
// every op that had not failed already; a repeated request id, the reply
// of its first op in the batch.
func (w *writer) answer(batch []*op, werr error) {
	applied := 0
	for _, o := range batch {
		if werr != nil && o.err == nil {
			o.err = werr
		}
		if o.dup != nil {
			o.val, o.err = o.dup.val, o.dup.err
			o.covered = o.dup.covered
			for i := range o.items {
				if i < len(o.dup.items) {
					o.items[i].val, o.items[i].covered, o.items[i].overflow = o.dup.items[i].val, o.dup.items[i].covered, o.dup.items[i].overflow
				}
			}
		}
		if o.err == nil && o.kind != opProbe && o.kind != opEpoch {
			applied += max(1, len(o.items))
		}
		o.fut.Resolve(o.reply())
	}
	w.writes.Add(uint64(applied))
}

func (w *writer) applyIncr(o *op, flushed bool) {
	if o.hasID {
		if first, ok := w.pending[o.id]; ok {
			o.dup = first
			return
		}
		prev, seen, err := w.dedup.lookup(o.id)
		if err == nil && seen {
			var p partial
			p, err = decodePartial(prev)
			o.val, o.covered = p.count, p.covered
		}
		if err != nil || seen {
			o.err = err
			return
		}
	}
	old, _, err := w.value(o.key, flushed)
	if err != nil {
		o.err = err
		return
	}
	v, ok := incrPartial(old, o.delta, o.lo, o.hi)
	if !ok {
		o.err = resp.ErrOverflow
		return
	}
	w.dirty[string(o.key)] = dirtyValue{v: v}
	o.val, o.covered = v.count, v.covered
	if o.hasID {
		w.pending[o.id] = o
		w.keyBuf = dedupKey(w.keyBuf[:0], o.id)
		w.valBuf = appendPartial(w.valBuf[:0], v)
		w.wb.Put(w.keyBuf, w.valBuf)
	}
}

// incrPartial adds delta to p's count, unless that or any running sum
// between lo and hi leaves the int64 range, counted from the count and,
// for a partial that covers others, from the basis the reply counts from
// too (see applyDelta).
func incrPartial(p partial, delta, lo, hi int64) (partial, bool) {
	v, ok := applyDelta(p.count, delta, lo, hi)
	if ok && p.covered != 0 {
		basis, fits := p.basis()
		_, ok = applyDelta(basis, delta, lo, hi)
		ok = ok && fits
	}
	return partial{count: v, covered: p.covered}, ok
}

// applyCover applies an SC.COVER: each item's covered part becomes to if
// it is from and the key's epoch is the item's, and is left as it is
// otherwise; either way the item reports what it is now. A covered part
// whose basis would leave int64 is refused. No request id is needed:
// applying an item twice does what applying it once did.
func (w *writer) applyCover(o *op, flushed bool) {
	for i := range o.covers {
		c := &o.covers[i]
		old, exists, err := w.value(c.key, flushed)
		if err != nil {
			o.err = err
			return
		}
		c.now = old.covered
		if old.covered != c.from || c.from == c.to || w.epochs[epochBucket(c.key)] != c.epoch {
			continue
		}
		next := partial{count: old.count, covered: c.to}
		if _, ok := next.basis(); !ok {
			c.overflow = true
			continue
		}
		if !exists && next == (partial{}) {
			continue
		}
		w.dirty[string(c.key)] = dirtyValue{v: next}
		c.now = c.to
	}
}

// applyDelta is old+delta, unless that or any running sum between lo and
// hi (see resp.IncrCmd) leaves the int64 range.
func applyDelta(old, delta, lo, hi int64) (int64, bool) {
	_, okLo := resp.AddInt(old, lo)
	_, okHi := resp.AddInt(old, hi)
	v, ok := resp.AddInt(old, delta)
	return v, ok && okLo && okHi
}

// applyMulti applies an SC.MINCR: each item as applyIncr would, under the
// op's one request id, recorded with every item's outcome.
func (w *writer) applyMulti(o *op, flushed bool) {
	if first, ok := w.pending[o.id]; ok {
		o.dup = first
		return
	}
	prev, seen, err := w.dedup.lookup(o.id)
	if err == nil && seen {
		err = decodeItems(prev, o.items)
	}
	if err != nil || seen {
		o.err = err
		return
	}
	// Read every item first: an error must leave nothing applied.
	olds := make([]partial, len(o.items))
	for i := range o.items {
		old, _, err := w.value(o.items[i].key, flushed)
		if err != nil {
			o.err = err
			return
		}
		olds[i] = old
	}
	for i := range o.items {
		it := &o.items[i]
		if i > 0 {
			// An earlier item of this op may have changed the same key.
			olds[i], _, _ = w.value(it.key, flushed)
		}
		v, ok := incrPartial(olds[i], it.delta, it.lo, it.hi)
		if !ok {
			it.overflow = true
			continue
		}
		w.dirty[string(it.key)] = dirtyValue{v: v}
		it.val, it.covered = v.count, v.covered
	}
	w.pending[o.id] = o
	w.keyBuf = dedupKey(w.keyBuf[:0], o.id)
	w.valBuf = encodeItems(w.valBuf[:0], o.items)
	w.wb.Put(w.keyBuf, w.valBuf)
}

// The flag byte of an item in an SC.MINCR's dedup record.
const (
	itemOverflowed = 1 << 0
	itemCovers     = 1 << 1 // the partial's covered part follows its count
)

// encodeItems is the dedup record of an SC.MINCR: per item a flag byte,
// the new partial's 8-byte count and, for a partial that covers others,
// its 8-byte covered part.
func encodeItems(dst []byte, items []incrItem) []byte {
	for _, it := range items {
		flag := byte(0)
		if it.overflow {
			flag |= itemOverflowed
		}
		if it.covered != 0 {
			flag |= itemCovers
		}
		dst = encodeInt(append(dst, flag), it.val)
		if it.covered != 0 {
			dst = encodeInt(dst, it.covered)
		}
	}
	return dst
}

func decodeItems(rec []byte, items []incrItem) error {
	mismatch := func() error {
		return fmt.Errorf("%w: request record of %d bytes does not hold %d items: the retry does not match the original", resp.ErrStorage, len(rec), len(items))
	}
	for i := range items {
		if len(rec) < 9 {
			return mismatch()
		}
		flag := rec[0]
		items[i].overflow = flag&itemOverflowed != 0
		items[i].val, items[i].covered = int64(binary.BigEndian.Uint64(rec[1:9])), 0
		rec = rec[9:]
		if flag&itemCovers != 0 {
			if len(rec) < 8 {
				return mismatch()
			}
			items[i].covered = int64(binary.BigEndian.Uint64(rec[:8]))
			rec = rec[8:]
		}
	}
	if len(rec) != 0 {
		return mismatch()
	}
	return nil
}

// dedupIndex knows which request ids a shard has applied, within a window.
//
// Every applied id is stored as d<coord><seq> in the same WriteBatch as its
// delta. maxSeq holds, per coordinator, the highest applied seq: an id above
// it cannot have been applied, so the common case needs no RocksDB read.
// Every window/8 the writer takes a checkpoint of maxSeq; the ids covered by
// a checkpoint older than the window are deleted with one range delete per
// coordinator, and ids at or below pruned[coord] are answered with
// ErrRequestExpired, since the shard can no longer tell. The range delete
// stops short of the last pruned id, whose record is emptied instead: that
// mark brings pruned[coord] back after a restart.
type dedupIndex struct {
	st          *store
	window      time.Duration
	maxSeq      map[uint64]uint64
	pruned      map[uint64]uint64
	checkpoints []dedupCheckpoint
}

type dedupCheckpoint struct {
	at     time.Time
	maxSeq map[uint64]uint64
}

// loadDedupIndex finds the coordinators that have ids stored, the highest
// seq of each and, from the mark prune leaves (an empty record, before any
// other of the coordinator's), up to which seq they were pruned. It seeks
// once per coordinator, not once per id, so start-up does not scan the
// database.
func loadDedupIndex(st *store, window time.Duration) (*dedupIndex, error) {
	d := &dedupIndex{st: st, window: window, maxSeq: map[uint64]uint64{}, pruned: map[uint64]uint64{}}
	it := st.db.NewIterator(st.ro)
	defer it.Close()
	for it.Seek([]byte{prefixDedup}); it.Valid(); {
		k := it.Key().Data()
		if len(k) != 17 || k[0] != prefixDedup {
			break
		}
		coord := binary.BigEndian.Uint64(k[1:9])
		if len(it.Value().Data()) == 0 {
			d.pruned[coord] = binary.BigEndian.Uint64(k[9:17])
		}
		// The last id of this coordinator is just before the first key past it.
		end := binary.BigEndian.AppendUint64([]byte{prefixDedup}, coord)
		end = append(end, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
		it.SeekForPrev(end)
		if !it.Valid() {
			break
		}
		last := it.Key().Data()
		if seq := binary.BigEndian.Uint64(last[9:17]); seq > d.pruned[coord] {
			d.maxSeq[coord] = seq
		}
		if coord == ^uint64(0) {
			break
		}
		it.Seek(binary.BigEndian.AppendUint64([]byte{prefixDedup}, coord+1))
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("shard: load request ids: %w", err)
	}
	d.checkpoint(time.Now())
	return d, nil
}

func (d *dedupIndex) pruneEvery() time.Duration { return max(d.window/8, time.Millisecond) }

// lookup tells whether id was applied and, if so, the partial it produced.
// lookup tells whether id was applied and, if so, returns the record of
// what it produced (see encodeInt and encodeItems).
func (d *dedupIndex) lookup(id resp.RequestID) ([]byte, bool, error) {
	if id.Seq <= d.pruned[id.Coord] {
		return nil, false, fmt.Errorf("%w: %s is older than the %s deduplication window", resp.ErrRequestExpired, id, d.window)
	}
	if id.Seq > d.maxSeq[id.Coord] {
		return nil, false, nil
	}
	var buf [17]byte
	v, err := d.st.db.GetBytes(d.st.ro, dedupKey(buf[:0], id))
	if err != nil {
		return nil, false, fmt.Errorf("%w: %v", resp.ErrStorage, err)
	}
	return v, v != nil, nil
}

// applied records that id is now stored.
func (d *dedupIndex) applied(id resp.RequestID) {
	if id.Seq > d.maxSeq[id.Coord] {
		d.maxSeq[id.Coord] = id.Seq
	}
}

func (d *dedupIndex) checkpoint(now time.Time) {
	snap := make(map[uint64]uint64, len(d.maxSeq))
	for c, s := range d.maxSeq {
		snap[c] = s
	}
	d.checkpoints = append(d.checkpoints, dedupCheckpoint{at: now, maxSeq: snap})
}

// prune deletes the ids covered by checkpoints older than the window, and
// takes a new checkpoint.
func (d *dedupIndex) prune(now time.Time) error {
	d.checkpoint(now)
	cut := 0
	for cut < len(d.checkpoints) && now.Sub(d.checkpoints[cut].at) > d.window {
		cut++
	}
	if cut == 0 {
		return nil
	}
	old := d.checkpoints[cut-1]
	wb := grocksdb.NewWriteBatch()
	defer wb.Destroy()
	for coord, seq := range old.maxSeq {
		if seq <= d.pruned[coord] {
			continue
		}
		from := binary.BigEndian.AppendUint64([]byte{prefixDedup}, coord)
		to := dedupKey(nil, resp.RequestID{Coord: coord, Seq: seq})
		wb.DeleteRange(from, to)
		wb.Put(to, nil) // the mark that loadDedupIndex reads pruned[coord] from
		d.pruned[coord] = seq
		// A coordinator that sent nothing for a whole window is gone.
		if d.maxSeq[coord] == seq {
			delete(d.maxSeq, coord)
		}
	}
	d.checkpoints = append(d.checkpoints[:0], d.checkpoints[cut:]...)
	if wb.Count() == 0 {
		return nil
	}
	return d.st.db.Write(d.st.wo, wb)
}
