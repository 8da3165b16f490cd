package coordinator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand"
	"net"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardcounter/shardcounter/internal/resptest"
)

// raw is a raw connection to the test cluster's coordinator.
func (tc *testCluster) raw() *resptest.Conn {
	tc.t.Helper()
	return resptest.Dial(tc.t, tc.coord.Addr().String(), 20*time.Second)
}

// newClient is a go-redis client for the test cluster's coordinator.
func (tc *testCluster) newClient(opt redis.Options) *redis.Client {
	opt.Addr = tc.coord.Addr().String()
	c := redis.NewClient(&opt)
	tc.t.Cleanup(func() { c.Close() })
	return c
}

// checkHello checks a HELLO reply as a flat list of pairs.
func checkHello(t *testing.T, got []any, proto int64) {
	t.Helper()
	if len(got) != 14 {
		t.Fatalf("HELLO: %d elements, want 14: %#v", len(got), got)
	}
	id, _ := got[7].(int64)
	want := []any{"server", "redis", "version", "7.2.0", "proto", proto, "id", id,
		"mode", "standalone", "role", "master", "modules", []any{}}
	if id <= 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("HELLO\n got %#v\nwant %#v", got, want)
	}
}

func TestGoRedisDefaultOptionsSpeakRESP3(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3)
	c := tc.newClient(redis.Options{})
	// go-redis falls back to RESP2 silently when HELLO 3 fails; CLIENT INFO
	// shows what was negotiated and that CLIENT SETINFO arrived.
	info, err := c.Do(ctx, "CLIENT", "INFO").Text()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(info, " resp=3 ") || !strings.Contains(info, "lib-name=go-redis") || !strings.Contains(info, "lib-ver="+redis.Version()) {
		t.Fatalf("CLIENT INFO after go-redis connected: %q", info)
	}
	if err := c.IncrBy(ctx, "k", 7).Err(); err != nil {
		t.Fatal(err)
	}
	sv, err := c.Do(ctx, "SHARDVALUES", "k").Result()
	if err != nil {
		t.Fatal(err)
	}
	m, ok := sv.(map[any]any)
	if !ok || len(m) != 3 {
		t.Fatalf("SHARDVALUES in RESP3: %#v", sv)
	}
	var sum int64
	for _, a := range tc.addrs {
		v, ok := m[a.ID].(int64)
		if !ok {
			t.Fatalf("SHARDVALUES lacks shard %s: %#v", a.ID, m)
		}
		sum += v
	}
	if sum != 7 {
		t.Fatalf("SHARDVALUES sums to %d, want 7", sum)
	}
	hello, err := c.Do(ctx, "HELLO", "3").Result()
	if err != nil {
		t.Fatal(err)
	}
	hm, ok := hello.(map[any]any)
	if !ok {
		t.Fatalf("HELLO 3 through go-redis: %#v", hello)
	}
	for k, want := range map[string]any{"server": "redis", "version": "7.2.0", "proto": int64(3), "mode": "standalone", "role": "master"} {
		if hm[k] != want {
			t.Errorf("HELLO 3 %s = %#v, want %#v", k, hm[k], want)
		}
	}
	if id, ok := hm["id"].(int64); !ok || id <= 0 {
		t.Errorf("HELLO 3 id %#v", hm["id"])
	}
	if mods, ok := hm["modules"].([]any); !ok || len(mods) != 0 {
		t.Errorf("HELLO 3 modules %#v", hm["modules"])
	}
}

func TestGoRedisProtocol2(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3)
	c := tc.newClient(redis.Options{Protocol: 2})
	info, err := c.Do(ctx, "CLIENT", "INFO").Text()
	if err != nil || !strings.Contains(info, " resp=2 ") {
		t.Fatalf("CLIENT INFO with Protocol 2: %q %v", info, err)
	}
	if v, err := c.IncrBy(ctx, "k", 9).Result(); err != nil || v != 9 {
		t.Fatalf("INCRBY: %d %v", v, err)
	}
	if v, err := c.Get(ctx, "k").Int64(); err != nil || v != 9 {
		t.Fatalf("GET: %d %v", v, err)
	}
	sv, err := c.Do(ctx, "SHARDVALUES", "k").Result()
	if err != nil {
		t.Fatal(err)
	}
	flat, ok := sv.([]any)
	if !ok || len(flat) != 6 {
		t.Fatalf("SHARDVALUES in RESP2: want a flat array of 6, got %#v", sv)
	}
	var sum int64
	for i := 0; i < 6; i += 2 {
		if flat[i] != tc.addrs[i/2].ID {
			t.Fatalf("SHARDVALUES key %d = %#v, want %s", i, flat[i], tc.addrs[i/2].ID)
		}
		sum += flat[i+1].(int64)
	}
	if sum != 9 {
		t.Fatalf("SHARDVALUES sums to %d", sum)
	}
	hello, err := c.Do(ctx, "HELLO", "2").Slice()
	if err != nil {
		t.Fatal(err)
	}
	checkHello(t, hello, 2)
	err = c.Do(ctx, "HELLO", "4").Err()
	if err == nil || err.Error() != "NOPROTO unsupported protocol version" {
		t.Fatalf("HELLO 4: %v", err)
	}
	cfg, err := c.Do(ctx, "CONFIG", "GET", "save").Slice()
	if err != nil || !reflect.DeepEqual(cfg, []any{"save", ""}) {
		t.Fatalf("CONFIG GET save: %#v %v", cfg, err)
	}
	cfg, err = c.Do(ctx, "CONFIG", "GET", "appendonly").Slice()
	if err != nil || !reflect.DeepEqual(cfg, []any{"appendonly", "yes"}) {
		t.Fatalf("CONFIG GET appendonly: %#v %v", cfg, err)
	}
}

