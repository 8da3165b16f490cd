package shard

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linxGnu/grocksdb"
	"github.com/redis/go-redis/v9"

	"github.com/shardcounter/shardcounter/resp"
)

// startShard runs a shard on a free loopback port with its data in dir.
func startShard(t *testing.T, id, dir string, mutate ...func(*Config)) (*Server, *redis.Client) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.ID, cfg.DataDir, cfg.Listen = id, dir, "127.0.0.1:0"
	for _, m := range mutate {
		m(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	c := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), MaxRetries: -1})
	t.Cleanup(func() {
		c.Close()
		s.Shutdown(context.Background())
	})
	return s, c
}

func incr(ctx context.Context, c *redis.Client, shard, key string, delta int64, coord, seq uint64) (int64, error) {
	args := resp.SingleIncr(shard, []byte(key), delta, resp.RequestID{Coord: coord, Seq: seq}).Args()
	anyArgs := make([]any, len(args))
	for i, a := range args {
		anyArgs[i] = a
	}
	return c.Do(ctx, anyArgs...).Int64()
}

func TestIncrDedupAndRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, c := startShard(t, "s1", dir)
	if v, err := incr(ctx, c, "s1", "likes", 5, 1, 1); err != nil || v != 5 {
		t.Fatalf("first incr: %d %v", v, err)
	}
	if v, err := incr(ctx, c, "s1", "likes", 5, 1, 2); err != nil || v != 10 {
		t.Fatalf("second incr: %d %v", v, err)
	}
	// A retry of seq 1 is answered with its original reply and not applied.
	if v, err := incr(ctx, c, "s1", "likes", 5, 1, 1); err != nil || v != 5 {
		t.Fatalf("retry: %d %v", v, err)
	}
	if v, err := c.Get(ctx, "likes").Int64(); err != nil || v != 10 {
		t.Fatalf("get after retry: %d %v", v, err)
	}
	if _, err := incr(ctx, c, "s2", "likes", 1, 1, 3); err == nil || !errors.Is(resp.FromReply(err.Error()), resp.ErrWrongShard) {
		t.Fatalf("wrong shard id accepted: %v", err)
	}
	c.Close()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	// The same data dir under another id is refused.
	cfg := DefaultConfig()
	cfg.ID, cfg.DataDir = "s2", dir
	if _, err := New(cfg); err == nil {
		t.Fatal("data dir of s1 opened as s2")
	}

	_, c2 := startShard(t, "s1", dir)
	if v, err := c2.Get(ctx, "likes").Int64(); err != nil || v != 10 {
		t.Fatalf("after restart: %d %v", v, err)
	}
	// Dedup survives the restart.
	if v, err := incr(ctx, c2, "s1", "likes", 5, 1, 2); err != nil || v != 10 {
		t.Fatalf("retry after restart: %d %v", v, err)
	}
	if v, err := c2.Get(ctx, "likes").Int64(); err != nil || v != 10 {
		t.Fatalf("get after retry after restart: %d %v", v, err)
	}
}

func TestOverflow(t *testing.T) {
	ctx := context.Background()
	_, c := startShard(t, "s1", t.TempDir())
	if err := c.IncrBy(ctx, "k", 9223372036854775807).Err(); err != nil {
		t.Fatal(err)
	}
	err := c.Incr(ctx, "k").Err()
	if err == nil || err.Error() != "ERR increment or decrement would overflow" {
		t.Fatalf("overflow: %v", err)
	}
	if v, _ := c.Get(ctx, "k").Int64(); v != 9223372036854775807 {
		t.Fatalf("value changed by a refused increment: %d", v)
	}
	if err := c.DecrBy(ctx, "m", -9223372036854775808).Err(); err == nil {
		t.Fatal("DECRBY MinInt64 accepted")
	}
}

