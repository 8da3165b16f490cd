package coordinator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardcounter/shardcounter/internal/resptest"
	"github.com/shardcounter/shardcounter/resp"
)

// shardValues returns SHARDVALUES key as shard id -> partial.
func shardValues(t *testing.T, c *redis.Client, key string) map[string]int64 {
	t.Helper()
	v, err := c.Do(context.Background(), "SHARDVALUES", key).Result()
	if err != nil {
		t.Fatalf("SHARDVALUES %s: %v", key, err)
	}
	out := map[string]int64{}
	switch m := v.(type) {
	case map[any]any:
		for k, p := range m {
			out[k.(string)] = p.(int64)
		}
	case []any:
		for i := 0; i+1 < len(m); i += 2 {
			out[m[i].(string)] = m[i+1].(int64)
		}
	default:
		t.Fatalf("SHARDVALUES %s: %#v", key, v)
	}
	return out
}

func nonZero(sv map[string]int64) (n int, sum int64) {
	for _, v := range sv {
		if v != 0 {
			n++
		}
		sum += v
	}
	return n, sum
}

func TestSetIsIntegerOnly(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3)
	c := tc.client
	if s, err := c.Set(ctx, "s", 42, 0).Result(); err != nil || s != "OK" {
		t.Fatalf("SET: %q %v", s, err)
	}
	if v, err := c.Get(ctx, "s").Result(); err != nil || v != "42" {
		t.Fatalf("GET after SET: %q %v", v, err)
	}
	sv := shardValues(t, c, "s")
	if len(sv) != 3 {
		t.Fatalf("SHARDVALUES lists %d shards: %v", len(sv), sv)
	}
	owner := tc.addrs[tc.coord.ring.Owner([]byte("s"))].ID
	if n, sum := nonZero(sv); n != 1 || sum != 42 || sv[owner] != 42 {
		t.Fatalf("SHARDVALUES after SET: %v, want 42 on the owner %s only", sv, owner)
	}
	for _, args := range [][]any{
		{"SET", "s", "abc"}, {"SET", "s", "1.5"}, {"SET", "s", ""}, {"SET", "s", "9223372036854775808"},
	} {
		if err := c.Do(ctx, args...).Err(); err == nil || err.Error() != "ERR value is not an integer or out of range" {
			t.Errorf("%v: %v", args, err)
		}
	}
	for _, args := range [][]any{
		{"SET", "s", "1", "EX", "10"}, {"SET", "s", "1", "PX", "10"}, {"SET", "s", "1", "NX"},
		{"SET", "s", "1", "XX"}, {"SET", "s", "1", "KEEPTTL"}, {"SET", "s", "1", "GET"},
	} {
		err := c.Do(ctx, args...).Err()
		if err == nil || !strings.HasPrefix(err.Error(), "ERR ") {
			t.Errorf("%v: %v, want an ERR reply", args, err)
		}
	}
	if err := c.Set(ctx, "s", 5, 10_000_000_000).Err(); err == nil {
		t.Error("SET with an expiry through go-redis succeeded")
	}
	// None of the refused SETs changed the value.
	if v, err := c.Get(ctx, "s").Result(); err != nil || v != "42" {
		t.Fatalf("GET after refused SETs: %q %v", v, err)
	}
	if v, err := c.Incr(ctx, "s").Result(); err != nil || v != 43 {
		t.Fatalf("INCR after SET: %d %v", v, err)
	}
	if err := c.Set(ctx, "s", -7, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "s").Int64(); err != nil || v != -7 {
		t.Fatalf("GET after SET -7: %d %v", v, err)
	}
}