func TestHelloRawOverCoordinator(t *testing.T) {
	tc := newTestCluster(t, 3)
	rc := tc.raw()
	rc.Expect(resptest.Err("NOPROTO unsupported protocol version"), "HELLO", "4")
	m, ok := rc.Do("HELLO", "3").(resptest.Map)
	if !ok {
		t.Fatal("HELLO 3 is not a RESP3 map")
	}
	checkHello(t, []any(m), 3)
	// In RESP3 a missing key is the RESP3 null and SHARDVALUES a map.
	rc.Write([]byte("*2\r\n$3\r\nGET\r\n$4\r\nnope\r\n"))
	if line, err := rc.R.ReadString('\n'); err != nil || line != "_\r\n" {
		t.Fatalf("GET missing key in RESP3: %q %v", line, err)
	}
	if sv, ok := rc.Do("SHARDVALUES", "nope").(resptest.Map); !ok || len(sv) != 6 {
		t.Fatalf("SHARDVALUES in RESP3: %#v", sv)
	}
	arr, ok := rc.Do("HELLO", "2").([]any)
	if !ok {
		t.Fatal("HELLO 2 is not an array")
	}
	checkHello(t, arr, 2)
	rc.Write([]byte("*2\r\n$3\r\nGET\r\n$4\r\nnope\r\n"))
	if line, err := rc.R.ReadString('\n'); err != nil || line != "$-1\r\n" {
		t.Fatalf("GET missing key in RESP2: %q %v", line, err)
	}
}