// A RocksDB write that fails is answered UNKNOWN, never IOERR: it may be in
// the WAL already, and a coordinator re-routes an IOERR to another shard.
func TestFailedWriteIsAmbiguous(t *testing.T) {
	ctx := context.Background()
	s, c := startShard(t, "s1", t.TempDir())
	// RocksDB refuses a sync write without a WAL: a write that fails
	// inside db.Write, set up before the shard writes anything.
	s.st.wo.SetSync(true)
	s.st.wo.DisableWAL(true)
	_, err := incr(ctx, c, "s1", "k", 1, 7, 1)
	if err == nil || !strings.HasPrefix(err.Error(), "UNKNOWN ") {
		t.Fatalf("failed write answered %v, want UNKNOWN", err)
	}
	if !errors.Is(resp.FromReply(err.Error()), resp.ErrAmbiguous) {
		t.Fatalf("%q does not parse back as ErrAmbiguous", err)
	}
	if err := c.Incr(ctx, "plain").Err(); err == nil || !strings.HasPrefix(err.Error(), "UNKNOWN ") {
		t.Fatalf("failed plain INCR answered %v, want UNKNOWN", err)
	}
	s.st.wo.DisableWAL(false)
	s.st.wo.SetSync(false)
	if v, err := incr(ctx, c, "s1", "k", 1, 7, 2); err != nil || v != 1 {
		t.Fatalf("after the failed write: %d, %v; want 1", v, err)
	}
}

// A coalesced group is refused when one of its increments, in order, would
// have overflowed, even if the group's sum fits.
func TestGroupBoundsOverflow(t *testing.T) {
	ctx := context.Background()
	_, c := startShard(t, "s1", t.TempDir())
	if err := c.IncrBy(ctx, "k", 10).Err(); err != nil {
		t.Fatal(err)
	}
	send := func(delta, lo, hi int64, seq uint64) error {
		args := resp.IncrCmd{Shard: "s1", Key: []byte("k"), Delta: delta, ID: resp.RequestID{Coord: 9, Seq: seq}, Lo: lo, Hi: hi}.Args()
		anyArgs := make([]any, len(args))
		for i, a := range args {
			anyArgs[i] = a
		}
		return c.Do(ctx, anyArgs...).Err()
	}
	// +MaxInt64 then -MaxInt64: the sum is 0, but the first step overflows.
	err := send(0, 0, 9223372036854775807, 1)
	if err == nil || !errors.Is(resp.FromReply(err.Error()), resp.ErrOverflow) {
		t.Fatalf("group with an overflowing step: %v", err)
	}
	if err := send(0, -5, 5, 2); err != nil {
		t.Fatalf("group within range: %v", err)
	}
	if v, _ := c.Get(ctx, "k").Int64(); v != 10 {
		t.Fatalf("partial %d, want 10", v)
	}
}

func TestConcurrentIncrsAreConsecutive(t *testing.T) {
	ctx := context.Background()
	_, c := startShard(t, "s1", t.TempDir())
	const workers, each = 20, 50
	seen := make(chan int64, workers*each)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				v, err := incr(ctx, c, "s1", "hot", 1, uint64(w+1), uint64(i+1))
				if err != nil {
					t.Error(err)
					return
				}
				seen <- v
			}
		}(w)
	}
	wg.Wait()
	close(seen)
	got := map[int64]bool{}
	for v := range seen {
		if got[v] {
			t.Fatalf("reply %d given twice", v)
		}
		got[v] = true
	}
	for i := int64(1); i <= workers*each; i++ {
		if !got[i] {
			t.Fatalf("reply %d missing", i)
		}
	}
}

func TestScanDelFlush(t *testing.T) {
	ctx := context.Background()
	_, c := startShard(t, "s1", t.TempDir())
	for i := 0; i < 250; i++ {
		if err := c.Incr(ctx, fmt.Sprintf("k%d", i)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	cursor := "0"
	for {
		res, err := c.Do(ctx, "SC.SCAN", "s1", cursor, "64").Slice()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range res[1].([]any) {
			seen[k.(string)] = true
		}
		cursor = res[0].(string)
		if cursor == "0" {
			break
		}
	}
	if len(seen) != 250 {
		t.Fatalf("scan found %d keys, want 250", len(seen))
	}
	if n, err := c.Do(ctx, "SC.DEL", "s1", "k1", "k2", "nope").Int64(); err != nil || n != 2 {
		t.Fatalf("del: %d %v", n, err)
	}
	if err := c.Do(ctx, "SC.FLUSH", "s1").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, "k3").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("key survived flush: %v", err)
	}
	if v, err := c.Incr(ctx, "k3").Result(); err != nil || v != 1 {
		t.Fatalf("incr after flush: %d %v", v, err)
	}
}

