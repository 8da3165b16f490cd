package coordinator

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardcounter/shardcounter/internal/resptest"
	"github.com/shardcounter/shardcounter/shard"
)

// frozenCluster is a coordinator in front of n shards, the first of them
// (s1) behind a freezer, and that shard.
func frozenCluster(t *testing.T, n int, shardTimeout, writeTimeout time.Duration) (*testCluster, *freezer, *shard.Server) {
	back := newTestCluster(t, n)
	fz := newFreezer(t, back.addrs[0].Addr)
	shards := append([]ShardAddr{{ID: back.addrs[0].ID, Addr: fz.ln.Addr().String()}}, back.addrs[1:]...)
	tc := newTestCluster(t, 0, func(c *Config) {
		c.Shards = shards
		c.ShardTimeout, c.WriteTimeout = shardTimeout, writeTimeout
	})
	for i := range n {
		tc.waitShard(i, true)
	}
	return tc, fz, back.shards[0]
}

// Increments of many keys that queue while a round to their shard is in
// flight go out together as the next round: one WriteBatch on the shard
// (one fsync with --sync), not one per key or per group of keys.
func TestQueuedIncrementsShareOneRound(t *testing.T) {
	tc, fz, sh := frozenCluster(t, 1, 5*time.Second, 10*time.Second)
	ctx := context.Background()
	before := sh.Stats().Batches

	fz.frozen.Store(true)
	first := make(chan error, 1)
	go func() { first <- tc.client.Incr(ctx, "first").Err() }()
	time.Sleep(200 * time.Millisecond) // its round is now held by the freezer
	const keys = 64
	done := make(chan error, 1)
	go func() {
		p := tc.newClient(redis.Options{}).Pipeline()
		for i := range keys {
			p.IncrBy(ctx, fmt.Sprintf("k%d", i), int64(i+1))
		}
		_, err := p.Exec(ctx)
		done <- err
	}()
	time.Sleep(300 * time.Millisecond) // every one of them queued
	fz.frozen.Store(false)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Two batches: the held round, then everything queued behind it. (One
	// if the first increment was slow to leave and went out with the rest.)
	if got := sh.Stats().Batches - before; got < 1 || got > 2 {
		t.Errorf("the shard wrote %d batches for the held round and the %d increments queued behind it, want 2", got, keys)
	}
	for i := range keys {
		if v, err := tc.client.Get(ctx, fmt.Sprintf("k%d", i)).Int64(); err != nil || v != int64(i+1) {
			t.Fatalf("k%d = %d, %v; want %d", i, v, err, i+1)
		}
	}
}

// readers sets counters k0 ... k(n-1) to 1 ... n and returns n clients,
// each already connected, so that each read goes out on a connection of
// its own as soon as it is made. They do not retry.
func readers(t *testing.T, tc *testCluster, n int) []*redis.Client {
	t.Helper()
	clients := make([]*redis.Client, n)
	for i := range clients {
		if err := tc.client.IncrBy(t.Context(), fmt.Sprintf("k%d", i), int64(i+1)).Err(); err != nil {
			t.Fatal(err)
		}
		clients[i] = tc.newClient(redis.Options{MaxRetries: -1})
		if err := clients[i].Ping(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
	}
	return clients
}

// GETs that queue while a read round is out, waiting for a slow shard, go
// out together as the next round on every shard, the fast one included:
// one SC.GET each, not one for each GET that came while the fast shard's
// lane was free. Each still gets its own totals, also an MGET that
// repeats a key and shares keys with the GETs around it.
func TestQueuedGetsShareOneRound(t *testing.T) {
	back := newTestCluster(t, 2)
	slow := newFreezer(t, back.addrs[0].Addr)
	fast := newFreezer(t, back.addrs[1].Addr)
	tc := newTestCluster(t, 0, func(c *Config) {
		c.Shards = []ShardAddr{{ID: back.addrs[0].ID, Addr: slow.ln.Addr().String()}, {ID: back.addrs[1].ID, Addr: fast.ln.Addr().String()}}
		c.ShardTimeout, c.WriteTimeout = 5*time.Second, 10*time.Second
	})
	tc.waitShard(0, true)
	tc.waitShard(1, true)
	ctx := t.Context()
	const keys = 20
	clients := readers(t, tc, keys)
	before := fast.gets.Load()

	slow.frozen.Store(true)
	first := make(chan error, 1)
	go func() { first <- tc.client.Get(ctx, "first").Err() }()
	time.Sleep(200 * time.Millisecond) // its round is held by the slow shard
	type result struct {
		i    int
		vals []any
		err  error
	}
	res := make(chan result, keys)
	for i, c := range clients {
		go func() {
			k := fmt.Sprintf("k%d", i)
			if i%4 == 3 { // k3 k0 missing k3, ...
				vals, err := c.MGet(ctx, k, "k0", "missing", k).Result()
				res <- result{i, vals, err}
				return
			}
			v, err := c.Get(ctx, k).Result()
			res <- result{i, []any{v}, err}
		}()
		time.Sleep(10 * time.Millisecond) // one at a time: a free lane would send each alone
	}
	time.Sleep(200 * time.Millisecond)
	slow.frozen.Store(false)
	if err := <-first; err != redis.Nil {
		t.Fatalf("GET first: %v, want nil", err)
	}
	for range keys {
		r := <-res
		own := strconv.Itoa(r.i + 1)
		want := []any{own}
		if r.i%4 == 3 {
			want = []any{own, "1", nil, own}
		}
		if r.err != nil || !slices.Equal(r.vals, want) {
			t.Errorf("read %d: %v, %v; want %v", r.i, r.vals, r.err, want)
		}
	}
	if got := fast.gets.Load() - before; got != 2 {
		t.Errorf("the fast shard got %d SC.GETs for the held GET and the %d queued behind it, want 2", got, keys)
	}
}

// A read round asks each shard for every distinct key once, and hands each
// read the partials of its own keys, in its own order, repeats included.
func TestReadRoundAsksForEachKeyOnce(t *testing.T) {
	reqs := []*readFan{
		{keys: [][]byte{[]byte("a"), []byte("b"), []byte("a")}},
		{keys: [][]byte{[]byte("c")}},
		{keys: [][]byte{[]byte("b"), []byte("c")}},
	}
	keys, at := distinctKeys(reqs, 6)
	if got := string(bytes.Join(keys, []byte(","))); got != "a,b,c" || !slices.Equal(at, []int{0, 1, 0, 2, 1, 2}) {
		t.Fatalf("distinctKeys: %s, %v; want a,b,c, [0 1 0 2 1 2]", got, at)
	}
	rr := readResult{partials: [][]int64{{1, 2, 3}, {10, 0, 30}}, found: [][]bool{{true, true, true}, {true, false, true}}}
	rr.expand(at)
	if !slices.Equal(rr.partials[0], []int64{1, 2, 1, 3, 2, 3}) || !slices.Equal(rr.partials[1], []int64{10, 0, 10, 30, 0, 30}) ||
		!slices.Equal(rr.found[1], []bool{true, false, true, true, false, true}) {
		t.Errorf("expand: %v %v", rr.partials, rr.found)
	}
	one := []*readFan{{keys: [][]byte{[]byte("x"), []byte("y")}}}
	if keys, at := distinctKeys(one, 2); len(keys) != 2 || at != nil {
		t.Errorf("distinctKeys without repeats: %q, %v; want the keys as asked and no mapping", keys, at)
	}
}

// When a shard fails during a read round, every read of that round and of
// the round queued behind it fails: none is answered with the partials of
// the other shards alone (invariant 4).
func TestShardFailingMidRoundFailsEveryReadOfIt(t *testing.T) {
	tc, fz, _ := frozenCluster(t, 2, 2*time.Second, 4*time.Second)
	ctx := t.Context()
	const reads = 6
	clients := readers(t, tc, reads)
	fz.frozen.Store(true)
	res := make(chan error, reads)
	for i, c := range clients {
		go func() {
			v, err := c.Get(ctx, fmt.Sprintf("k%d", i)).Result()
			if err == nil {
				err = fmt.Errorf("answered %s", v)
			}
			res <- err
		}()
		time.Sleep(20 * time.Millisecond) // the first holds a round, the rest queue behind it
	}
	time.Sleep(200 * time.Millisecond)
	fz.ln.Close()
	fz.mu.Lock()
	for _, c := range fz.conns {
		c.Close()
	}
	fz.mu.Unlock()
	fz.frozen.Store(false)
	for range reads {
		if err := <-res; err == redis.Nil || strings.HasPrefix(err.Error(), "answered") {
			t.Errorf("a GET with shard s1 gone: %v, want an error", err)
		} else {
			t.Logf("GET: %v", err)
		}
	}
}

// Shutdown drains: an increment in flight gets its reply, a command sent
// meanwhile is refused as not applied, a new connection is refused, and
// only then does the coordinator stop.
func TestShutdownDrains(t *testing.T) {
	tc, fz, _ := frozenCluster(t, 1, 5*time.Second, 10*time.Second)
	other := tc.raw()
	other.Expect(resptest.Status("PONG"), "PING")
	fz.frozen.Store(true)
	first := tc.raw()
	first.Write(resptest.Encode("INCR", "k"))
	time.Sleep(200 * time.Millisecond) // its round is held by the freezer

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		stopped <- tc.coord.Shutdown(ctx)
	}()
	time.Sleep(200 * time.Millisecond)
	if got, ok := other.Do("INCR", "j").(resptest.Err); !ok || !strings.HasPrefix(string(got), "TRYAGAIN") {
		t.Errorf("INCR while draining: %#v, want a TRYAGAIN refusal", got)
	}
	if c, err := net.DialTimeout("tcp", tc.coord.Addr().String(), time.Second); err == nil {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if n, _ := c.Read(make([]byte, 1)); n != 0 {
			t.Error("a new connection while draining got data")
		}
		c.Close()
	}
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned (%v) with an increment in flight", err)
	default:
	}
	// A second Shutdown waits for the first, here until its own deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	if err := tc.coord.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a second Shutdown during the first: %v, want it to wait until its deadline", err)
	}
	cancel()

	fz.frozen.Store(false)
	if got := first.Read(); got != int64(1) {
		t.Errorf("INCR in flight at shutdown: %#v, want 1", got)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return after the round was answered")
	}
	if err := tc.coord.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown after Shutdown: %v", err)
	}
}