func TestClientSelectInfoCommandConfig(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3)
	conn := tc.client.Conn()
	defer conn.Close()

	if err := conn.ClientSetName(ctx, "reporter").Err(); err != nil {
		t.Fatal(err)
	}
	if name, err := conn.ClientGetName(ctx).Result(); err != nil || name != "reporter" {
		t.Fatalf("CLIENT GETNAME: %q %v", name, err)
	}
	id, err := conn.ClientID(ctx).Result()
	if err != nil || id <= 0 {
		t.Fatalf("CLIENT ID: %d %v", id, err)
	}
	if id2, _ := conn.ClientID(ctx).Result(); id2 != id {
		t.Fatalf("CLIENT ID changed on one connection: %d then %d", id, id2)
	}
	if s, err := conn.Do(ctx, "CLIENT", "SETINFO", "LIB-NAME", "mylib").Text(); err != nil || s != "OK" {
		t.Fatalf("CLIENT SETINFO: %q %v", s, err)
	}
	if s, err := conn.Do(ctx, "CLIENT", "SETINFO", "LIB-VER", "1.0").Text(); err != nil || s != "OK" {
		t.Fatalf("CLIENT SETINFO: %q %v", s, err)
	}
	if info, _ := conn.Do(ctx, "CLIENT", "INFO").Text(); !strings.Contains(info, "name=reporter ") || !strings.Contains(info, "lib-name=mylib ") || !strings.Contains(info, "lib-ver=1.0") {
		t.Fatalf("CLIENT INFO: %q", info)
	}
	if s, err := conn.Select(ctx, 0).Result(); err != nil || s != "OK" {
		t.Fatalf("SELECT 0: %q %v", s, err)
	}
	if err := conn.Select(ctx, 1).Err(); err == nil || err.Error() != "ERR DB index is out of range" {
		t.Fatalf("SELECT 1: %v", err)
	}

	// INFO is a bulk string, as ioredis and redis-cli need.
	rc := tc.raw()
	rc.Write(resptest.Encode("INFO"))
	if line, _ := rc.R.ReadString('\n'); !strings.HasPrefix(line, "$") {
		t.Fatalf("INFO reply starts with %q, want a bulk string", line)
	}
	info, err := tc.client.Info(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"redis_version:", "loading:0\r\n", "# Server\r\n", "shards:3\r\n"} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO lacks %q:\n%s", want, info)
		}
	}
	if srv, _ := tc.client.Info(ctx, "server").Result(); !strings.Contains(srv, "redis_version:") || strings.Contains(srv, "# Clients") {
		t.Errorf("INFO server:\n%s", srv)
	}

	// COMMAND in the shape go-redis parses.
	cmds, err := tc.client.Command(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	n, err := tc.client.Do(ctx, "COMMAND", "COUNT").Int64()
	if err != nil || n != int64(len(cmds)) {
		t.Fatalf("COMMAND COUNT %d %v, COMMAND lists %d", n, err, len(cmds))
	}
	for name, arity := range map[string]int8{"incrby": 3, "incr": 2, "get": 2, "mget": -2, "shardvalues": 2, "set": -3, "scan": -2, "hello": -1} {
		ci := cmds[name]
		if ci == nil || ci.Arity != arity {
			t.Errorf("COMMAND %s: %+v, want arity %d", name, ci, arity)
		}
	}
	if ci := cmds["incrby"]; ci != nil && (ci.FirstKeyPos != 1 || ci.LastKeyPos != 1 || ci.StepCount != 1 || ci.ReadOnly) {
		t.Errorf("COMMAND incrby keys: %+v", ci)
	}
	if ci := cmds["get"]; ci != nil && !ci.ReadOnly {
		t.Errorf("COMMAND get is not readonly: %+v", ci)
	}
	if err := tc.client.Do(ctx, "COMMAND", "DOCS").Err(); err != nil {
		t.Fatalf("COMMAND DOCS: %v", err)
	}
	if docs, err := tc.client.Do(ctx, "COMMAND", "DOCS", "incrby").Result(); err != nil {
		t.Fatalf("COMMAND DOCS incrby: %#v %v", docs, err)
	}

	// CONFIG GET as redis-benchmark asks for it (RESP2, raw).
	rc2 := tc.raw()
	rc2.Expect([]any{"save", ""}, "CONFIG", "GET", "save")
	rc2.Expect([]any{"appendonly", "yes"}, "CONFIG", "GET", "appendonly")
	if cfg, err := tc.client.ConfigGet(ctx, "appendonly").Result(); err != nil || cfg["appendonly"] != "yes" || len(cfg) != 1 {
		t.Fatalf("CONFIG GET appendonly over RESP3: %v %v", cfg, err)
	}
}

func TestRedisErrorTexts(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3)
	c := tc.client
	for _, tt := range []struct {
		args []any
		want string
	}{
		{[]any{"foo", "a", "b"}, "ERR unknown command 'foo', with args beginning with: 'a' 'b' "},
		{[]any{"foo"}, "ERR unknown command 'foo', with args beginning with: "},
		{[]any{"incrby", "k"}, "ERR wrong number of arguments for 'incrby' command"},
		{[]any{"INCRBY", "k", "1", "2"}, "ERR wrong number of arguments for 'incrby' command"},
		{[]any{"incr"}, "ERR wrong number of arguments for 'incr' command"},
		{[]any{"get", "a", "b"}, "ERR wrong number of arguments for 'get' command"},
		{[]any{"mget"}, "ERR wrong number of arguments for 'mget' command"},
		{[]any{"shardvalues"}, "ERR wrong number of arguments for 'shardvalues' command"},
		{[]any{"set", "k"}, "ERR wrong number of arguments for 'set' command"},
		{[]any{"incrby", "k", "abc"}, "ERR value is not an integer or out of range"},
		{[]any{"incrby", "k", "1.5"}, "ERR value is not an integer or out of range"},
		{[]any{"incrby", "k", " 1"}, "ERR value is not an integer or out of range"},
		{[]any{"incrby", "k", "+1"}, "ERR value is not an integer or out of range"},
		{[]any{"incrby", "k", "01"}, "ERR value is not an integer or out of range"},
		{[]any{"incrby", "k", ""}, "ERR value is not an integer or out of range"},
		{[]any{"incrby", "k", "9223372036854775808"}, "ERR value is not an integer or out of range"},
		{[]any{"decrby", "k", "-9223372036854775809"}, "ERR value is not an integer or out of range"},
		{[]any{"decrby", "k", "-9223372036854775808"}, "ERR decrement would overflow"},
		{[]any{"set", "k", "abc"}, "ERR value is not an integer or out of range"},
	} {
		err := c.Do(ctx, tt.args...).Err()
		if err == nil || err.Error() != tt.want {
			t.Errorf("%v: got %v, want %q", tt.args, err, tt.want)
		}
	}
	// None of the refused writes created the key.
	if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS k after refused writes: %d %v", n, err)
	}
	// The edge values themselves are fine.
	if v, err := c.IncrBy(ctx, "k", math.MinInt64).Result(); err != nil || v != math.MinInt64 {
		t.Fatalf("INCRBY k MinInt64: %d %v", v, err)
	}
	if v, err := c.DecrBy(ctx, "k", math.MinInt64+1).Result(); err != nil || v != -1 {
		t.Fatalf("DECRBY k -(MaxInt64): %d %v", v, err)
	}
}

