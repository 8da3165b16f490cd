package shard

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/shardcounter/shardcounter/resp"
)

// benchWriter applies b.N increments through the writer in groups of
// batch, the way a pipeline from coordinators arrives, spread over keys
// distinct counters.
func benchWriter(b *testing.B, batch, keys int, sync bool) {
	st, err := openStore(b.TempDir(), "s1", sync, 8<<20)
	if err != nil {
		b.Fatal(err)
	}
	defer st.close()
	w, err := newWriter(st, slog.New(slog.NewTextHandler(io.Discard, nil)), 1<<16, 4096, time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	go w.run()
	defer w.close()
	names := make([][]byte, keys)
	for i := range names {
		names[i] = []byte(fmt.Sprintf("counter:%d", i))
	}
	ops := make([]*op, batch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		for j := range ops {
			seq := uint64(i + j + 1)
			ops[j] = &op{kind: opIncr, key: names[(i+j)%keys], delta: 1, lo: 0, hi: 1,
				id: resp.RequestID{Coord: 1, Seq: seq}, hasID: true, fut: resp.NewFuture()}
			if err := w.submit(ops[j]); err != nil {
				b.Fatal(err)
			}
		}
		for _, o := range ops {
			o.fut.Wait()
			if o.err != nil {
				b.Fatal(o.err)
			}
		}
	}
}

func BenchmarkApplyOneKey(b *testing.B)            { benchWriter(b, 64, 1, false) }
func BenchmarkApplyManyKeys(b *testing.B)          { benchWriter(b, 64, 100000, false) }
func BenchmarkApplyMillionKeys(b *testing.B)       { benchWriter(b, 256, 1000000, false) }
func BenchmarkApplyManyKeysUnbatched(b *testing.B) { benchWriter(b, 1, 100000, false) }
func BenchmarkApplyManyKeysSync(b *testing.B)      { benchWriter(b, 64, 100000, true) }