// waitExpired retries request coord:seq (an INCR of k on shard s1) until
// the shard answers it EXPIRED: its id has left the deduplication window.
func waitExpired(t *testing.T, c *redis.Client, coord, seq uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := incr(context.Background(), c, "s1", "k", 1, coord, seq)
		if err != nil && errors.Is(resp.FromReply(err.Error()), resp.ErrRequestExpired) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("request id never expired; last reply err=%v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestDedupPruning(t *testing.T) {
	ctx := context.Background()
	_, c := startShard(t, "s1", t.TempDir(), func(c *Config) { c.DedupWindow = time.Second })
	if _, err := incr(ctx, c, "s1", "k", 1, 7, 1); err != nil {
		t.Fatal(err)
	}
	waitExpired(t, c, 7, 1)
	if v, _ := c.Get(ctx, "k").Int64(); v != 1 {
		t.Fatalf("retries were applied: partial %d", v)
	}
}

// SC.MINCR applies several keys under one request id, checks each for
// overflow on its own, and answers a retry with the original replies.
func TestIncrMulti(t *testing.T) {
	ctx := context.Background()
	_, c := startShard(t, "s1", t.TempDir())
	if err := c.IncrBy(ctx, "full", 9223372036854775806).Err(); err != nil {
		t.Fatal(err)
	}
	cmd := resp.IncrMultiCmd{Shard: "s1", ID: resp.RequestID{Coord: 5, Seq: 1}, Items: []resp.IncrItem{
		{Key: []byte("a"), Delta: 2, Lo: 0, Hi: 2},
		{Key: []byte("full"), Delta: 5, Lo: 0, Hi: 5},
		{Key: []byte("a"), Delta: 3, Lo: 0, Hi: 3},
	}}
	send := func() []any {
		args := cmd.Args()
		anyArgs := make([]any, len(args))
		for i, a := range args {
			anyArgs[i] = a
		}
		res, err := c.Do(ctx, anyArgs...).Slice()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	check := func(res []any) {
		t.Helper()
		if len(res) != 3 || res[0] != int64(2) || res[2] != int64(5) {
			t.Fatalf("replies %#v", res)
		}
		if e, ok := res[1].(error); !ok || e.Error() != "ERR increment or decrement would overflow" {
			t.Fatalf("overflowing item: %#v", res[1])
		}
	}
	check(send())
	check(send()) // the retry: same replies, nothing applied again
	if v, _ := c.Get(ctx, "a").Int64(); v != 5 {
		t.Fatalf("a = %d after a retried SC.MINCR, want 5", v)
	}
	if v, _ := c.Get(ctx, "full").Int64(); v != 9223372036854775806 {
		t.Fatalf("full = %d, want unchanged", v)
	}
}

// A SCAN pattern with many stars is matched in time proportional to the key
// and the pattern, not exponential in the stars: the shard answers it at
// once, and its other clients are not held up.
func TestScanPatternIsNotExponential(t *testing.T) {
	ctx := context.Background()
	_, c := startShard(t, "s1", t.TempDir())
	if err := c.Incr(ctx, strings.Repeat("a", 60)).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := c.Do(ctx, "SC.SCAN", "s1", "0", "10", "*a*a*a*a*a*a*b*").Slice()
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("SC.SCAN with a pattern of 7 stars took %s", took)
	}
	if err != nil {
		t.Fatal(err)
	}
	if keys := res[1].([]any); len(keys) != 0 {
		t.Fatalf("pattern without a b matched %q", keys)
	}
}

// A request id pruned from the deduplication window stays refused with
// EXPIRED after a restart: the shard does not forget that it can no longer
// tell, and apply a stale retry a second time.
func TestDedupPruningSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	short := func(c *Config) { c.DedupWindow = time.Second }
	s, c := startShard(t, "s1", dir, short)
	for seq := uint64(1); seq <= 2; seq++ {
		if _, err := incr(ctx, c, "s1", "k", 1, 7, seq); err != nil {
			t.Fatal(err)
		}
	}
	waitExpired(t, c, 7, 2)
	c.Close()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	_, c2 := startShard(t, "s1", dir, short)
	for seq := uint64(1); seq <= 2; seq++ {
		if _, err := incr(ctx, c2, "s1", "k", 1, 7, seq); err == nil || !errors.Is(resp.FromReply(err.Error()), resp.ErrRequestExpired) {
			t.Errorf("retry of pruned id 7:%d after a restart: err=%v, want EXPIRED", seq, err)
		}
	}
	if v, err := c2.Get(ctx, "k").Int64(); err != nil || v != 2 {
		t.Fatalf("partial %d (%v) after stale retries, want 2", v, err)
	}
	// New ids of that coordinator are applied.
	if v, err := incr(ctx, c2, "s1", "k", 1, 7, 3); err != nil || v != 3 {
		t.Fatalf("new id after the restart: %d, %v; want 3", v, err)
	}
}