func TestOverflowBothDirections(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3)
	c := tc.client
	const overflow = "ERR increment or decrement would overflow"
	check := func(key string, want int64) {
		t.Helper()
		if v, err := c.Get(ctx, key).Int64(); err != nil || v != want {
			t.Fatalf("GET %s = %d %v, want %d", key, v, err, want)
		}
	}
	// Up.
	if err := c.Set(ctx, "up", math.MaxInt64-1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Incr(ctx, "up").Result(); err != nil || v != math.MaxInt64 {
		t.Fatalf("INCR to MaxInt64: %d %v", v, err)
	}
	for _, args := range [][]any{{"incr", "up"}, {"incrby", "up", "1"}, {"incrby", "up", "9223372036854775807"}, {"decrby", "up", "-1"}} {
		if err := c.Do(ctx, args...).Err(); err == nil || err.Error() != overflow {
			t.Fatalf("%v at MaxInt64: %v", args, err)
		}
	}
	check("up", math.MaxInt64)
	if v, err := c.Decr(ctx, "up").Result(); err != nil || v != math.MaxInt64-1 {
		t.Fatalf("DECR after overflow: %d %v", v, err)
	}

	// Down.
	if err := c.Set(ctx, "down", math.MinInt64+1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Decr(ctx, "down").Result(); err != nil || v != math.MinInt64 {
		t.Fatalf("DECR to MinInt64: %d %v", v, err)
	}
	for _, args := range [][]any{{"decr", "down"}, {"decrby", "down", "1"}, {"incrby", "down", "-1"}, {"incrby", "down", "-9223372036854775808"}} {
		if err := c.Do(ctx, args...).Err(); err == nil || err.Error() != overflow {
			t.Fatalf("%v at MinInt64: %v", args, err)
		}
	}
	check("down", math.MinInt64)
}

// TestOverflowNeverWrapsInACoalescedRound sends, in one write, increments
// of one key whose sum fits but whose steps do not. Redis refuses the step
// that would overflow; a reply must never be a wrapped value (invariant 5).
// A write lane coalesces +max and -max into one SC.INCR of 0, which the
// shard accepts, and then answers each request with base+prefix computed in
// wrapping int64 arithmetic (lanes.go, writeLane.round).
func TestOverflowNeverWrapsInACoalescedRound(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3)
	const overflow = "ERR increment or decrement would overflow"
	for round := 0; round < 20; round++ {
		key := fmt.Sprintf("edge%d", round)
		if err := tc.client.Set(ctx, key, 1, 0).Err(); err != nil {
			t.Fatal(err)
		}
		rc := tc.raw()
		rc.Write(append(resptest.Encode("INCRBY", key, "9223372036854775807"), resptest.Encode("INCRBY", key, "-9223372036854775807")...))
		first, second := rc.Read(), rc.Read()
		// As Redis: the first overflows, the second applies to 1.
		if first != resptest.Err(overflow) || second != int64(1-math.MaxInt64) {
			t.Fatalf("round %d: INCRBY +max on 1 -> %#v, then INCRBY -max -> %#v; want %q and %d",
				round, first, second, overflow, int64(1-math.MaxInt64))
		}
		if v, err := tc.client.Get(ctx, key).Int64(); err != nil || v != 1-math.MaxInt64 {
			t.Fatalf("round %d: GET %d %v", round, v, err)
		}
	}
}

// TestSumOfPartialsPastInt64 puts partials on two shards directly so that
// their sum does not fit: GET must refuse, not wrap.
func TestSumOfPartialsPastInt64(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3)
	for i, v := range []int64{math.MaxInt64, 1} {
		sc := redis.NewClient(&redis.Options{Addr: tc.addrs[i].Addr})
		err := sc.IncrBy(ctx, "big", v).Err()
		sc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	const overflow = "ERR increment or decrement would overflow"
	if err := tc.client.Get(ctx, "big").Err(); err == nil || err.Error() != overflow {
		t.Fatalf("GET of partials past int64: %v", err)
	}
	vals, err := tc.client.MGet(ctx, "big").Result()
	if err == nil || err.Error() != overflow {
		t.Fatalf("MGET of partials past int64: %v %v", vals, err)
	}
	// The coordinator has seen the partials: INCR is refused, and nothing
	// is applied on any shard.
	if err := tc.client.Incr(ctx, "big").Err(); err == nil || err.Error() != overflow {
		t.Fatalf("INCR of a counter whose partials pass int64: %v", err)
	}
	for i, want := range []int64{math.MaxInt64, 1, 0} {
		sc := redis.NewClient(&redis.Options{Addr: tc.addrs[i].Addr})
		v, err := sc.Get(ctx, "big").Int64()
		sc.Close()
		if (err != nil && !errors.Is(err, redis.Nil)) || v != want {
			t.Fatalf("shard %d partial after the refused INCR: %d %v, want %d", i, v, err, want)
		}
	}
}

