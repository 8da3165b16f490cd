package shard

import (
	"sync/atomic"
	"time"
)

// trimEvery is how often a shard gives the C heap's free pages back to the
// operating system. One trim took 50 to 220 µs on a shard of 250 MiB.
const trimEvery = 2 * time.Second

// trimmer hands the memory that RocksDB's flushes and compactions free back
// to the operating system. glibc keeps freed chunks in its free lists and
// returns only the top of a heap by itself, so without this a shard's RSS
// kept growing with the number of counters it had flushed and compacted,
// although RocksDB's own memory stays bounded (docs/OPERATIONS.md, "Memory").
type trimmer struct {
	trims atomic.Uint64 // trims done, for INFO memory: none without glibc
}

// run trims every interval until stop is closed.
func (t *trimmer) run(interval time.Duration, stop <-chan struct{}) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if trimCHeap() {
				t.trims.Add(1)
			}
		case <-stop:
			return
		}
	}
}
