package integration

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/shardcounter/shardcounter/internal/resptest"
)

// TestCounterCommands drives the counter commands with go-redis on its
// default options, which open every connection with HELLO 3.
func TestCounterCommands(t *testing.T) {
	ctx := context.Background()
	c := startCluster(t, clusterOpts{})
	rdb := c.client()

	t.Run("incr and decr", func(t *testing.T) {
		steps := []struct {
			name string
			cmd  func() (int64, error)
			want int64
		}{
			{"INCR", func() (int64, error) { return rdb.Incr(ctx, "likes").Result() }, 1},
			{"INCRBY 5", func() (int64, error) { return rdb.IncrBy(ctx, "likes", 5).Result() }, 6},
			{"DECR", func() (int64, error) { return rdb.Decr(ctx, "likes").Result() }, 5},
			{"DECRBY 7", func() (int64, error) { return rdb.DecrBy(ctx, "likes", 7).Result() }, -2},
			{"INCRBY -3", func() (int64, error) { return rdb.IncrBy(ctx, "likes", -3).Result() }, -5},
			{"INCRBY 0", func() (int64, error) { return rdb.IncrBy(ctx, "likes", 0).Result() }, -5},
		}
		for _, s := range steps {
			if v, err := s.cmd(); err != nil || v != s.want {
				t.Fatalf("%s: got %d, %v; want %d", s.name, v, err, s.want)
			}
		}
		if v, err := rdb.Get(ctx, "likes").Result(); err != nil || v != "-5" {
			t.Fatalf("GET likes: %q, %v; want \"-5\"", v, err)
		}
		if err := rdb.Get(ctx, "never-written").Err(); !errors.Is(err, redis.Nil) {
			t.Fatalf("GET of a missing key: %v, want a nil reply", err)
		}
	})

	t.Run("mget", func(t *testing.T) {
		for i := 1; i <= 5; i++ {
			if err := rdb.IncrBy(ctx, fmt.Sprintf("m%d", i), int64(i*10)).Err(); err != nil {
				t.Fatal(err)
			}
		}
		got, err := rdb.MGet(ctx, "m1", "missing", "m2", "m3", "m4", "m5", "m1").Result()
		if err != nil {
			t.Fatal(err)
		}
		want := []any{"10", nil, "20", "30", "40", "50", "10"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("MGET: %v, want %v", got, want)
		}
	})

	t.Run("set", func(t *testing.T) {
		if err := rdb.IncrBy(ctx, "s", 40).Err(); err != nil {
			t.Fatal(err)
		}
		if v, err := rdb.Set(ctx, "s", 1000, 0).Result(); err != nil || v != "OK" {
			t.Fatalf("SET s 1000: %q, %v", v, err)
		}
		if v := getInt(t, rdb, "s"); v != 1000 {
			t.Fatalf("GET after SET: %d, want 1000", v)
		}
		if v, err := rdb.Incr(ctx, "s").Result(); err != nil || v != 1001 {
			t.Fatalf("INCR after SET: %d, %v; want 1001", v, err)
		}
		err := rdb.Set(ctx, "s", "twelve", 0).Err()
		if err == nil || err.Error() != "ERR value is not an integer or out of range" {
			t.Fatalf("SET to a non-integer: %v, want ERR value is not an integer or out of range", err)
		}
		if v := getInt(t, rdb, "s"); v != 1001 {
			t.Fatalf("a refused SET changed the counter to %d, want 1001", v)
		}
		if err := rdb.Set(ctx, "fresh", -7, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if v := getInt(t, rdb, "fresh"); v != -7 {
			t.Fatalf("GET after SET of a new key: %d, want -7", v)
		}
		sum := int64(0)
		for _, p := range shardValues(t, rdb, "s") {
			sum += p
		}
		if sum != 1001 {
			t.Fatalf("SHARDVALUES after SET sums to %d, want 1001", sum)
		}
	})

	t.Run("del and exists", func(t *testing.T) {
		for _, k := range []string{"d1", "d2"} {
			if err := rdb.Incr(ctx, k).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := rdb.Exists(ctx, "d1", "d2", "d1", "nope").Result(); err != nil || n != 3 {
			t.Fatalf("EXISTS d1 d2 d1 nope: %d, %v; want 3", n, err)
		}
		if n, err := rdb.Del(ctx, "d1", "nope").Result(); err != nil || n != 1 {
			t.Fatalf("DEL d1 nope: %d, %v; want 1", n, err)
		}
		if err := rdb.Get(ctx, "d1").Err(); !errors.Is(err, redis.Nil) {
			t.Fatalf("GET after DEL: %v, want a nil reply", err)
		}
		if n, err := rdb.Exists(ctx, "d1", "d2").Result(); err != nil || n != 1 {
			t.Fatalf("EXISTS after DEL: %d, %v; want 1", n, err)
		}
		if v, err := rdb.Incr(ctx, "d1").Result(); err != nil || v != 1 {
			t.Fatalf("INCR after DEL: %d, %v; want 1", v, err)
		}
	})

	t.Run("shardvalues", func(t *testing.T) {
		if err := rdb.IncrBy(ctx, "global_likes", 5).Err(); err != nil {
			t.Fatal(err)
		}
		// go-redis speaks RESP3 by default: SHARDVALUES is a map.
		raw, err := rdb.Do(ctx, "SHARDVALUES", "global_likes").Result()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := raw.(map[any]any); !ok {
			t.Fatalf("SHARDVALUES over RESP3 is %T, want a map: %#v", raw, raw)
		}
		sv := shardValues(t, rdb, "global_likes")
		if len(sv) != 3 || sv["s1"]+sv["s2"]+sv["s3"] != 5 {
			t.Fatalf("SHARDVALUES: %v, want s1, s2, s3 summing to 5", sv)
		}
		nonzero := 0
		for _, p := range sv {
			if p != 0 {
				nonzero++
			}
		}
		if nonzero != 1 {
			t.Fatalf("SHARDVALUES: %v, want the 5 on exactly one shard with spread 1", sv)
		}

		// RESP2: a flat array of id, partial pairs.
		rdb2 := newClient(t, &redis.Options{Addr: c.addr, Protocol: 2})
		raw2, err := rdb2.Do(ctx, "SHARDVALUES", "global_likes").Result()
		if err != nil {
			t.Fatal(err)
		}
		arr, ok := raw2.([]any)
		if !ok || len(arr) != 6 {
			t.Fatalf("SHARDVALUES over RESP2: %#v, want a flat array of 6", raw2)
		}
		if got := shardValues(t, rdb2, "global_likes"); fmt.Sprint(got) != fmt.Sprint(sv) {
			t.Fatalf("SHARDVALUES over RESP2: %v, over RESP3: %v", got, sv)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			args []any
			want string
		}{
			{[]any{"foo", "bar", "baz"}, "ERR unknown command 'foo', with args beginning with: 'bar' 'baz'"},
			{[]any{"incrby", "k"}, "ERR wrong number of arguments for 'incrby' command"},
			{[]any{"INCRBY", "k", "1", "2"}, "ERR wrong number of arguments for 'incrby' command"},
			{[]any{"get"}, "ERR wrong number of arguments for 'get' command"},
			{[]any{"INCRBY", "k", "abc"}, "ERR value is not an integer or out of range"},
			{[]any{"INCRBY", "k", "1.5"}, "ERR value is not an integer or out of range"},
			{[]any{"INCRBY", "k", "99999999999999999999"}, "ERR value is not an integer or out of range"},
			{[]any{"DECRBY", "k", ""}, "ERR value is not an integer or out of range"},
		} {
			err := rdb.Do(ctx, tc.args...).Err()
			if err == nil || strings.TrimSpace(err.Error()) != tc.want {
				t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
			}
		}
		if err := rdb.Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
			t.Fatalf("refused commands created k: GET k = %v", err)
		}
	})

	t.Run("overflow", func(t *testing.T) {
		if err := rdb.Set(ctx, "big", math.MaxInt64-1, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if v, err := rdb.Incr(ctx, "big").Result(); err != nil || v != math.MaxInt64 {
			t.Fatalf("INCR to MaxInt64: %d, %v", v, err)
		}
		const want = "ERR increment or decrement would overflow"
		for _, f := range []func() error{
			func() error { return rdb.Incr(ctx, "big").Err() },
			func() error { return rdb.IncrBy(ctx, "big", math.MaxInt64).Err() },
		} {
			if err := f(); err == nil || err.Error() != want {
				t.Fatalf("INCR past MaxInt64: %v, want %q", err, want)
			}
		}
		if v := getInt(t, rdb, "big"); v != math.MaxInt64 {
			t.Fatalf("after a refused overflow GET is %d, want %d", v, int64(math.MaxInt64))
		}
		if err := rdb.Set(ctx, "small", math.MinInt64, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := rdb.Decr(ctx, "small").Err(); err == nil || err.Error() != want {
			t.Fatalf("DECR past MinInt64: %v, want %q", err, want)
		}
		if v := getInt(t, rdb, "small"); v != math.MinInt64 {
			t.Fatalf("after a refused underflow GET is %d, want %d", v, int64(math.MinInt64))
		}
	})
}

// TestConnectionCommands checks the connection and introspection commands
// that client libraries and tools rely on.
func TestConnectionCommands(t *testing.T) {
	ctx := context.Background()
	c := startCluster(t, clusterOpts{})
	rdb := c.client()

	if v, err := rdb.Ping(ctx).Result(); err != nil || v != "PONG" {
		t.Fatalf("PING: %q, %v", v, err)
	}
	if v, err := rdb.Echo(ctx, "hello world").Result(); err != nil || v != "hello world" {
		t.Fatalf("ECHO: %q, %v", v, err)
	}
	if v, err := rdb.Do(ctx, "SELECT", 0).Result(); err != nil || v != "OK" {
		t.Fatalf("SELECT 0: %v, %v", v, err)
	}
	if err := rdb.Do(ctx, "SELECT", 1).Err(); err == nil {
		t.Fatal("SELECT 1 succeeded; there is only database 0")
	}

	// CLIENT subcommands on one connection.
	conn := rdb.Conn()
	defer conn.Close()
	if v, err := conn.ClientSetName(ctx, "integration").Result(); err != nil || !v {
		t.Fatalf("CLIENT SETNAME: %v, %v", v, err)
	}
	if v, err := conn.ClientGetName(ctx).Result(); err != nil || v != "integration" {
		t.Fatalf("CLIENT GETNAME: %q, %v", v, err)
	}
	id, err := conn.ClientID(ctx).Result()
	if err != nil || id <= 0 {
		t.Fatalf("CLIENT ID: %d, %v", id, err)
	}
	if id2, err := conn.ClientID(ctx).Result(); err != nil || id2 != id {
		t.Fatalf("CLIENT ID changed on one connection: %d then %d (%v)", id, id2, err)
	}
	if v, err := conn.Do(ctx, "CLIENT", "SETINFO", "lib-name", "integration-test").Result(); err != nil || v != "OK" {
		t.Fatalf("CLIENT SETINFO: %v, %v", v, err)
	}

	info, err := rdb.Info(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(info, "redis_version:") || !strings.Contains(info, "loading:0") {
		t.Fatalf("INFO lacks redis_version: or loading:0:\n%s", info)
	}
	if n, err := rdb.Do(ctx, "COMMAND", "COUNT").Int64(); err != nil || n < 20 {
		t.Fatalf("COMMAND COUNT: %d, %v; want at least the 20-odd commands served", n, err)
	}
	if err := rdb.Do(ctx, "COMMAND", "DOCS").Err(); err != nil {
		t.Fatalf("COMMAND DOCS: %v", err)
	}
	if err := rdb.Do(ctx, "COMMAND").Err(); err != nil {
		t.Fatalf("COMMAND: %v", err)
	}
	cfg, err := rdb.ConfigGet(ctx, "save").Result()
	if _, ok := cfg["save"]; err != nil || !ok || len(cfg) != 1 {
		t.Fatalf("CONFIG GET save: %v, %v", cfg, err)
	}
	if v, err := rdb.Do(ctx, "HELLO", "4").Result(); err == nil || !strings.HasPrefix(err.Error(), "NOPROTO") {
		t.Fatalf("HELLO 4: %v, %v; want a NOPROTO error", v, err)
	}

	// HELLO 2 and 3 over a raw connection: an array, then a map.
	rc := dialRaw(t, c.addr)
	v, err := rc.cmd("HELLO", "2")
	if arr, ok := v.([]any); err != nil || !ok || len(arr) != 14 {
		t.Fatalf("HELLO 2: %#v, %v; want a 14-element array", v, err)
	}
	v, err = rc.cmd("HELLO", "3")
	if m, ok := v.(resptest.Map); err != nil || !ok || len(m) != 14 || fmt.Sprint(m[4:6]) != "[proto 3]" {
		t.Fatalf("HELLO 3: %#v, %v; want a 7-entry map with proto 3", v, err)
	}
	if v, err := rc.cmd("QUIT"); err != nil || v != resptest.Status("OK") {
		t.Fatalf("QUIT: %#v, %v", v, err)
	}
	if v, err := rc.read(); err == nil {
		t.Fatalf("the connection is open after QUIT: read %#v", v)
	}
}

// TestKeyspaceCommands checks DBSIZE, SCAN, KEYS, TYPE and FLUSHALL across
// the shards.
func TestKeyspaceCommands(t *testing.T) {
	ctx := context.Background()
	c := startCluster(t, clusterOpts{})
	rdb := c.client()

	const n = 250
	want := map[string]bool{}
	for i := 0; i < n; i++ {
		k := "key:" + strconv.Itoa(i)
		want[k] = true
		if err := rdb.IncrBy(ctx, k, int64(i+1)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := rdb.DBSize(ctx).Result(); err != nil || v != n {
		t.Fatalf("DBSIZE: %d, %v; want %d", v, err, n)
	}

	// SCAN to cursor 0 returns every key exactly once.
	seen := map[string]int{}
	var cursor uint64
	for rounds := 0; ; rounds++ {
		if rounds > 10*n {
			t.Fatal("SCAN never returned cursor 0")
		}
		keys, next, err := rdb.Scan(ctx, cursor, "*", 20).Result()
		if err != nil {
			t.Fatalf("SCAN %d: %v", cursor, err)
		}
		for _, k := range keys {
			seen[k]++
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	for k := range want {
		if seen[k] != 1 {
			t.Errorf("SCAN returned %s %d times, want once", k, seen[k])
		}
	}
	for k := range seen {
		if !want[k] {
			t.Errorf("SCAN returned %s, which was never written", k)
		}
	}

	// SCAN with MATCH.
	var matched []string
	iter := rdb.Scan(ctx, 0, "key:1?", 7).Iterator()
	for iter.Next(ctx) {
		matched = append(matched, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(matched)
	if len(matched) != 10 || matched[0] != "key:10" || matched[9] != "key:19" {
		t.Fatalf("SCAN MATCH key:1?: %v, want key:10..key:19", matched)
	}

	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != n {
		t.Fatalf("KEYS * returned %d keys, want %d", len(keys), n)
	}
	for _, k := range keys {
		if !want[k] {
			t.Fatalf("KEYS * returned %s, which was never written", k)
		}
	}

	if v, err := rdb.Type(ctx, "key:3").Result(); err != nil || v != "string" {
		t.Fatalf("TYPE of a counter: %q, %v; want string", v, err)
	}
	if v, err := rdb.Type(ctx, "nope").Result(); err != nil || v != "none" {
		t.Fatalf("TYPE of a missing key: %q, %v; want none", v, err)
	}

	if v, err := rdb.FlushAll(ctx).Result(); err != nil || v != "OK" {
		t.Fatalf("FLUSHALL: %q, %v", v, err)
	}
	if v, err := rdb.DBSize(ctx).Result(); err != nil || v != 0 {
		t.Fatalf("DBSIZE after FLUSHALL: %d, %v", v, err)
	}
	if err := rdb.Get(ctx, "key:3").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET after FLUSHALL: %v, want a nil reply", err)
	}
	if v, err := rdb.Incr(ctx, "key:3").Result(); err != nil || v != 1 {
		t.Fatalf("INCR after FLUSHALL: %d, %v; want 1", v, err)
	}
	if v, err := rdb.FlushDB(ctx).Result(); err != nil || v != "OK" {
		t.Fatalf("FLUSHDB: %q, %v", v, err)
	}
	if v, err := rdb.Keys(ctx, "*").Result(); err != nil || len(v) != 0 {
		t.Fatalf("KEYS * after FLUSHDB: %v, %v; want none", v, err)
	}
}

// TestShardAnswersPlainRedis: a shard is a debugging tool for redis-cli:
// it answers PING, INFO, GET and INCRBY on its own partials.
func TestShardAnswersPlainRedis(t *testing.T) {
	ctx := context.Background()
	c := startCluster(t, clusterOpts{})
	rdb := c.client()
	key := keyOn(t, rdb, "s2", "plain") // holds 1, on s2
	if err := rdb.IncrBy(ctx, key, 9).Err(); err != nil {
		t.Fatal(err)
	}
	s2 := newClient(t, &redis.Options{Addr: c.shards[1].addr})
	if v, err := s2.Ping(ctx).Result(); err != nil || v != "PONG" {
		t.Fatalf("PING s2: %q, %v", v, err)
	}
	if info, err := s2.Info(ctx).Result(); err != nil || !strings.Contains(info, "redis_version:") {
		t.Fatalf("INFO on s2: %v\n%s", err, info)
	}
	if v := getInt(t, s2, key); v != 10 {
		t.Fatalf("GET %s on its shard: %d, want the partial 10", key, v)
	}
	s1 := newClient(t, &redis.Options{Addr: c.shards[0].addr})
	if err := s1.Get(ctx, key).Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET %s on a shard without a partial: %v, want a nil reply", key, err)
	}
	// A partial added on a shard directly counts in the total.
	if v, err := s1.IncrBy(ctx, key, 5).Result(); err != nil || v != 5 {
		t.Fatalf("INCRBY on s1 directly: %d, %v; want 5", v, err)
	}
	if v := getInt(t, rdb, key); v != 15 {
		t.Fatalf("GET through the coordinator: %d, want 15", v)
	}
}