func TestAuthRequirePass(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3, func(c *Config) { c.Password = "s3cret" })

	rc := tc.raw()
	rc.Expect(resptest.Err("NOAUTH Authentication required."), "PING")
	rc.Expect(resptest.Err("NOAUTH Authentication required."), "INCR", "k")
	rc.Expect(resptest.Err("NOAUTH Authentication required."), "GET", "k")
	// As in Redis, an unknown command or a wrong argument count is
	// answered as such before authentication is asked for.
	rc.Expect(resptest.Err("ERR wrong number of arguments for 'get' command"), "GET")
	rc.Expect(resptest.Err("ERR unknown command 'NOSUCH', with args beginning with: "), "NOSUCH")
	if got, ok := rc.Do("HELLO", "3").(resptest.Err); !ok || !strings.HasPrefix(string(got), "NOAUTH HELLO must be called with the client already authenticated") {
		t.Fatalf("HELLO 3 before AUTH: %#v", got)
	}
	rc.Expect(resptest.Err("WRONGPASS invalid username-password pair or user is disabled."), "AUTH", "nope")
	rc.Expect(resptest.Err("WRONGPASS invalid username-password pair or user is disabled."), "AUTH", "default", "nope")
	rc.Expect(resptest.Err("NOAUTH Authentication required."), "PING")
	rc.Expect(resptest.Status("OK"), "AUTH", "s3cret")
	rc.Expect(int64(1), "INCR", "k")

	rc2 := tc.raw()
	rc2.Expect(resptest.Status("OK"), "AUTH", "default", "s3cret")
	rc2.Expect("1", "GET", "k")

	rc3 := tc.raw()
	rc3.Expect(resptest.Err("WRONGPASS invalid username-password pair or user is disabled."), "HELLO", "3", "AUTH", "default", "nope")
	m, ok := rc3.Do("HELLO", "3", "AUTH", "default", "s3cret").(resptest.Map)
	if !ok {
		t.Fatal("HELLO 3 AUTH default <pass> did not answer with a map")
	}
	checkHello(t, []any(m), 3)
	rc3.Expect(int64(2), "INCR", "k")

	// go-redis with the password authenticates through HELLO 3 AUTH.
	c := tc.newClient(redis.Options{Password: "s3cret"})
	if info, err := c.Do(ctx, "CLIENT", "INFO").Text(); err != nil || !strings.Contains(info, " resp=3 ") {
		t.Fatalf("go-redis with password: %q %v", info, err)
	}
	if v, err := c.Incr(ctx, "k").Result(); err != nil || v != 3 {
		t.Fatalf("INCR: %d %v", v, err)
	}
	c2 := tc.newClient(redis.Options{Password: "s3cret", Protocol: 2})
	if v, err := c2.Get(ctx, "k").Int64(); err != nil || v != 3 {
		t.Fatalf("GET over RESP2 with password: %d %v", v, err)
	}
	bad := tc.newClient(redis.Options{Password: "wrong", MaxRetries: -1})
	if err := bad.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("go-redis with a wrong password: %v", err)
	}
	none := tc.newClient(redis.Options{MaxRetries: -1})
	if err := none.Ping(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOAUTH") {
		t.Fatalf("go-redis without a password: %v", err)
	}
}

