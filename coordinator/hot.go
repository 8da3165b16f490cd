package coordinator

import (
	"bytes"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/shardcounter/shardcounter/resp"
)

// hotTracker finds the counters with the highest write rate, for the
// dashboard's "hot counters".
//
// It sits on the write path (router.incr calls observe for every
// increment), so observe must be cheap: for a counter already tracked it is
// a hash, a lock-free map lookup and two atomic adds, with no allocation
// and no lock. Keys are spread over hotStripes stripes by KeyHash; each
// stripe tracks at most hotPerStripe counters in a map that is never
// changed in place, only replaced under the stripe's lock (copy on write).
// A write to an untracked counter takes that stripe's lock: it is admitted
// while the stripe has room, or else competes for the stripe's one
// challenger slot (Misra-Gries with one counter), which tick swaps in for
// the stripe's coldest counter when the challenger was written more often.
//
// tick, called once a second, closes the current window: it moves each
// counter's writes into a short history (hotWindows seconds), which gives
// the rates, and drops counters without writes in that history. The result
// is approximate by design: a counter much hotter than the others of its
// stripe is always found; rates count increments as they reach the
// coordinator, including any that then fail.
type hotTracker struct {
	stripes [hotStripes]hotStripe
}

const (
	hotStripes   = 64
	hotPerStripe = 16
	hotWindows   = 5
)

type hotMap = map[string]*hotEntry

type hotStripe struct {
	entries atomic.Pointer[hotMap] // read without a lock; replaced whole under mu

	mu    sync.Mutex
	cand  []byte // the challenger: the untracked key written most, approximately
	candN int64
	_     [80]byte // 128 bytes a stripe: keep stripes on separate cache lines
}

// hotEntry is one tracked counter. writes and amount are the current
// window, added to by observe; the rest belongs to tick and top, under the
// stripe's lock.
type hotEntry struct {
	writes atomic.Int64 // increments this window
	amount atomic.Int64 // sum of their deltas

	key     string
	hist    [hotWindows]int64 // increments per closed window, newest at pos-1
	histAmt [hotWindows]int64
	pos     int
	windows int // closed windows so far, up to hotWindows
}

func newHotTracker() *hotTracker { return &hotTracker{} }

// observe counts one increment of key by delta.
func (h *hotTracker) observe(key []byte, delta int64) {
	st := &h.stripes[resp.KeyHash(key)%hotStripes]
	if m := st.entries.Load(); m != nil {
		if e := (*m)[string(key)]; e != nil {
			e.writes.Add(1)
			e.amount.Add(delta)
			return
		}
	}
	st.miss(key, delta)
}

// miss counts an increment of a key the stripe does not track yet.
func (st *hotStripe) miss(key []byte, delta int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	var m hotMap
	if p := st.entries.Load(); p != nil {
		m = *p
	}
	if e := m[string(key)]; e != nil { // admitted meanwhile
		e.writes.Add(1)
		e.amount.Add(delta)
		return
	}
	if len(m) < hotPerStripe {
		e := &hotEntry{key: string(key)}
		e.writes.Store(1)
		e.amount.Store(delta)
		st.replace(m, e, nil)
		return
	}
	switch {
	case bytes.Equal(st.cand, key):
		st.candN++
	case st.candN == 0:
		st.cand = append(st.cand[:0], key...)
		st.candN = 1
	default:
		st.candN--
	}
}

// replace stores a copy of m with add added and drop removed. Called with
// mu held.
func (st *hotStripe) replace(m hotMap, add *hotEntry, drop map[*hotEntry]bool) {
	n := make(hotMap, len(m)+1)
	for k, e := range m {
		if !drop[e] {
			n[k] = e
		}
	}
	if add != nil {
		n[add.key] = add
	}
	st.entries.Store(&n)
}

// tick closes the current window of every stripe.
func (h *hotTracker) tick() {
	for i := range h.stripes {
		h.stripes[i].tick()
	}
}

func (st *hotStripe) tick() {
	st.mu.Lock()
	defer st.mu.Unlock()
	p := st.entries.Load()
	if p == nil {
		return
	}
	m := *p
	var drop map[*hotEntry]bool
	var coldest *hotEntry
	coldestSum := int64(-1)
	for _, e := range m {
		e.hist[e.pos] = e.writes.Swap(0)
		e.histAmt[e.pos] = e.amount.Swap(0)
		e.pos = (e.pos + 1) % hotWindows
		e.windows = min(e.windows+1, hotWindows)
		sum := e.sum()
		if sum == 0 && e.windows == hotWindows {
			if drop == nil {
				drop = map[*hotEntry]bool{}
			}
			drop[e] = true
			continue
		}
		if coldestSum < 0 || sum < coldestSum {
			coldest, coldestSum = e, sum
		}
	}
	var add *hotEntry
	if st.candN > 0 && len(drop) == 0 && coldest != nil && st.candN > coldestSum {
		// The challenger was written more than the coldest counter in all
		// its history: swap them.
		if drop == nil {
			drop = map[*hotEntry]bool{}
		}
		drop[coldest] = true
		add = &hotEntry{key: string(st.cand), windows: 1}
		add.hist[0] = st.candN
		add.pos = 1
	}
	st.cand, st.candN = st.cand[:0], 0
	if drop != nil || add != nil {
		st.replace(m, add, drop)
	}
}

func (e *hotEntry) sum() int64 {
	var s int64
	for _, v := range e.hist {
		s += v
	}
	return s
}

// hotCounter is one counter's write rate over the last closed windows.
type hotCounter struct {
	Key          string
	WritesPerSec float64 // increments per second
	AmountPerSec float64 // sum of their deltas per second
}

// top returns the n counters with the highest write rate, highest first.
func (h *hotTracker) top(n int) []hotCounter {
	var all []hotCounter
	for i := range h.stripes {
		st := &h.stripes[i]
		st.mu.Lock()
		if p := st.entries.Load(); p != nil {
			for _, e := range *p {
				if e.windows == 0 {
					continue
				}
				var amt int64
				for _, v := range e.histAmt {
					amt += v
				}
				w := float64(e.windows)
				if s := e.sum(); s > 0 {
					all = append(all, hotCounter{Key: e.key, WritesPerSec: float64(s) / w, AmountPerSec: float64(amt) / w})
				}
			}
		}
		st.mu.Unlock()
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].WritesPerSec != all[j].WritesPerSec {
			return all[i].WritesPerSec > all[j].WritesPerSec
		}
		return all[i].Key < all[j].Key
	})
	if len(all) > n {
		all = all[:n]
	}
	return all
}
