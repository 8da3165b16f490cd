package shard

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/linxGnu/grocksdb"

	"github.com/shardcounter/shardcounter/resp"
)

// benchWriter applies b.N increments through the writer as coordinators
// send them: rounds of batch increments, each round one SC.MINCR (one op,
// one request id) that waits for its reply before the next, spread over
// keys distinct counters taken in turn. The caches are a shard's defaults,
// so 100,000 counters stay in the partial cache after their first round
// and a million do not: with a cache smaller than the keys, taking them
// in turn would miss it every time.
func benchWriter(b *testing.B, batch, keys int, sync bool) {
	cfg := DefaultConfig()
	st, err := openStore(b.TempDir(), "s1", sync, cfg.BlockCacheBytes)
	if err != nil {
		b.Fatal(err)
	}
	defer st.close()
	w, err := newWriter(st, slog.New(slog.NewTextHandler(io.Discard, nil)), cfg.CacheEntries, cfg.MaxBatch, time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	go w.run()
	defer w.close()
	names := make([][]byte, keys)
	for i := range names {
		names[i] = []byte(fmt.Sprintf("counter:%d", i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i, seq := 0, uint64(1); i < b.N; i, seq = i+batch, seq+1 {
		items := make([]incrItem, batch)
		for j := range items {
			items[j] = incrItem{key: names[(i+j)%keys], delta: 1, lo: 0, hi: 1}
		}
		o := &op{kind: opMulti, items: items, id: resp.RequestID{Coord: 1, Seq: seq}, hasID: true, fut: resp.NewFuture()}
		if err := w.submit(o); err != nil {
			b.Fatal(err)
		}
		o.fut.Wait()
		if o.err != nil {
			b.Fatal(o.err)
		}
		for _, it := range items {
			if it.overflow || it.val < 1 {
				b.Fatalf("%s: partial %d (overflow %v) after an increment", it.key, it.val, it.overflow)
			}
		}
	}
}

func BenchmarkApplyOneKey(b *testing.B)            { benchWriter(b, 64, 1, false) }
func BenchmarkApplyManyKeys(b *testing.B)          { benchWriter(b, 64, 100000, false) }
func BenchmarkApplyMillionKeys(b *testing.B)       { benchWriter(b, 256, 1000000, false) }
func BenchmarkApplyManyKeysUnbatched(b *testing.B) { benchWriter(b, 1, 100000, false) }
func BenchmarkApplyManyKeysSync(b *testing.B)      { benchWriter(b, 64, 100000, true) }

// BenchmarkReadPartials reads the partials of 100 stored counters, as one
// SC.GET of 100 keys does: in one MultiGet, and for comparison one read a
// key.
func BenchmarkReadPartials(b *testing.B) {
	cfg := DefaultConfig()
	st, err := openStore(b.TempDir(), "s1", false, cfg.BlockCacheBytes)
	if err != nil {
		b.Fatal(err)
	}
	defer st.close()
	const stored, asked = 100000, 100
	wb := grocksdb.NewWriteBatch()
	defer wb.Destroy()
	for i := range stored {
		wb.Put(counterKey(nil, fmt.Appendf(nil, "counter:%d", i)), encodeInt(nil, int64(i)))
	}
	if err := st.write(wb); err != nil {
		b.Fatal(err)
	}
	keys := make([][]byte, asked)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "counter:%d", i*(stored/asked))
	}
	check := func(i int, v int64, ok bool) {
		if want := int64(i * (stored / asked)); !ok || v != want {
			b.Fatalf("%s: %d, %v; want %d", keys[i], v, ok, want)
		}
	}
	b.Run("MultiGet", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			vals, found, err := st.partials(keys)
			if err != nil {
				b.Fatal(err)
			}
			for i := range keys {
				check(i, vals[i].count, found[i])
			}
		}
	})
	b.Run("PerKey", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for i, k := range keys {
				v, ok, err := st.partial(k)
				if err != nil {
					b.Fatal(err)
				}
				check(i, v.count, ok)
			}
		}
	})
}