// TestGoRedisPipelineMixed pipelines every kind of command through
// go-redis and checks each reply, in order.
func TestGoRedisPipelineMixed(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3)
	for _, proto := range []int{2, 3} {
		c := tc.newClient(redis.Options{Protocol: proto})
		key := fmt.Sprintf("mix%d", proto)
		p := c.Pipeline()
		var incrs []*redis.IntCmd
		for i := 0; i < 50; i++ {
			incrs = append(incrs, p.Incr(ctx, key))
		}
		get := p.Get(ctx, key)
		unknown := p.Do(ctx, "FROB", key)
		set := p.Set(ctx, key, 7, 0)
		bad := p.IncrBy(ctx, key, 0)
		badArg := p.Do(ctx, "INCRBY", key, "x")
		after := p.IncrBy(ctx, key, 3)
		missing := p.Get(ctx, key+"-missing")
		mget := p.MGet(ctx, key, key+"-missing")
		echo := p.Echo(ctx, "hi")
		p.Exec(ctx)
		for i, cmd := range incrs {
			if cmd.Err() != nil || cmd.Val() != int64(i+1) {
				t.Fatalf("proto %d: INCR %d -> %d %v", proto, i, cmd.Val(), cmd.Err())
			}
		}
		if get.Val() != "50" || set.Val() != "OK" || bad.Val() != 7 || after.Val() != 10 || echo.Val() != "hi" {
			t.Fatalf("proto %d: GET %q SET %q INCRBY0 %d INCRBY3 %d ECHO %q", proto, get.Val(), set.Val(), bad.Val(), after.Val(), echo.Val())
		}
		if unknown.Err() == nil || unknown.Err().Error() != "ERR unknown command 'FROB', with args beginning with: '"+key+"' " {
			t.Fatalf("proto %d: unknown command: %v", proto, unknown.Err())
		}
		if badArg.Err() == nil || badArg.Err().Error() != "ERR value is not an integer or out of range" {
			t.Fatalf("proto %d: INCRBY x: %v", proto, badArg.Err())
		}
		if !errors.Is(missing.Err(), redis.Nil) {
			t.Fatalf("proto %d: GET missing: %v", proto, missing.Err())
		}
		if v := mget.Val(); len(v) != 2 || v[0] != "10" || v[1] != nil {
			t.Fatalf("proto %d: MGET %#v", proto, v)
		}
	}
}

// TestRawPipelineModel writes a long seeded random mix of commands as one
// byte stream and checks every reply against a model of the counters.
func TestRawPipelineModel(t *testing.T) {
	tc := newTestCluster(t, 3)
	const seed = 7
	rng := rand.New(rand.NewSource(seed))
	keys := []string{"a", "b", "c", "d", "hot"}
	model := map[string]int64{}
	var stream []byte
	var want []any
	add := func(w any, args ...string) {
		stream = append(stream, resptest.Encode(args...)...)
		want = append(want, w)
	}
	for i := 0; i < 3000; i++ {
		k := keys[rng.Intn(len(keys))]
		switch op := rng.Intn(20); {
		case op < 8:
			model[k]++
			add(model[k], "INCR", k)
		case op < 10:
			d := rng.Int63n(2001) - 1000
			model[k] += d
			add(model[k], "INCRBY", k, strconv.FormatInt(d, 10))
		case op < 11:
			d := rng.Int63n(100)
			model[k] -= d
			add(model[k], "DECRBY", k, strconv.FormatInt(d, 10))
		case op < 14:
			if v, ok := model[k]; ok {
				add(strconv.FormatInt(v, 10), "GET", k)
			} else {
				add(nil, "GET", k)
			}
		case op < 15:
			v := rng.Int63n(1000)
			model[k] = v
			add(resptest.Status("OK"), "SET", k, strconv.FormatInt(v, 10))
		case op < 16:
			n := int64(0)
			if _, ok := model[k]; ok {
				n = 1
			}
			delete(model, k)
			add(n, "DEL", k)
		case op < 17:
			n := int64(0)
			for _, kk := range []string{k, k, "never"} {
				if _, ok := model[kk]; ok {
					n++
				}
			}
			add(n, "EXISTS", k, k, "never")
		case op < 18:
			add(resptest.Err("ERR unknown command 'bump', with args beginning with: '"+k+"' "), "bump", k)
		case op < 19:
			add(resptest.Err("ERR value is not an integer or out of range"), "INCRBY", k, "1x")
		default:
			var vals []any
			for _, kk := range []string{k, "never"} {
				if v, ok := model[kk]; ok {
					vals = append(vals, strconv.FormatInt(v, 10))
				} else {
					vals = append(vals, nil)
				}
			}
			add(vals, "MGET", k, "never")
		}
	}
	// An inline command at the end, as telnet would send it.
	stream = append(stream, "PING\r\n"...)
	want = append(want, resptest.Status("PONG"))

	rc := tc.raw()
	go func() {
		// Write in uneven chunks while replies are read.
		r := rand.New(rand.NewSource(seed))
		for b := stream; len(b) > 0; {
			n := min(len(b), 1+r.Intn(4096))
			if _, err := rc.C.Write(b[:n]); err != nil {
				return
			}
			b = b[n:]
		}
	}()
	for i, w := range want {
		got, err := resptest.ReadReply(rc.R)
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, w) {
			t.Fatalf("reply %d: got %#v, want %#v", i, got, w)
		}
	}
}