// A shutdown whose deadline passes while a round is in flight answers each
// request once (it used to answer the round's retried batch twice and
// crash) and stops.
func TestShutdownDeadlineDuringARound(t *testing.T) {
	tc, fz, _ := frozenCluster(t, 1, 5*time.Second, 10*time.Second)
	fz.frozen.Store(true)
	defer fz.frozen.Store(false)
	c := tc.raw()
	c.Write(resptest.Encode("INCR", "k"))
	time.Sleep(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := tc.coord.Shutdown(ctx)
	t.Logf("Shutdown: %v", err)
	// The reply, if it made it out before the connection closed, must say
	// the increment may have been applied.
	c.C.SetReadDeadline(time.Now().Add(5 * time.Second))
	if v, rerr := resptest.ReadReply(c.R); rerr == nil {
		if e, ok := v.(resptest.Err); !ok || !strings.HasPrefix(string(e), "UNKNOWN") {
			t.Errorf("INCR cut off by shutdown: %#v, want an UNKNOWN error", v)
		}
	}
}

// A connection still working through a pipeline when a shutdown's deadline
// passes queues its next increments after the lanes have stopped. Those are
// answered too: nothing waits for a reply that never comes.
func TestShutdownAnswersIncrementsQueuedAfterTheLanesStopped(t *testing.T) {
	tc, fz, _ := frozenCluster(t, 2, 5*time.Second, 10*time.Second)
	var frozen, live string // owned by s1 behind the freezer, and by s2
	for i := 0; frozen == "" || live == ""; i++ {
		k := fmt.Sprintf("k%d", i)
		if tc.coord.ring.Owner([]byte(k)) == 0 {
			frozen = cmp.Or(frozen, k)
		} else {
			live = cmp.Or(live, k)
		}
	}
	fz.frozen.Store(true)
	defer fz.frozen.Store(false)
	// The first INCR's round is held; the connection waits for its reply
	// before it goes on with the rest of the pipeline.
	var pipeline []byte
	pipeline = append(pipeline, resptest.Encode("INCR", frozen)...)
	for range 20 {
		pipeline = append(pipeline, resptest.Encode("PING")...)
		pipeline = append(pipeline, resptest.Encode("INCR", live)...)
	}
	tc.raw().Write(pipeline)
	time.Sleep(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	t.Logf("Shutdown: %v", tc.coord.Shutdown(ctx))
	var stacks []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		stacks = make([]byte, 1<<20)
		stacks = stacks[:runtime.Stack(stacks, true)]
		if !bytes.Contains(stacks, []byte("(*writeReq).wait")) {
			return
		}
	}
	i := bytes.Index(stacks, []byte("(*writeReq).wait"))
	t.Fatalf("an increment still waits for its reply 5 s after Shutdown returned:\n%s", stacks[i:min(len(stacks), i+1200)])
}

// reserve counts a split counter's increments in flight in each direction
// and refuses one that, with all those of its direction, would take the
// best-known total past int64; done gives the room back.
func TestSplitStateReserve(t *testing.T) {
	st := &splitState{partials: []int64{math.MaxInt64 - 10, 0}}
	steps := []struct {
		op     string // "reserve", "undo" (done, not applied) or "apply" (done on shard 1)
		delta  int64
		refuse bool
	}{
		{"reserve", 6, false},
		{"reserve", 5, true}, // 6 in flight: MaxInt64-10+6+5 leaves int64
		{"reserve", 4, false},
		{"reserve", -5, false}, // downwards there is room
		{"undo", 6, false},
		{"reserve", 6, false}, // the undone 6 gave its room back
		{"apply", 4, false},   // shard 1's partial is now 4
		{"reserve", 1, true},  // MaxInt64-10+4 and 6 in flight: no room left
		{"apply", 6, false},   // shard 1's partial is now 10: the total is MaxInt64
		{"reserve", 1, true},
		{"undo", -5, false},
	}
	partial := int64(0)
	for i, s := range steps {
		switch s.op {
		case "reserve":
			if err := st.reserve(s.delta); (err != nil) != s.refuse {
				t.Fatalf("step %d: reserve(%d) = %v, want refused %v", i, s.delta, err, s.refuse)
			}
		case "undo":
			st.done(s.delta, -1, 0)
		case "apply":
			partial += s.delta
			if _, err := st.done(s.delta, 1, partial); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
	}
	if st.up != 0 || st.down != 0 {
		t.Fatalf("in flight after every increment ended: up %d, down %d", st.up, st.down)
	}
	// The sum of the increments in flight never wraps either.
	low := &splitState{partials: []int64{math.MinInt64 + 1, 0}}
	if err := low.reserve(math.MaxInt64); err != nil {
		t.Fatal(err)
	}
	if err := low.reserve(math.MaxInt64); err == nil {
		t.Fatal("a second MaxInt64 in flight was reserved: the sum in flight wraps")
	}
}

// Increments of long keys from several clients, queued while their shard
// was slow, are each within every limit, but coalesced into one round they
// would not be: the shard refuses a request over its --max-request-bytes
// and disconnects. The lane splits such a round, and every increment
// succeeds. (They all failed with "ERR Protocol error: request larger
// than 4194304 bytes".)
func TestLongKeysQueuedBehindASlowShardDoNotOverflowARound(t *testing.T) {
	tc, fz, _ := frozenCluster(t, 1, 5*time.Second, 10*time.Second)
	ctx := t.Context()
	fz.frozen.Store(true)
	first := make(chan error, 1)
	go func() { first <- tc.client.Incr(ctx, "first").Err() }()
	time.Sleep(200 * time.Millisecond) // its round is held by the freezer
	const n = 6
	key := func(i int) string { return strings.Repeat(string(rune('a'+i)), 900<<10) }
	errs := make(chan error, n)
	for i := range n {
		c := tc.newClient(redis.Options{MaxRetries: -1})
		go func() { errs <- c.IncrBy(ctx, key(i), int64(i+1)).Err() }()
	}
	time.Sleep(300 * time.Millisecond) // every one of them queued
	fz.frozen.Store(false)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("INCRBY of a 900 KiB key: %v", err)
		}
	}
	for i := range n {
		if v, err := tc.client.Get(ctx, key(i)).Int64(); err != nil || v != int64(i+1) {
			t.Errorf("GET of long key %d: %d, %v; want %d", i, v, err, i+1)
		}
	}
}