func TestDelUnlinkExistsType(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3)
	c := tc.client
	for _, k := range []string{"a", "b", "c"} {
		if err := c.Incr(ctx, k).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Set(ctx, "zero", 0, 0).Err(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		keys []string
		want int64
	}{
		{[]string{"a"}, 1}, {[]string{"a", "a", "a"}, 3}, {[]string{"a", "b", "nope"}, 2},
		{[]string{"nope", "nope"}, 0}, {[]string{"zero"}, 1},
	} {
		if n, err := c.Exists(ctx, tt.keys...).Result(); err != nil || n != tt.want {
			t.Errorf("EXISTS %v = %d %v, want %d", tt.keys, n, err, tt.want)
		}
	}
	if s, err := c.Type(ctx, "a").Result(); err != nil || s != "string" {
		t.Errorf("TYPE a: %q %v", s, err)
	}
	if s, err := c.Type(ctx, "zero").Result(); err != nil || s != "string" {
		t.Errorf("TYPE zero: %q %v", s, err)
	}
	if s, err := c.Type(ctx, "nope").Result(); err != nil || s != "none" {
		t.Errorf("TYPE nope: %q %v", s, err)
	}
	// A key named twice is deleted once, as in Redis.
	if n, err := c.Del(ctx, "a", "nope", "a").Result(); err != nil || n != 1 {
		t.Fatalf("DEL a nope a = %d %v, want 1", n, err)
	}
	if n, err := c.Del(ctx, "a").Result(); err != nil || n != 0 {
		t.Fatalf("DEL a again = %d %v, want 0", n, err)
	}
	if n, err := c.Unlink(ctx, "b", "c", "zero", "nope").Result(); err != nil || n != 3 {
		t.Fatalf("UNLINK b c zero nope = %d %v, want 3", n, err)
	}
	if n, err := c.Exists(ctx, "a", "b", "c", "zero").Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS after DEL: %d %v", n, err)
	}
	if err := c.Get(ctx, "b").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET after UNLINK: %v", err)
	}
	if s, _ := c.Type(ctx, "b").Result(); s != "none" {
		t.Fatalf("TYPE after UNLINK: %q", s)
	}
	// A deleted counter starts again from 0.
	if v, err := c.IncrBy(ctx, "b", 4).Result(); err != nil || v != 4 {
		t.Fatalf("INCRBY after DEL: %d %v", v, err)
	}
}

// loadKeys creates n counters named prefix0..prefix(n-1) with value i+1,
// each incremented in three steps so that with Spread > 1 they land on
// several shards.
func loadKeys(t *testing.T, c *redis.Client, prefix string, n int) map[string]bool {
	t.Helper()
	ctx := context.Background()
	want := map[string]bool{}
	p := c.Pipeline()
	for i := 0; i < n; i++ {
		k := prefix + strconv.Itoa(i)
		want[k] = true
		p.IncrBy(ctx, k, 1)
		p.IncrBy(ctx, k, int64(i))
		p.IncrBy(ctx, k, 0)
	}
	cmds, err := p.Exec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range cmds {
		if cmd.Err() != nil {
			t.Fatal(cmd.Err())
		}
	}
	return want
}

func scanAll(t *testing.T, c *redis.Client, match string, count int64, typ string) (keys []string, pages int) {
	t.Helper()
	ctx := context.Background()
	var cursor uint64
	for {
		var page []string
		var err error
		if typ != "" {
			page, cursor, err = c.ScanType(ctx, cursor, match, count, typ).Result()
		} else {
			page, cursor, err = c.Scan(ctx, cursor, match, count).Result()
		}
		if err != nil {
			t.Fatalf("SCAN: %v", err)
		}
		keys = append(keys, page...)
		pages++
		if cursor == 0 {
			return keys, pages
		}
		if pages > 10000 {
			t.Fatal("SCAN does not end")
		}
	}
}

