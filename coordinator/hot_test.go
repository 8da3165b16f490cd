package coordinator

import (
	"fmt"
	"testing"

	"github.com/shardcounter/shardcounter/resp"
)

// keysInStripe returns n distinct keys that all fall in stripe 0.
func keysInStripe(n int) [][]byte {
	var out [][]byte
	for i := 0; len(out) < n; i++ {
		k := []byte(fmt.Sprintf("key-%d", i))
		if resp.KeyHash(k)%hotStripes == 0 {
			out = append(out, k)
		}
	}
	return out
}

func TestHotTrackerRates(t *testing.T) {
	h := newHotTracker()
	for i := 0; i < 100; i++ {
		h.observe([]byte("a"), 2)
	}
	for i := 0; i < 10; i++ {
		h.observe([]byte("b"), -1)
	}
	if got := h.top(10); len(got) != 0 {
		t.Fatalf("top before the first tick: %+v", got)
	}
	h.tick()
	got := h.top(10)
	if len(got) != 2 || got[0] != (hotCounter{"a", 100, 200}) || got[1] != (hotCounter{"b", 10, -10}) {
		t.Fatalf("after one window: %+v", got)
	}
	// A second window with only "b": rates are averages over both.
	for i := 0; i < 30; i++ {
		h.observe([]byte("b"), 1)
	}
	h.tick()
	got = h.top(1)
	if len(got) != 1 || got[0] != (hotCounter{"a", 50, 100}) {
		t.Fatalf("top 1 after two windows: %+v", got)
	}
	if got = h.top(10); got[1] != (hotCounter{"b", 20, 10}) {
		t.Fatalf("b after two windows: %+v", got)
	}
	// Counters idle for hotWindows windows are dropped.
	for i := 0; i < hotWindows; i++ {
		h.tick()
	}
	if got := h.top(10); len(got) != 0 {
		t.Fatalf("idle counters still listed: %+v", got)
	}
	if m := h.stripes[resp.KeyHash([]byte("a"))%hotStripes].entries.Load(); m != nil && len(*m) != 0 {
		t.Fatalf("idle counters still tracked: %d", len(*m))
	}
}

func TestHotTrackerChallenger(t *testing.T) {
	h := newHotTracker()
	keys := keysInStripe(hotPerStripe + 2)
	// Fill stripe 0 with lukewarm counters.
	for _, k := range keys[:hotPerStripe] {
		h.observe(k, 1)
	}
	h.tick()
	// A hot newcomer, mixed with a rare one, finds the stripe full.
	hot, rare := keys[hotPerStripe], keys[hotPerStripe+1]
	for i := 0; i < 500; i++ {
		h.observe(hot, 1)
		if i%50 == 0 {
			h.observe(rare, 1)
		}
	}
	if m := *h.stripes[0].entries.Load(); len(m) != hotPerStripe || m[string(hot)] != nil {
		t.Fatalf("stripe has %d entries, hot admitted early: %v", len(m), m[string(hot)] != nil)
	}
	h.tick() // the challenger replaces the coldest counter
	got := h.top(1)
	if len(got) != 1 || got[0].Key != string(hot) || got[0].WritesPerSec < 400 {
		t.Fatalf("top after the challenger's window: %+v", got)
	}
	// From now on it is counted exactly.
	for i := 0; i < 1000; i++ {
		h.observe(hot, 1)
	}
	h.tick()
	if got := h.top(1); got[0].Key != string(hot) || got[0].WritesPerSec < 700 {
		t.Fatalf("top after a tracked window: %+v", got)
	}
	if m := *h.stripes[0].entries.Load(); len(m) > hotPerStripe {
		t.Fatalf("stripe grew to %d entries", len(m))
	}
}

func TestHotTrackerObserveDoesNotAllocate(t *testing.T) {
	h := newHotTracker()
	key := []byte("tracked")
	h.observe(key, 1)
	if n := testing.AllocsPerRun(1000, func() { h.observe(key, 1) }); n != 0 {
		t.Errorf("observe of a tracked counter: %v allocations, want 0", n)
	}
	// An untracked key in a full stripe competes for the challenger slot
	// without allocating either, once the slot's buffer has grown.
	keys := keysInStripe(hotPerStripe + 2)
	for _, k := range keys[:hotPerStripe] {
		h.observe(k, 1)
	}
	h.observe(keys[hotPerStripe], 1)
	other := keys[hotPerStripe+1]
	if n := testing.AllocsPerRun(1000, func() { h.observe(other, 1) }); n != 0 {
		t.Errorf("observe of an untracked counter in a full stripe: %v allocations, want 0", n)
	}
}

func BenchmarkHotObserve(b *testing.B) {
	h := newHotTracker()
	b.Run("one-hot-key", func(b *testing.B) {
		key := []byte("global_likes")
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				h.observe(key, 1)
			}
		})
	})
	b.Run("many-keys", func(b *testing.B) {
		keys := make([][]byte, 100000)
		for i := range keys {
			keys[i] = []byte(fmt.Sprintf("counter:%d", i))
		}
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				h.observe(keys[i%len(keys)], 1)
				i += 7
			}
		})
	})
}