// SC.PING is answered by the writer once it has written the probe record,
// so that a shard whose writer or disk hangs gets no answer, and a
// coordinator keeps it out instead of re-admitting it for writes that would
// end with an unknown outcome. Probes are not counted as writes.
func TestPingGoesThroughTheWriter(t *testing.T) {
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.ID, cfg.DataDir, cfg.Listen = "s1", t.TempDir(), "127.0.0.1:0"
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// A disk that hangs while hung is set, until release is closed. The
	// writer is only given ops once Serve runs, after this assignment.
	var hung atomic.Bool
	release := make(chan struct{})
	write := s.w.write
	s.w.write = func(wb *grocksdb.WriteBatch) error {
		if hung.Load() {
			<-release
		}
		return write(wb)
	}
	ln, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	c := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), MaxRetries: -1,
		ReadTimeout: 10 * time.Second, ContextTimeoutEnabled: true})
	released := false
	t.Cleanup(func() {
		if !released {
			close(release)
		}
		c.Close()
		s.Shutdown(context.Background())
	})
	ping := func(timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return c.Do(ctx, resp.CmdPing, "s1").Err()
	}

	if err := ping(5 * time.Second); err != nil {
		t.Fatalf("SC.PING: %v", err)
	}
	if v, err := s.st.db.GetBytes(s.st.ro, metaProbe); err != nil || len(v) != 8 {
		t.Fatalf("probe record after SC.PING: %x, %v; want 8 bytes", v, err)
	}
	before := s.Stats()
	for range 5 {
		if err := ping(5 * time.Second); err != nil {
			t.Fatalf("SC.PING: %v", err)
		}
	}
	if after := s.Stats(); after.Writes != before.Writes || after.Batches != before.Batches {
		t.Fatalf("5 probes moved writes %d -> %d, batches %d -> %d; want them unchanged",
			before.Writes, after.Writes, before.Batches, after.Batches)
	}

	hung.Store(true)
	incrDone := make(chan error, 1)
	go func() {
		_, err := incr(ctx, c, "s1", "k", 1, 7, 1)
		incrDone <- err
	}()
	if err := ping(300 * time.Millisecond); err == nil {
		t.Fatal("SC.PING answered while the writer could not write")
	}
	select {
	case err := <-incrDone:
		t.Fatalf("the increment was answered (%v) while the writer could not write", err)
	default:
	}

	hung.Store(false)
	close(release)
	released = true
	if err := <-incrDone; err != nil {
		t.Fatalf("the increment after the disk came back: %v", err)
	}
	if err := ping(5 * time.Second); err != nil {
		t.Fatalf("SC.PING after the disk came back: %v", err)
	}
}