// TestRandomBytesDoNotHurtTheCoordinator throws seeded random bytes at the
// coordinator, each on its own connection, then checks it still serves.
func TestRandomBytesDoNotHurtTheCoordinator(t *testing.T) {
	tc := newTestCluster(t, 3)
	rng := rand.New(rand.NewSource(42))
	addr := tc.coord.Addr().String()
	pieces := []string{"*", "$", "\r\n", "1", "3", "-1", "INCR", "GET", "SET", "k", "SHARDVALUES", "SCAN", "0", " ", "\"", "MGET", "HELLO", "9223372036854775808"}
	deadline := time.Now().Add(2 * time.Second)
	for n := 0; n < 500 && time.Now().Before(deadline); n++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var b []byte
		for i := rng.Intn(60); i > 0; i-- {
			if rng.Intn(3) == 0 {
				b = append(b, byte(rng.Intn(256)))
			} else {
				b = append(b, pieces[rng.Intn(len(pieces))]...)
			}
		}
		c.SetDeadline(time.Now().Add(20 * time.Millisecond))
		c.Write(b)
		io.Copy(io.Discard, c)
		c.Close()
	}
	ctx := context.Background()
	if err := tc.client.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := tc.client.IncrBy(ctx, "after-garbage", 5).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := tc.client.Get(ctx, "after-garbage").Int64(); err != nil || v != 5 {
		t.Fatalf("GET after garbage: %d %v", v, err)
	}
}

// TestPipelinedIncrementsNearTheEdgeMatchRedis pipelines seeded random
// increments of counters close to the int64 limits in one write and checks
// every reply against Redis' semantics: each command in order, the one that
// would overflow refused and nothing applied. Besides the wrap above, a
// coalesced group that overflows as a whole is retried one request at a
// time behind the later requests for its key, which were already applied:
// the replies then follow another order than the pipeline's.
func TestPipelinedIncrementsNearTheEdgeMatchRedis(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3)
	rng := rand.New(rand.NewSource(99))
	const overflow = "ERR increment or decrement would overflow"
	deltas := []int64{1, 2, 3, -1, -2, -3, math.MaxInt64, -math.MaxInt64, math.MinInt64, 0}
	for round := 0; round < 30; round++ {
		keys := []string{fmt.Sprintf("hi%d", round), fmt.Sprintf("lo%d", round)}
		model := map[string]int64{keys[0]: math.MaxInt64 - 2, keys[1]: math.MinInt64 + 2}
		for k, v := range model {
			if err := tc.client.Set(ctx, k, v, 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		var stream []byte
		var want []any
		for i := 0; i < 40; i++ {
			k := keys[rng.Intn(2)]
			d := deltas[rng.Intn(len(deltas))]
			stream = append(stream, resptest.Encode("INCRBY", k, strconv.FormatInt(d, 10))...)
			if v, ok := addInt(model[k], d); ok {
				model[k] = v
				want = append(want, v)
			} else {
				want = append(want, resptest.Err(overflow))
			}
		}
		rc := tc.raw()
		rc.Write(stream)
		for i, w := range want {
			if got := rc.Read(); got != w {
				t.Fatalf("round %d, reply %d: got %#v, want %#v", round, i, got, w)
			}
		}
		for k, v := range model {
			if got, err := tc.client.Get(ctx, k).Int64(); err != nil || got != v {
				t.Fatalf("round %d: GET %s = %d %v, want %d", round, k, got, err, v)
			}
		}
	}
}

func addInt(a, b int64) (int64, bool) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, false
	}
	return s, true
}