// checkOnce checks that got holds every key of want exactly once and
// nothing else.
func checkOnce(t *testing.T, what string, got []string, want map[string]bool) {
	t.Helper()
	seen := map[string]int{}
	for _, k := range got {
		seen[k]++
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s returned %q %d times", what, k, n)
		}
		if !want[k] {
			t.Errorf("%s returned %q, which it should not", what, k)
		}
	}
	for k := range want {
		if seen[k] == 0 {
			t.Errorf("%s missed %q", what, k)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

func TestScanKeysDBSize(t *testing.T) {
	for _, spread := range []int{1, 3} {
		t.Run(fmt.Sprintf("spread%d", spread), func(t *testing.T) {
			ctx := context.Background()
			tc := newTestCluster(t, 3, func(c *Config) { c.Spread = spread })
			c := tc.client
			users := loadKeys(t, c, "user:", 500)
			others := loadKeys(t, c, "other:", 40)
			all := map[string]bool{}
			for k := range users {
				all[k] = true
			}
			for k := range others {
				all[k] = true
			}
			if spread > 1 {
				multi := 0
				for k := range users {
					if n, _ := nonZero(shardValues(t, c, k)); n > 1 {
						multi++
					}
				}
				if multi == 0 {
					t.Fatal("with Spread 3 no key has partials on more than one shard")
				}
			}

			got, pages := scanAll(t, c, "", 37, "")
			checkOnce(t, "SCAN COUNT 37", got, all)
			if pages < 3 {
				t.Errorf("SCAN COUNT 37 over %d keys took %d calls: COUNT is ignored", len(all), pages)
			}
			got, _ = scanAll(t, c, "user:*", 50, "")
			checkOnce(t, "SCAN MATCH user:*", got, users)
			got, _ = scanAll(t, c, "user:1?", 1000, "")
			checkOnce(t, "SCAN MATCH user:1?", got, map[string]bool{"user:10": true, "user:11": true, "user:12": true,
				"user:13": true, "user:14": true, "user:15": true, "user:16": true, "user:17": true, "user:18": true, "user:19": true})
			got, _ = scanAll(t, c, "*", 100, "string")
			checkOnce(t, "SCAN TYPE string", got, all)
			got, _ = scanAll(t, c, "*", 100, "hash")
			checkOnce(t, "SCAN TYPE hash", got, map[string]bool{})
			got, _ = scanAll(t, c, "nomatch*", 10, "")
			checkOnce(t, "SCAN MATCH nomatch*", got, map[string]bool{})

			keys, err := c.Keys(ctx, "other:*").Result()
			if err != nil {
				t.Fatal(err)
			}
			checkOnce(t, "KEYS other:*", keys, others)
			keys, err = c.Keys(ctx, "*").Result()
			if err != nil {
				t.Fatal(err)
			}
			checkOnce(t, "KEYS *", keys, all)
			if n, err := c.DBSize(ctx).Result(); err != nil || n != int64(len(all)) {
				t.Fatalf("DBSIZE = %d %v, want %d", n, err, len(all))
			}
			// The values survived all that.
			if v, err := c.Get(ctx, "user:499").Int64(); err != nil || v != 500 {
				t.Fatalf("GET user:499 = %d %v", v, err)
			}

			// Cursors are read as Redis 7.0 reads them (strtoul).
			for _, cur := range []string{"abc", " 0", "1 ", "+", "18446744073709551616"} {
				if err := c.Do(ctx, "SCAN", cur).Err(); err == nil || err.Error() != "ERR invalid cursor" {
					t.Errorf("SCAN %q: %v", cur, err)
				}
			}
			for _, cur := range []string{"+0", "-0", "00", ""} {
				if _, next, err := c.Scan(ctx, 0, "", 0).Result(); err != nil {
					t.Fatal(err)
				} else if res, err := c.Do(ctx, "SCAN", cur).Slice(); err != nil || len(res) != 2 || res[0] != strconv.FormatUint(next, 10) {
					t.Errorf("SCAN %q: %v %v, want what SCAN 0 gives (cursor %d)", cur, res, err, next)
				}
			}
			for _, cur := range []string{"-1", "18446744073709551615"} {
				if err := c.Do(ctx, "SCAN", cur).Err(); err != nil {
					t.Errorf("SCAN %q: %v", cur, err)
				}
			}
			for _, args := range [][]any{{"SCAN", "0", "COUNT", "0"}, {"SCAN", "0", "COUNT"}, {"SCAN", "0", "BOGUS", "1"}} {
				if err := c.Do(ctx, args...).Err(); err == nil || err.Error() != "ERR syntax error" {
					t.Errorf("%v: %v", args, err)
				}
			}
			if err := c.Do(ctx, "SCAN", "0", "COUNT", "x").Err(); err == nil || err.Error() != "ERR value is not an integer or out of range" {
				t.Errorf("SCAN 0 COUNT x: %v", err)
			}
		})
	}
}

func TestFlush(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3)
	c := tc.client
	for _, flush := range [][]any{{"FLUSHALL"}, {"FLUSHDB"}, {"FLUSHALL", "ASYNC"}, {"flushdb", "sync"}} {
		loadKeys(t, c, "f", 20)
		if n, err := c.DBSize(ctx).Result(); err != nil || n != 20 {
			t.Fatalf("DBSIZE before %v: %d %v", flush, n, err)
		}
		if s, err := c.Do(ctx, flush...).Text(); err != nil || s != "OK" {
			t.Fatalf("%v: %q %v", flush, s, err)
		}
		if n, err := c.DBSize(ctx).Result(); err != nil || n != 0 {
			t.Fatalf("DBSIZE after %v: %d %v", flush, n, err)
		}
		if err := c.Get(ctx, "f3").Err(); !errors.Is(err, redis.Nil) {
			t.Fatalf("GET after %v: %v", flush, err)
		}
		if sv := shardValues(t, c, "f3"); len(sv) != 3 {
			t.Fatalf("SHARDVALUES after %v: %v", flush, sv)
		} else if n, _ := nonZero(sv); n != 0 {
			t.Fatalf("SHARDVALUES after %v: %v", flush, sv)
		}
	}
	for _, args := range [][]any{{"FLUSHALL", "NOW"}, {"FLUSHDB", "ASYNC", "SYNC"}} {
		if err := c.Do(ctx, args...).Err(); err == nil || err.Error() != "ERR syntax error" {
			t.Errorf("%v: %v", args, err)
		}
	}
	if v, err := c.Incr(ctx, "f3").Result(); err != nil || v != 1 {
		t.Fatalf("INCR after FLUSHALL: %d %v", v, err)
	}
}

func TestMGetEchoPingQuit(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3)
	c := tc.client
	if err := c.IncrBy(ctx, "m1", 11).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.IncrBy(ctx, "m3", -3).Err(); err != nil {
		t.Fatal(err)
	}
	vals, err := c.MGet(ctx, "m0", "m1", "m2", "m3", "m1").Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := []any{nil, "11", nil, "-3", "11"}; fmt.Sprint(vals) != fmt.Sprint(want) || vals[0] != nil || vals[2] != nil {
		t.Fatalf("MGET = %#v, want %#v", vals, want)
	}
	if vals, err := c.MGet(ctx, "none1", "none2").Result(); err != nil || len(vals) != 2 || vals[0] != nil || vals[1] != nil {
		t.Fatalf("MGET of missing keys: %#v %v", vals, err)
	}
	rc := tc.raw()
	rc.Expect([]any{nil, "11"}, "MGET", "m0", "m1")

	if s, err := c.Echo(ctx, "hello\r\nworld").Result(); err != nil || s != "hello\r\nworld" {
		t.Fatalf("ECHO: %q %v", s, err)
	}
	if s, err := c.Ping(ctx).Result(); err != nil || s != "PONG" {
		t.Fatalf("PING: %q %v", s, err)
	}
	rc.Expect(resptest.Status("PONG"), "PING")
	rc.Expect("msg", "PING", "msg")
	rc.Expect("e", "ECHO", "e")

	// QUIT answers OK, then the server closes; nothing after it runs.
	rc.Write([]byte("*2\r\n$4\r\nINCR\r\n$1\r\nq\r\n*1\r\n$4\r\nQUIT\r\n*2\r\n$4\r\nINCR\r\n$1\r\nq\r\n"))
	if v := rc.Read(); v != int64(1) {
		t.Fatalf("INCR before QUIT: %#v", v)
	}
	if v := rc.Read(); v != resptest.Status("OK") {
		t.Fatalf("QUIT: %#v", v)
	}
	if v, err := resptest.ReadReply(rc.R); !errors.Is(err, io.EOF) {
		t.Fatalf("after QUIT: %#v %v, want EOF", v, err)
	}
	if v, err := c.Get(ctx, "q").Int64(); err != nil || v != 1 {
		t.Fatalf("the INCR after QUIT ran: GET q = %d %v", v, err)
	}
}

