package shard

import (
	"sync"
	"time"

	"github.com/linxGnu/grocksdb"
)

// counterCount is how many counters (partials) the shard holds, for
// SC.STATS and the dashboard.
//
// RocksDB's own key estimate also counts the request-id records (one per
// coordinator write, kept for the deduplication window) and range-deleted
// ones until compaction, so it can be far off. The exact number is counted
// by a background scan of the counter records instead, never at start-up
// and never in a request: Stats answers from the last count and starts a
// new scan when that is older than countMaxAge, and no sooner than
// countGapFactor times the last scan's duration after it, so a big shard
// under load spends at most 1% of a core counting. A shard that has
// written nothing since the last scan began keeps that count without
// scanning. While it is writing (it wrote since the previous look) a scan
// waits for a quiet look, but no longer than countMaxStale: a scan walks
// the memtables and shares the writer's CPU, and on random keys at
// GOMAXPROCS=1 one every few seconds cost 3-5% of the shard's throughput.
// A scan stops at countLimit records; Capped then says the number is a
// lower bound.
type counterCount struct {
	mu      sync.Mutex
	n       int64
	known   bool // a scan has ended
	capped  bool
	at      time.Time     // when the last scan ended
	took    time.Duration // how long it ran
	batches uint64        // the writer's batch count when it began
	seen    uint64        // the writer's batch count at the previous look
	running bool
}

const (
	countMaxAge    = time.Second
	countGapFactor = 100
	countLimit     = 10_000_000
)

// counters returns the last count (-1 before the first one) and whether it
// stopped at countLimit, and starts a new count when that one is stale.
func (s *Server) counters() (n int64, capped bool) {
	c := &s.count
	c.mu.Lock()
	defer c.mu.Unlock()
	written := s.w.batches.Load()
	busy := written != c.seen
	c.seen = written
	stale := !c.known || written != c.batches
	age := time.Since(c.at)
	due := age > max(countMaxAge, countGapFactor*c.took) && (!busy || age > countMaxStale)
	if !c.running && stale && due {
		s.mu.Lock()
		// goFunc only before Shutdown starts waiting for the goroutines.
		if !s.closing {
			c.running = true
			s.goFunc(func() { s.countCounters(written) })
		}
		s.mu.Unlock()
	}
	if !c.known {
		return -1, false
	}
	return c.n, c.capped
}

// countCounters scans the counter records and stores the count, taken when
// the writer had written batches batches. It gives up, keeping the last
// count, when the shard starts shutting down.
func (s *Server) countCounters(batches uint64) {
	start := time.Now()
	n, capped, ok := s.st.countCounters(countLimit, s.drain.Draining)
	c := &s.count
	c.mu.Lock()
	defer c.mu.Unlock()
	c.running = false
	c.at, c.took = time.Now(), time.Since(start)
	if ok {
		c.n, c.capped, c.known, c.batches = n, capped, true, batches
	}
}

// countCounters counts the counter records, up to limit. ok is false when
// stop returned true before the end, or the iterator failed.
//
// An iterator keeps the memtables it started with in memory until it is
// closed, even after they are flushed, and a scan of millions of counters
// takes seconds; so the scan goes on with a new iterator every
// countIterKeys records, and holds at most one flushed memtable a moment.
func (s *store) countCounters(limit int64, stop func() bool) (n int64, capped, ok bool) {
	ro := grocksdb.NewDefaultReadOptions()
	defer ro.Destroy()
	ro.SetFillCache(false) // a full scan must not push the hot blocks out
	ro.SetIterateUpperBound([]byte{prefixCounter + 1})
	from := []byte{prefixCounter}
	for {
		var more bool
		from, more, capped, ok = s.countPiece(ro, from, &n, limit, stop)
		if !more {
			return n, capped, ok
		}
	}
}

// countPiece goes on with countCounters from the record at from, with one
// iterator, for up to countIterKeys records, adding them to *n. more says
// that the scan goes on at next; otherwise capped and ok are its outcome.
// Each piece is a read of its own: close waits for at most one.
func (s *store) countPiece(ro *grocksdb.ReadOptions, from []byte, n *int64, limit int64, stop func() bool) (next []byte, more, capped, ok bool) {
	if !s.read() {
		return nil, false, false, false
	}
	defer s.mu.RUnlock()
	it := s.db.NewIterator(ro)
	defer it.Close()
	i := int64(0)
	for it.Seek(from); it.Valid(); it.Next() {
		if i == countIterKeys {
			// Go on from here with a new iterator.
			return append(from[:0], it.Key().Data()...), true, false, true
		}
		i++
		*n++
		if *n >= limit {
			return nil, false, true, true
		}
		if *n%4096 == 0 && stop() {
			return nil, false, false, false
		}
	}
	return nil, false, false, it.Err() == nil
}

// countMaxStale is how long a count may wait for the shard to stop
// writing before it is taken anyway.
var countMaxStale = 30 * time.Second

// countIterKeys is how many records countCounters reads with one iterator.
var countIterKeys int64 = 1 << 18