// An increment that would take a counter's total past int64 is refused on
// the shard, applying nothing, also when the shard holds only part of the
// counter: a failover write to the next shard, and the writes of a split
// counter. Each used to be applied there and answered as an overflow, and
// the counter could no longer be read.
func TestOverflowOfATotalOverSeveralShards(t *testing.T) {
	ctx := context.Background()
	const overflow = "ERR increment or decrement would overflow"
	partial := func(tc *testCluster, shard int, key string) int64 {
		t.Helper()
		p, _, err := tc.coord.shards[shard].partials(ctx, [][]byte{[]byte(key)})
		if err != nil {
			t.Fatal(err)
		}
		return p[0]
	}

	t.Run("failover", func(t *testing.T) {
		tc := newTestCluster(t, 2, func(c *Config) { c.ProbeInterval = time.Hour })
		key := "ovf"
		owner := tc.coord.ring.Owner([]byte(key))
		other := 1 - owner
		for _, d := range []int64{math.MinInt64 + 5, math.MaxInt64} {
			if err := tc.client.Set(ctx, key, d, 0).Err(); err != nil {
				t.Fatal(err)
			}
			sign := int64(1)
			if d < 0 {
				sign = -1
			}
			tc.stopShard(owner)
			err := tc.client.IncrBy(ctx, key, sign*10).Err() // past the end
			if err == nil || err.Error() != overflow {
				t.Errorf("INCRBY past int64 on the next shard: %v, want %q", err, overflow)
			}
			if p := partial(tc, other, key); p != 0 {
				t.Errorf("the refused increment was applied on the next shard: partial %d", p)
			}
			if v, err := tc.client.IncrBy(ctx, key, -sign).Result(); err != nil || v != d-sign {
				t.Errorf("INCRBY within range on the next shard: %d %v, want %d", v, err, d-sign)
			}
			tc.restartShard(owner)
			tc.coord.probe(ctx, tc.coord.shards[owner])
			if v, err := tc.client.Get(ctx, key).Int64(); err != nil || v != d-sign {
				t.Errorf("GET after the owner is back: %d %v, want %d", v, err, d-sign)
			}
			if err := tc.client.Del(ctx, key).Err(); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("split", func(t *testing.T) {
		tc := newTestCluster(t, 2, func(c *Config) { c.Spread = 2 })
		key := "sp"
		const big = 6_000_000_000_000_000_000
		if err := tc.client.IncrBy(ctx, key, big).Err(); err != nil {
			t.Fatal(err)
		}
		// Each INCRBY goes to the next of the two shards: the second
		// would take the total past int64 from the shard that holds 0.
		for range 2 {
			if err := tc.client.IncrBy(ctx, key, big).Err(); err == nil || err.Error() != overflow {
				t.Errorf("INCRBY past int64 of a split counter: %v, want %q", err, overflow)
			}
		}
		if v, err := tc.client.Get(ctx, key).Int64(); err != nil || v != big {
			t.Errorf("GET: %d %v, want %d", v, err, int64(big))
		}
		if p0, p1 := partial(tc, 0, key), partial(tc, 1, key); p0+p1 != big {
			t.Errorf("partials %d + %d, want a sum of %d", p0, p1, int64(big))
		}

		// In one pipeline, both in flight to different shards at once.
		rc := tc.raw()
		rc.Write(append(resptest.Encode("INCRBY", "fresh", "6000000000000000000"), resptest.Encode("INCRBY", "fresh", "6000000000000000000")...))
		if first, second := rc.Read(), rc.Read(); first != int64(big) || second != resptest.Err(overflow) {
			t.Errorf("pipelined INCRBYs past int64: %#v, %#v; want %d and %q", first, second, int64(big), overflow)
		}
		if p0, p1 := partial(tc, 0, "fresh"), partial(tc, 1, "fresh"); p0+p1 != big {
			t.Errorf("pipelined: partials %d + %d, want a sum of %d", p0, p1, int64(big))
		}
	})
}

// A counter's total is the sum of its partials, and it is an overflow only
// when that sum leaves int64, not when adding them up in shard order passes
// the end on the way: partials MaxInt64, 1 and -1 (a split counter, or
// writes that failed over, can leave them so) are a total of MaxInt64.
func TestTotalFitsWhateverTheOrderOfItsPartials(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3)
	// Each shard's own partial, written on the shard as a debugging
	// client could.
	for i, d := range []int64{math.MaxInt64, 1, -1} {
		sh := redis.NewClient(&redis.Options{Addr: tc.addrs[i].Addr})
		if err := sh.IncrBy(ctx, "k", d).Err(); err != nil {
			t.Fatal(err)
		}
		sh.Close()
	}
	if v, err := tc.client.Get(ctx, "k").Int64(); err != nil || v != math.MaxInt64 {
		t.Errorf("GET: %d %v, want %d", v, err, int64(math.MaxInt64))
	}
	if v, err := tc.client.MGet(ctx, "k").Result(); err != nil || len(v) != 1 || v[0] != strconv.FormatInt(math.MaxInt64, 10) {
		t.Errorf("MGET: %#v %v", v, err)
	}
	if n := tc.sharded(`{"counterId":"k","operationType":"GET_TOTAL"}`).ok(t).num(t, "totalValue"); n != math.MaxInt64 {
		t.Errorf("HTTP GET_TOTAL: %d", n)
	}
	var view struct{ Total *int64 }
	if code := tc.getJSON("/api/counters/k", "", &view); code != 200 || view.Total == nil || *view.Total != math.MaxInt64 {
		t.Errorf("/api/counters/k: %d %v", code, view.Total)
	}
	// The coordinator has now seen the counter's partials: an INCRBY's
	// reply is the best-known total.
	if v, err := tc.client.IncrBy(ctx, "k", -7).Result(); err != nil || v != math.MaxInt64-7 {
		t.Errorf("INCRBY -7: %d %v, want %d", v, err, int64(math.MaxInt64-7))
	}
	if v, err := tc.client.Get(ctx, "k").Int64(); err != nil || v != math.MaxInt64-7 {
		t.Errorf("GET after INCRBY: %d %v, want %d", v, err, int64(math.MaxInt64-7))
	}
}