// A data directory keeps its incarnation across restarts and a new one gets
// another; commands naming another incarnation are refused before anything
// is applied (REPLACED); SC.MEMBERS ADD records only unknown peers, SET overwrites.
func TestIncarnationAndMembers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, c := startShard(t, "s1", dir)
	inc := s.st.incarnation
	if !resp.ValidIncarnation(inc) {
		t.Fatalf("incarnation %q", inc)
	}
	if info, err := c.Info(ctx, "server").Result(); err != nil || !strings.Contains(info, "data_incarnation:"+inc) {
		t.Fatalf("INFO server without data_incarnation:%s: %v\n%s", inc, err, info)
	}
	members := func(args ...string) (string, []any) {
		t.Helper()
		a := []any{resp.CmdMembers, resp.ShardName("s1", inc)}
		for _, x := range args {
			a = append(a, x)
		}
		v, err := c.Do(ctx, a...).Slice()
		if err != nil || len(v) != 2 {
			t.Fatalf("SC.MEMBERS %q: %v, %v", args, v, err)
		}
		peers, _ := v[1].([]any)
		return v[0].(string), peers
	}
	if own, peers := members(); own != inc || len(peers) != 0 {
		t.Fatalf("SC.MEMBERS on a new shard: %q %v", own, peers)
	}
	members("ADD", "s2", "0000000000000002", "s3", "0000000000000003")
	members("ADD", "s2", "00000000000000ff") // s2 is known: not overwritten
	if _, peers := members(); !reflect.DeepEqual(peers, []any{"s2", "0000000000000002", "s3", "0000000000000003"}) {
		t.Fatalf("after ADD: %v", peers)
	}
	members("SET", "s2", "00000000000000ff")
	if _, peers := members(); !reflect.DeepEqual(peers, []any{"s2", "00000000000000ff", "s3", "0000000000000003"}) {
		t.Fatalf("after SET: %v", peers)
	}

	// Named with the right incarnation, a write applies; with another, it
	// is refused as REPLACED and leaves nothing behind.
	wrong := "0123456789abcdef"
	if wrong == inc {
		wrong = "fedcba9876543210"
	}
	args := func(name string, seq uint64) []any {
		var a []any
		for _, x := range resp.SingleIncr(name, []byte("k"), 5, resp.RequestID{Coord: 9, Seq: seq}).Args() {
			a = append(a, x)
		}
		return a
	}
	if v, err := c.Do(ctx, args(resp.ShardName("s1", inc), 1)...).Int64(); err != nil || v != 5 {
		t.Fatalf("SC.INCR with the right incarnation: %d, %v", v, err)
	}
	if err := c.Do(ctx, args(resp.ShardName("s1", wrong), 2)...).Err(); err == nil || !errors.Is(resp.FromReply(err.Error()), resp.ErrShardReplaced) {
		t.Fatalf("SC.INCR with another incarnation: %v, want REPLACED", err)
	}
	if err := c.Do(ctx, resp.CmdPing, resp.ShardName("s1", wrong)).Err(); err == nil || !errors.Is(resp.FromReply(err.Error()), resp.ErrShardReplaced) {
		t.Fatalf("SC.PING with another incarnation: %v, want REPLACED", err)
	}
	if v, err := c.Get(ctx, "k").Int64(); err != nil || v != 5 {
		t.Fatalf("partial after the refused write: %d, %v; want 5", v, err)
	}

	// A restart keeps the incarnation and the peers; a new directory under
	// the same id has another incarnation and no peers.
	c.Close()
	s.Shutdown(ctx)
	s, c = startShard(t, "s1", dir)
	if s.st.incarnation != inc {
		t.Fatalf("incarnation after restart: %q, want %q", s.st.incarnation, inc)
	}
	if _, peers := members(); len(peers) != 4 {
		t.Fatalf("peers after restart: %v", peers)
	}
	s2, _ := startShard(t, "s1", t.TempDir())
	if s2.st.incarnation == inc {
		t.Fatalf("a new data directory has the old incarnation %q", inc)
	}
}

// A second Shutdown waits for the first to finish: when it returns, the
// store is closed.
func TestShutdownTwice(t *testing.T) {
	s, c := startShard(t, "s1", t.TempDir(), func(cfg *Config) { cfg.DrainGrace = 200 * time.Millisecond })
	if err := c.Incr(context.Background(), "k").Err(); err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() { first <- s.Shutdown(context.Background()) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		closing := s.closing
		s.mu.Unlock()
		if closing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first Shutdown never began")
		}
		time.Sleep(time.Millisecond)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	s.st.mu.RLock()
	closed := s.st.closed
	s.st.mu.RUnlock()
	if !closed {
		t.Fatal("the second Shutdown returned before the first had closed the store")
	}
	if err := <-first; err != nil {
		t.Fatalf("first Shutdown: %v", err)
	}
}
