package shard

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardcounter/shardcounter/resp"
)

func TestCheckpointRoundTrip(t *testing.T) {
	for _, c := range []struct {
		args []string
		ok   bool
	}{
		{[]string{CmdCheckpoint, "s1", "/backup/s1"}, true},
		{[]string{CmdCheckpoint, "s1", "relative/dir"}, false},
		{[]string{CmdCheckpoint, "s1"}, false},
	} {
		args := make([][]byte, len(c.args))
		for i, a := range c.args {
			args[i] = []byte(a)
		}
		got, err := ParseCheckpoint(args)
		if (err == nil) != c.ok {
			t.Errorf("ParseCheckpoint %q: %v", c.args, err)
			continue
		}
		if c.ok && strings.Join(got.Args(), " ") != strings.Join(c.args, " ") {
			t.Errorf("round trip of %q gave %q", c.args, got.Args())
		}
	}
}

func TestCheckpoint(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, c := startShard(t, "s1", filepath.Join(dir, "data"))
	for i := 1; i <= 20; i++ {
		if _, err := incr(ctx, c, "s1", fmt.Sprintf("k%d", i%4), int64(i), 7, uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	cpDir := filepath.Join(dir, "backups", "s1-1")
	if err := c.Do(ctx, CmdCheckpoint, "s1", cpDir).Err(); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	// Writes after the checkpoint are not in it.
	if _, err := incr(ctx, c, "s1", "k1", 1000, 7, 21); err != nil {
		t.Fatal(err)
	}
	// The same directory twice, another shard's id, a relative path: refused.
	if err := c.Do(ctx, CmdCheckpoint, "s1", cpDir).Err(); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second checkpoint into the same dir: %v", err)
	}
	if err := c.Do(ctx, CmdCheckpoint, "s2", filepath.Join(dir, "x")).Err(); err == nil || !errors.Is(resp.FromReply(err.Error()), resp.ErrWrongShard) {
		t.Errorf("checkpoint for another shard id: %v", err)
	}
	if err := c.Do(ctx, CmdCheckpoint, "s1", "rel").Err(); err == nil {
		t.Error("relative checkpoint dir accepted")
	}

	// The checkpoint opens as shard s1 with the values as of the checkpoint.
	_, restored := startShard(t, "s1", cpDir)
	want := map[string]int64{"k0": 4 + 8 + 12 + 16 + 20, "k1": 1 + 5 + 9 + 13 + 17, "k2": 2 + 6 + 10 + 14 + 18, "k3": 3 + 7 + 11 + 15 + 19}
	for k, v := range want {
		got, err := restored.Get(ctx, k).Int64()
		if err != nil || got != v {
			t.Errorf("restored %s = %d, %v; want %d", k, got, err, v)
		}
	}
	// Request ids are in the checkpoint too: a retry is still deduplicated.
	if v, err := incr(ctx, restored, "s1", "k1", 1, 7, 1); err != nil || v != 1 {
		t.Errorf("retry of seq 1 on the restored shard: %d, %v; want the original reply 1", v, err)
	}
}

func TestStatsCountsCounters(t *testing.T) {
	ctx := context.Background()
	s, c := startShard(t, "s1", t.TempDir())
	for i := 1; i <= 30; i++ {
		if _, err := incr(ctx, c, "s1", fmt.Sprintf("k%d", i%10), 1, 9, uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	// The first call starts the count; it ends in the background.
	deadline := time.Now().Add(5 * time.Second)
	for {
		m, err := c.Do(ctx, resp.CmdStats, "s1").Result()
		if err != nil {
			t.Fatal(err)
		}
		st := s.Stats()
		if st.Writes != 30 {
			t.Fatalf("writes = %d, want 30 (%v)", st.Writes, m)
		}
		if st.Counters == 10 && !st.CountersCapped {
			break
		}
		if st.Counters != -1 || time.Now().After(deadline) {
			t.Fatalf("counters = %d, capped %v; want 10 (30 request-id records are not counters)", st.Counters, st.CountersCapped)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// New counters are counted again once the last count is a second old.
	for i := 31; i <= 35; i++ {
		if _, err := incr(ctx, c, "s1", fmt.Sprintf("new%d", i), 1, 9, uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		if _, err := c.Do(ctx, resp.CmdStats, "s1").Result(); err != nil {
			t.Fatal(err)
		}
		st := s.Stats()
		if st.Counters == 15 {
			break
		}
		if (st.Counters != 10 && st.Counters != 15) || time.Now().After(deadline) {
			t.Fatalf("counters = %d after 5 more; want 15", st.Counters)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A shard that writes nothing keeps its count without scanning again,
	// however old the count is.
	lastScan := func() (time.Time, bool) {
		s.count.mu.Lock()
		defer s.count.mu.Unlock()
		return s.count.at, s.count.running
	}
	at, running := lastScan()
	for running {
		time.Sleep(10 * time.Millisecond)
		at, running = lastScan()
	}
	time.Sleep(countMaxAge + 100*time.Millisecond)
	if st := s.Stats(); st.Counters != 15 {
		t.Fatalf("counters = %d while idle; want 15", st.Counters)
	}
	time.Sleep(100 * time.Millisecond)
	if got, _ := lastScan(); !got.Equal(at) {
		t.Errorf("an idle shard counted its counters again (last scan %v, then %v)", at, got)
	}
}

// TestCountCountersInPieces: the count scan takes a new iterator every
// countIterKeys records and still counts each counter once, also when the
// limit falls inside or at the end of a piece.
func TestCountCountersInPieces(t *testing.T) {
	ctx := context.Background()
	s, c := startShard(t, "s1", t.TempDir())
	for i := range 100 {
		if err := c.Incr(ctx, fmt.Sprintf("k%d", i)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	defer func(n int64) { countIterKeys = n }(countIterKeys)
	never := func() bool { return false }
	for _, per := range []int64{1, 7, 50, 100, 1000} {
		countIterKeys = per
		if n, capped, ok := s.st.countCounters(1000, never); n != 100 || capped || !ok {
			t.Errorf("%d a piece: %d counters, capped %v, ok %v; want 100, false, true", per, n, capped, ok)
		}
		if n, capped, ok := s.st.countCounters(49, never); n != 49 || !capped || !ok {
			t.Errorf("%d a piece, limit 49: %d counters, capped %v, ok %v; want 49, true, true", per, n, capped, ok)
		}
	}
}

// TestReadsAfterClose: a command handled while the shard shuts down may read
// after the database is closed; it gets an error, never a crash.
func TestReadsAfterClose(t *testing.T) {
	st, err := openStore(t.TempDir(), "s1", false, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	st.close()
	st.close() // twice is fine
	if _, _, err := st.partial([]byte("k")); !errors.Is(err, resp.ErrShuttingDown) {
		t.Errorf("partial after close: %v, want ErrShuttingDown", err)
	}
	if _, _, err := st.scan(0, 10, nil); !errors.Is(err, resp.ErrShuttingDown) {
		t.Errorf("scan after close: %v, want ErrShuttingDown", err)
	}
	if err := st.checkpoint(t.TempDir() + "/cp"); !errors.Is(err, resp.ErrShuttingDown) {
		t.Errorf("checkpoint after close: %v, want ErrShuttingDown", err)
	}
	if m := st.memory(); m != (rocksMemory{}) {
		t.Errorf("memory after close: %+v", m)
	}
	if n := st.estimateKeys(); n != 0 {
		t.Errorf("estimateKeys after close: %d", n)
	}
	if _, _, ok := st.countCounters(10, func() bool { return false }); ok {
		t.Error("countCounters after close reports a count")
	}
}

// TestCountWaitsWhileWriting: while the shard keeps writing, the count is
// not taken again before countMaxStale; once it stops, the next look but
// one (the first still sees the last writes) starts it.
func TestCountWaitsWhileWriting(t *testing.T) {
	ctx := context.Background()
	s, c := startShard(t, "s1", t.TempDir())
	lastScan := func() time.Time {
		s.count.mu.Lock()
		defer s.count.mu.Unlock()
		return s.count.at
	}
	waitCount := func(want int64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if st := s.Stats(); st.Counters == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("counters never reached %d", want)
			}
		}
	}
	if err := c.Incr(ctx, "k0").Err(); err != nil {
		t.Fatal(err)
	}
	waitCount(1)
	write := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if err := c.Incr(ctx, fmt.Sprintf("k%d", i)).Err(); err != nil {
				t.Fatal(err)
			}
			s.Stats()
			time.Sleep(10 * time.Millisecond)
		}
	}

	defer func(d time.Duration) { countMaxStale = d }(countMaxStale)
	countMaxStale = time.Hour
	at := lastScan()
	write(1, 150) // 1.5 s of writes, a look after each: past countMaxAge
	if got := lastScan(); !got.Equal(at) {
		t.Fatalf("the count was taken again while the shard was writing (at %v, then %v)", at, got)
	}
	s.Stats() // still sees the last write
	waitCount(150)

	countMaxStale = 0
	at = lastScan()
	write(150, 300)
	if got := lastScan(); got.Equal(at) {
		t.Fatal("with countMaxStale 0, no count was taken during 1.5 s of writes")
	}
}
