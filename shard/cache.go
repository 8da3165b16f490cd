package shard

import (
	"github.com/coocood/freecache"
)

// cacheEntryBytes is the ring-buffer room one cached partial takes on
// average: the key (counter names are short), its 8-byte value and
// freecache's 24-byte header. The ring buffers are CacheEntries times this.
// freecache's index of them comes on top and grows as they fill: with
// names like counter:123456 the default cache holds about 350,000
// partials in about 40 MiB in all, some 115 bytes each.
const cacheEntryBytes = 64

// maxCacheEntries bounds Config.CacheEntries: 4 GiB of cache.
const maxCacheEntries = 1 << 26

// partialCache holds hot committed partials, so that an increment of a hot
// counter does not read RocksDB. It lives in freecache's preallocated ring
// buffers and their index: bounded memory, whatever the number of counters,
// and nothing the garbage collector has to scan (the LRU of Go maps and list
// elements it replaces cost a shard about a tenth of its CPU in GC under
// writes to a million distinct counters).
//
// Only the writer goroutine uses it. Eviction is freecache's approximate
// LRU; an evicted partial is read from RocksDB again.
type partialCache struct {
	c   *freecache.Cache
	buf [16]byte
}

func newPartialCache(entries int) *partialCache {
	return &partialCache{c: freecache.NewCache(cacheBufferBytes(entries))}
}

// freecacheMinBytes is the smallest cache freecache makes: it rounds any
// smaller size up to this.
const freecacheMinBytes = 512 << 10

// cacheBufferBytes is the size of the ring buffers of a cache of entries.
func cacheBufferBytes(entries int) int { return max(entries*cacheEntryBytes, freecacheMinBytes) }

func (p *partialCache) get(key []byte) (partial, bool) {
	v, err := p.c.GetWithBuf(key, p.buf[:])
	if err != nil {
		return partial{}, false
	}
	got, err := decodePartial(v)
	return got, err == nil
}

// add caches v as the committed partial of key, in its stored encoding. A
// key too long for the cache is not cached, and whatever it held for that
// key is dropped.
func (p *partialCache) add(key []byte, v partial) {
	if p.c.Set(key, appendPartial(p.buf[:0], v), 0) != nil {
		p.c.Del(key)
	}
}

func (p *partialCache) remove(key []byte) { p.c.Del(key) }

func (p *partialCache) purge() { p.c.Clear() }