func TestSpreadSplitsWritesAndGetIsExact(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3, func(c *Config) { c.Spread = 3 })
	c := tc.client
	// One client, one at a time: the coordinator saw every partial, so
	// each reply is the exact total.
	for i := 1; i <= 300; i++ {
		v, err := c.Incr(ctx, "hot").Result()
		if err != nil {
			t.Fatal(err)
		}
		if v != int64(i) {
			t.Fatalf("INCR %d on a spread counter replied %d", i, v)
		}
	}
	sv := shardValues(t, c, "hot")
	if n, sum := nonZero(sv); n < 2 || sum != 300 {
		t.Fatalf("SHARDVALUES after 300 INCRs with Spread 3: %v (want partials on 2+ shards, sum 300)", sv)
	}
	// Many clients at once: replies are best-known, the total is exact.
	var wg sync.WaitGroup
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if err := c.IncrBy(ctx, "hot", 2).Err(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if v, err := c.Get(ctx, "hot").Int64(); err != nil || v != 300+20*50*2 {
		t.Fatalf("GET after concurrent INCRBYs = %d %v, want %d", v, err, 300+20*50*2)
	}
	sv = shardValues(t, c, "hot")
	if n, sum := nonZero(sv); n < 2 || sum != 2300 {
		t.Fatalf("SHARDVALUES: %v", sv)
	}
	// And each partial is what the shard itself holds.
	for i, a := range tc.addrs {
		sc := redis.NewClient(&redis.Options{Addr: a.Addr})
		v, err := sc.Get(ctx, "hot").Int64()
		sc.Close()
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatal(err)
		}
		if v != sv[a.ID] {
			t.Fatalf("shard %d holds %d, SHARDVALUES says %d", i, v, sv[a.ID])
		}
	}
	// DBSIZE and KEYS count a split counter once.
	if n, err := c.DBSize(ctx).Result(); err != nil || n != 1 {
		t.Fatalf("DBSIZE with one split counter = %d %v", n, err)
	}
	// SET puts the whole value on one shard.
	if err := c.Set(ctx, "hot", 5, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, sum := nonZero(shardValues(t, c, "hot")); n != 1 || sum != 5 {
		t.Fatalf("SHARDVALUES after SET on a split counter: %v", shardValues(t, c, "hot"))
	}
	if v, err := c.Incr(ctx, "hot").Result(); err != nil || v != 6 {
		t.Fatalf("INCR after SET on a spread counter = %d %v, want 6", v, err)
	}
	// DEL removes every partial.
	if n, err := c.Del(ctx, "hot").Result(); err != nil || n != 1 {
		t.Fatalf("DEL split counter = %d %v", n, err)
	}
	if n, _ := nonZero(shardValues(t, c, "hot")); n != 0 {
		t.Fatalf("SHARDVALUES after DEL: %v", shardValues(t, c, "hot"))
	}
	if err := c.Get(ctx, "hot").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET after DEL: %v", err)
	}
	if v, err := c.Incr(ctx, "hot").Result(); err != nil || v != 1 {
		t.Fatalf("INCR after DEL of a split counter = %d %v, want 1", v, err)
	}
	// Pipelined increments on a spread counter, sent in one write, also
	// add up exactly.
	var burst []byte
	for i := 0; i < 500; i++ {
		burst = append(burst, resptest.Encode("INCR", "piped")...)
	}
	rc := tc.raw()
	rc.Write(burst)
	for i := 0; i < 500; i++ {
		if v, ok := rc.Read().(int64); !ok || v < 1 || v > 500 {
			t.Fatalf("pipelined INCR %d on a spread counter replied %v", i, v)
		}
	}
	if v, err := c.Get(ctx, "piped").Int64(); err != nil || v != 500 {
		t.Fatalf("GET after 500 pipelined INCRs = %d %v", v, err)
	}
	// A burst of writes to a hot counter is what spread is for: it must
	// not all land on one shard.
	if n, sum := nonZero(shardValues(t, c, "piped")); n < 2 || sum != 500 {
		t.Fatalf("500 pipelined INCRs with Spread 3 went to %d shard(s): %v", n, shardValues(t, c, "piped"))
	}
	ids := make([]string, 0, 3)
	for id := range shardValues(t, c, "piped") {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if fmt.Sprint(ids) != "[s1 s2 s3]" {
		t.Fatalf("SHARDVALUES shard ids %v", ids)
	}
}