// Reads of long keys from several clients, queued while their shard was
// slow, go out in rounds the shard accepts, as increments do. (They were
// batched into one SC.GET over the shard's --max-request-bytes, which it
// refused: every GET failed with "ERR Protocol error: request larger than
// 4194304 bytes".)
func TestLongKeysQueuedBehindASlowShardDoNotOverflowAReadRound(t *testing.T) {
	tc, fz, _ := frozenCluster(t, 1, 5*time.Second, 10*time.Second)
	ctx := t.Context()
	const n = 6
	key := func(i int) string { return strings.Repeat(string(rune('a'+i)), 900<<10) }
	for i := range n {
		if err := tc.client.IncrBy(ctx, key(i), int64(i+1)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	fz.frozen.Store(true)
	first := make(chan error, 1)
	go func() { first <- tc.client.Get(ctx, "first").Err() }()
	time.Sleep(200 * time.Millisecond) // its round is held by the freezer
	type result struct {
		i   int
		v   int64
		err error
	}
	res := make(chan result, n)
	for i := range n {
		c := tc.newClient(redis.Options{MaxRetries: -1})
		go func() {
			v, err := c.Get(ctx, key(i)).Int64()
			res <- result{i, v, err}
		}()
	}
	time.Sleep(300 * time.Millisecond) // every one of them queued
	fz.frozen.Store(false)
	if err := <-first; err != redis.Nil {
		t.Fatalf("GET first: %v, want nil", err)
	}
	for range n {
		if r := <-res; r.err != nil || r.v != int64(r.i+1) {
			t.Errorf("GET of long key %d: %d, %v; want %d", r.i, r.v, r.err, r.i+1)
		}
	}
}

// Increments of one big key that overflow as a coalesced group go again
// one by one; those single items, each naming the key, must not go out as
// one SC.MINCR over the shard's request limit either.
func TestOverflowingIncrementsOfABigKeyStayUnderTheShardLimit(t *testing.T) {
	tc, fz, _ := frozenCluster(t, 1, 5*time.Second, 10*time.Second)
	key := strings.Repeat("k", 1<<20-64)
	if err := tc.client.Set(context.Background(), key, math.MaxInt64-2, 0).Err(); err != nil {
		t.Fatal(err)
	}
	fz.frozen.Store(true)
	first := tc.raw()
	first.Write(resptest.Encode("INCR", "first"))
	time.Sleep(200 * time.Millisecond) // its round is now held by the freezer
	const clients, each = 6, 1         // 6 MiB of items sent one by one
	conns := make([]*resptest.Conn, clients)
	for i := range conns {
		conns[i] = tc.raw()
		conns[i].Write(bytes.Repeat(resptest.Encode("INCRBY", key, "1"), each))
	}
	time.Sleep(300 * time.Millisecond) // every one of them queued
	fz.frozen.Store(false)
	if v := first.Read(); v != int64(1) {
		t.Fatalf("INCR first: %#v", v)
	}
	var got []string
	for _, rc := range conns {
		for range each {
			got = append(got, fmt.Sprint(rc.Read()))
		}
	}
	slices.Sort(got)
	want := []string{"9223372036854775806", "9223372036854775807"}
	for range clients*each - 2 {
		want = append(want, "ERR increment or decrement would overflow")
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("replies %q, want %q", got, want)
	}
	if st := tc.coord.shards[0].status(); !st.Up {
		t.Errorf("the shard went down: %s", st.Err)
	}
}

// Increments of one long key stay in order when an overflowing group's
// requests go one by one and the round's byte budget carries one of them:
// it must not go after a later increment that the group had already
// carried. (With --max-request-bytes 4096 a 600-byte key fills a round.)
// In Redis order: MaxInt64-50 overflows, 10 gives 110, MaxInt64-105
// overflows.
func TestLongKeyIncrementsStayInOrderWhenCarried(t *testing.T) {
	back := newTestCluster(t, 1)
	fz := newFreezer(t, back.addrs[0].Addr)
	tc := newTestCluster(t, 0, func(c *Config) {
		c.Shards = []ShardAddr{{ID: back.addrs[0].ID, Addr: fz.ln.Addr().String()}}
		c.ShardTimeout, c.WriteTimeout = 5*time.Second, 10*time.Second
		c.MaxRequestBytes = 4096
	})
	tc.waitShard(0, true)
	ctx := t.Context()
	key := strings.Repeat("k", 600)
	if err := tc.client.Set(ctx, key, 100, 0).Err(); err != nil {
		t.Fatal(err)
	}
	fz.frozen.Store(true)
	first := tc.raw()
	first.Write(resptest.Encode("INCR", "first"))
	time.Sleep(200 * time.Millisecond) // its round is held by the freezer
	c := tc.raw()
	var b []byte
	for _, d := range []int64{math.MaxInt64 - 50, 10, math.MaxInt64 - 105} {
		b = append(b, resptest.Encode("INCRBY", key, strconv.FormatInt(d, 10))...)
	}
	c.Write(b)
	time.Sleep(300 * time.Millisecond) // all three queued
	fz.frozen.Store(false)
	if v := first.Read(); v != int64(1) {
		t.Fatalf("INCR first: %#v", v)
	}
	overflow := resptest.Err("ERR increment or decrement would overflow")
	for i, want := range []any{overflow, int64(110), overflow} {
		if got := c.Read(); got != want {
			t.Errorf("reply %d: %#v, want %#v", i+1, got, want)
		}
	}
	if v, err := tc.client.Get(ctx, key).Int64(); err != nil || v != 110 {
		t.Errorf("GET = %d, %v; want 110", v, err)
	}
}
