package coordinator

import (
	"sync"

	"github.com/shardcounter/shardcounter/resp"
)

// seenCache remembers the last partial an owner shard replied for a
// counter, so that when the owner goes down the counter's failover replies
// start from there (see router.splitState). It is on the write path, so it
// is a fixed table indexed by KeyHash: no allocation, no eviction list, a
// striped lock. A slot holds one counter; a newer one overwrites it, and
// the 64-bit hash tells a hit from a slot another counter took.
type seenCache struct {
	locks [64]sync.Mutex
	slots []seenSlot
}

type seenSlot struct {
	hash    uint64
	partial int64
	set     bool
}

// seenSlots is the size of the table: 1 Mi slots, 24 MiB.
const seenSlots = 1 << 20

func newSeenCache() *seenCache { return &seenCache{slots: make([]seenSlot, seenSlots)} }

func (c *seenCache) put(key []byte, partial int64) {
	h := resp.KeyHash(key)
	i := h & (seenSlots - 1)
	mu := &c.locks[i%uint64(len(c.locks))]
	mu.Lock()
	c.slots[i] = seenSlot{hash: h, partial: partial, set: true}
	mu.Unlock()
}

func (c *seenCache) get(key []byte) (int64, bool) {
	h := resp.KeyHash(key)
	i := h & (seenSlots - 1)
	mu := &c.locks[i%uint64(len(c.locks))]
	mu.Lock()
	s := c.slots[i]
	mu.Unlock()
	if !s.set || s.hash != h {
		return 0, false
	}
	return s.partial, true
}