// TestShutdownRightAfterStart stops coordinators before their servers had
// a chance to run: Shutdown must still stop everything, in time.
func TestShutdownRightAfterStart(t *testing.T) {
	tc := newTestCluster(t, 1)
	for i := 0; i < 50; i++ {
		cfg := tc.coord.cfg
		cfg.Registerer, cfg.Gatherer = nil, nil
		c, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err = c.Shutdown(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Shutdown right after Start (round %d): %v", i, err)
		}
	}
}

// Concurrent reads of overlapping keys share read rounds, where each
// distinct key is asked for once; every reader still gets its own keys'
// values, in its order.
func TestConcurrentReadsOfOverlappingKeys(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3)
	for i := 0; i < 4; i++ {
		if err := tc.client.IncrBy(ctx, fmt.Sprintf("o%d", i), int64(i+1)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for g := 0; g < 40; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, b := fmt.Sprintf("o%d", g%4), fmt.Sprintf("o%d", (g+1)%5) // o4 does not exist
			for range 50 {
				vals, err := tc.client.MGet(ctx, a, b, a).Result()
				if err != nil {
					errs <- err
					return
				}
				want := []any{fmt.Sprint(g%4 + 1), nil, fmt.Sprint(g%4 + 1)}
				if (g+1)%5 != 4 {
					want[1] = fmt.Sprint((g+1)%5 + 1)
				}
				if fmt.Sprint(vals) != fmt.Sprint(want) {
					errs <- fmt.Errorf("MGET %s %s %s = %v, want %v", a, b, a, vals, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// bigKeys returns n distinct keys of size bytes each, size chosen by the
// caller so that one command naming them all is just under a request limit.
func bigKeys(n, size int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = strings.Repeat(string(rune('a'+i)), size)
	}
	return keys
}

// A command the coordinator accepts from a client, with keys that take it
// right up to the client request limit (4 MiB by default, as on the
// shards), is answered as Redis would: the SC.GET and SC.DEL the
// coordinator sends for it name the shard too, and must not go over the
// shard's own limit, which would drop the coordinator's connection to
// every shard and answer the client with the shard's protocol error.
func TestKeysUpToTheRequestLimit(t *testing.T) {
	// Rounds of megabytes: the test cluster's 500 ms is too short for them
	// under the race detector.
	tc := newTestCluster(t, 3, func(c *Config) { c.ShardTimeout, c.WriteTimeout = 10*time.Second, 20*time.Second })
	// MGET with 4 keys of size bytes: the largest request under the limit.
	size := resp.DefaultMaxBulkBytes
	for len(resptest.Encode(append([]string{"MGET"}, bigKeys(4, size)...)...)) > resp.DefaultMaxRequestBytes {
		size--
	}
	keys := bigKeys(4, size)
	rc := tc.raw()
	// Like rc.Expect, without printing megabytes of keys.
	expect := func(want any, args ...string) {
		t.Helper()
		if got := rc.Do(args...); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s of %d keys of %d bytes: got %#v, want %#v", args[0], len(args)-1, size, got, want)
		}
	}
	expect([]any{nil, nil, nil, nil}, append([]string{"MGET"}, keys...)...)
	expect(int64(5), "INCRBY", keys[1], "5")
	expect([]any{nil, "5", nil, nil}, append([]string{"MGET"}, keys...)...)
	expect(int64(1), append([]string{"EXISTS"}, keys...)...)
	expect(int64(1), append([]string{"DEL"}, keys...)...)
	expect([]any{nil, nil, nil, nil}, append([]string{"MGET"}, keys...)...)
	for i, sc := range tc.coord.shards {
		if st := sc.status(); !st.Up {
			t.Errorf("shard %d went down: %s", i, st.Err)
		}
	}
}

// KEYS and SCAN MATCH take Redis' glob patterns, character classes
// included: [abc], [^a], [a-z] and \ escapes inside them.
func TestKeysAndScanMatchCharacterClasses(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3)
	c := tc.client
	for _, k := range []string{"key:1", "key:22", "key:x", "hello", "hallo", "hxllo", "a-b"} {
		if err := c.Incr(ctx, k).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for pattern, want := range map[string][]string{
		"key:[0-9]*": {"key:1", "key:22"},
		"key:[^0-9]": {"key:x"},
		"h[ae]llo":   {"hallo", "hello"},
		"h[a-e]llo":  {"hallo", "hello"},
		"a[\\-]b":    {"a-b"},
		"h\\[ae]llo": {},
	} {
		keys, err := c.Keys(ctx, pattern).Result()
		if err != nil {
			t.Fatal(err)
		}
		checkOnce(t, "KEYS "+pattern, keys, setOf(want))
		scanned, _ := scanAll(t, c, pattern, 100, "")
		checkOnce(t, "SCAN MATCH "+pattern, scanned, setOf(want))
	}
}

// An empty pattern matches only the empty key, as in Redis: it is not "no
// pattern".
func TestKeysAndScanMatchEmptyPattern(t *testing.T) {
	tc := newTestCluster(t, 3)
	rc := tc.raw()
	for _, k := range []string{"a", "b", "c"} {
		rc.Expect(int64(1), "INCR", k)
	}
	scanEmpty := func() []any {
		var all []any
		cursor := "0"
		for range 1000 {
			page, ok := rc.Do("SCAN", cursor, "MATCH", "", "COUNT", "100").([]any)
			if !ok || len(page) != 2 {
				t.Fatalf("SCAN MATCH \"\": %#v", page)
			}
			all = append(all, page[1].([]any)...)
			if cursor = page[0].(string); cursor == "0" {
				return all
			}
		}
		t.Fatal("SCAN does not end")
		return nil
	}
	rc.Expect([]any{}, "KEYS", "")
	if got := scanEmpty(); len(got) != 0 {
		t.Errorf("SCAN MATCH \"\" with no empty key: %q, want none", got)
	}
	rc.Expect(int64(1), "INCR", "")
	rc.Expect([]any{""}, "KEYS", "")
	if got := scanEmpty(); len(got) != 1 || got[0] != "" {
		t.Errorf("SCAN MATCH \"\": %q, want the empty key alone", got)
	}
}

func setOf(keys []string) map[string]bool {
	m := map[string]bool{}
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// A DEL within the client request limit that names a 1-byte key some
// 600,000 times: its SC.GET and SC.DEL must be cut by their size on the
// wire, not by key bytes alone, or the shard refuses them as too large.
func TestDelOfManyTinyKeysStaysUnderTheShardLimit(t *testing.T) {
	tc := newTestCluster(t, 1, func(c *Config) { c.ShardTimeout, c.WriteTimeout = 5*time.Second, 10*time.Second })
	if err := tc.client.Incr(t.Context(), "a").Err(); err != nil {
		t.Fatal(err)
	}
	const n = 599_183
	req := fmt.Appendf(nil, "*%d\r\n$3\r\nDEL\r\n", n+1)
	req = append(req, strings.Repeat("$1\r\na\r\n", n)...)
	if len(req) > resp.DefaultMaxRequestBytes {
		t.Fatalf("the request is %d bytes, over the client limit", len(req))
	}
	c := tc.raw()
	c.Write(req)
	if got := c.Read(); got != int64(1) {
		t.Errorf("DEL: %#v, want 1", got)
	}
	if st := tc.coord.shards[0].status(); !st.Up {
		t.Errorf("the shard went down: %s", st.Err)
	}
}

// A SET whose reset reached a shard that then did not answer may have
// changed the counter: the shard gets the DEL late and applies it. The
// error says the outcome is unknown and that SET may be repeated, not
// SHARDDOWN, which reads as "nothing happened"; repeated, it finishes.
// DEL and FLUSHALL end the same way.
func TestResetThatMayHaveReachedAShardSaysUnknown(t *testing.T) {
	ctx := context.Background()
	back := newTestCluster(t, 2)
	fz := newFreezer(t, back.addrs[0].Addr)
	tc := newTestCluster(t, 0, func(c *Config) {
		c.Shards = []ShardAddr{{ID: back.addrs[0].ID, Addr: fz.ln.Addr().String()}, back.addrs[1]}
		c.ShardTimeout = 300 * time.Millisecond
	})
	key := ""
	for i := 0; key == ""; i++ {
		if k := fmt.Sprintf("k%d", i); tc.coord.ring.Owner([]byte(k)) == 1 {
			key = k
		}
	}
	// A partial on s1, which does not own key, and one on its owner s2.
	s1 := redis.NewClient(&redis.Options{Addr: back.addrs[0].Addr})
	defer s1.Close()
	if err := s1.IncrBy(ctx, key, 100).Err(); err != nil {
		t.Fatal(err)
	}
	if err := tc.client.IncrBy(ctx, key, 5).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := tc.client.Get(ctx, key).Int64(); err != nil || v != 105 {
		t.Fatalf("GET = %d %v, want 105", v, err)
	}

	// s1 hangs on the command that resets it: DEL's first step, which
	// reads the partials, still goes through.
	resets := []struct {
		cmd   []any
		shard string
	}{{[]any{"set", key, 7}, resp.CmdDel}, {[]any{"del", key}, resp.CmdDel}, {[]any{"flushall"}, resp.CmdFlush}}
	for _, r := range resets {
		cmd := r.cmd
		fz.freezeOn.Store(&r.shard)
		err := tc.client.Do(ctx, cmd...).Err()
		fz.freezeOn.Store(nil)
		fz.frozen.Store(false)
		if err == nil || !strings.HasPrefix(err.Error(), "UNKNOWN ") || !strings.Contains(err.Error(), "repeat it") {
			t.Fatalf("%v while s1 hangs: %v, want UNKNOWN ... repeat it", cmd, err)
		}
		tc.waitShard(0, true)
		if err := tc.client.Do(ctx, cmd...).Err(); err != nil {
			t.Fatalf("%v repeated: %v", cmd, err)
		}
	}
	if n, err := tc.client.Exists(ctx, key).Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS after FLUSHALL = %d %v", n, err)
	}

	// A reset that could not start, with a shard known down, changed
	// nothing and says so.
	if err := tc.client.Set(ctx, key, 9, 0).Err(); err != nil {
		t.Fatal(err)
	}
	back.stopShard(0)
	tc.waitShard(0, false)
	if err := tc.client.Set(ctx, key, 1, 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "SHARDDOWN ") {
		t.Fatalf("SET with s1 down: %v, want SHARDDOWN", err)
	}
}

// tookPart tells a reset command that may have changed its shard from one
// that certainly did not.
func TestTookPart(t *testing.T) {
	tc := newTestCluster(t, 1)
	sc := tc.coord.shards[0]
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{nil, true},
		{fmt.Errorf("%w: shard s1: context deadline exceeded", resp.ErrShardUnavailable), true}, // sent, no answer
		{fmt.Errorf("%w: RocksDB write failed", resp.ErrAmbiguous), true},
		{notSentError{sc.unavailable()}, false}, // the breaker was open: never sent
		{resp.ErrShuttingDown, false},
		{resp.ErrNotInteger, false}, // refused
	} {
		if got := tookPart(tt.err); got != tt.want {
			t.Errorf("tookPart(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	sc.markDown(errors.New("test"))
	if _, err := sc.do(context.Background(), []string{"PING"}); tookPart(err) {
		t.Errorf("a do refused by the open breaker (%v) took part", err)
	}
}
