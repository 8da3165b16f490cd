package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardcounter/shardcounter/internal/resptest"
)

// ending is what a hostile case leaves of its connection.
type ending int

const (
	// open: the connection still works (a PING on it gets the next reply,
	// PONG).
	open ending = iota
	// closed: the server closes the connection after the replies.
	closed
	// waiting: an unfinished frame; the server answers nothing and waits
	// for the rest. The client then hangs up, and nothing may have been
	// applied.
	waiting
)

// hostileCase is one hostile input. {max} and {min} in send stand for a
// counter at MaxInt64 and one at MinInt64 on the target (names of the same
// length, five bytes, so that encoded lengths stay right).
type hostileCase struct {
	name string
	send string
	// want lists the replies in order: "-PREFIX" for an error reply that
	// starts with PREFIX, else the exact value (nil prints as <nil>).
	want []string
	// shardWant, when not nil, replaces want for the shard.
	shardWant []string
	// repeat: want[0] is expected this many times (want must have one
	// entry).
	repeat int
	end    ending
	// mayReset: the server closes while the client is still writing, so
	// the kernel may reset the connection before the error reply is read.
	mayReset bool
}

// hostileCases is the catalogue. Every case runs against a live
// coordinator and a live shard.
func hostileCases() []hostileCase {
	unknown := func(name string) string { return "-ERR unknown command '" + name + "'" }
	return []hostileCase{
		// Malformed RESP: a protocol error, then the connection closes.
		{name: "multibulk count not a number", send: "*x\r\n", want: []string{"-ERR Protocol error: invalid multibulk length"}, end: closed},
		{name: "multibulk header without CR", send: "*1\n$4\r\nPING\r\n", want: []string{"-ERR Protocol error: invalid multibulk length"}, end: closed},
		{name: "argument without '$'", send: "*1\r\nPING\r\n", want: []string{"-ERR Protocol error: expected '$', got 'P'"}, end: closed},
		{name: "bulk longer than its length", send: "*2\r\n$4\r\nINCR\r\n$4\r\nsafeXX\r\n", want: []string{"-ERR Protocol error: invalid bulk length"}, end: closed},
		{name: "bulk length header without CR", send: "*1\r\n$4\nPING\r\n", want: []string{"-ERR Protocol error: invalid bulk length"}, end: closed},
		{name: "bulk length not a number", send: "*1\r\n$abc\r\nPING\r\n", want: []string{"-ERR Protocol error: invalid bulk length"}, end: closed},
		{name: "inline with an unbalanced quote", send: "INCR \"safe\r\n", want: []string{"-ERR Protocol error: unbalanced quotes in request"}, end: closed},
		{name: "inline with a quote glued to text", send: "INCR 'safe'x\r\n", want: []string{"-ERR Protocol error: unbalanced quotes in request"}, end: closed},

		// Negative and huge lengths.
		{name: "bulk length -1", send: "*2\r\n$4\r\nINCR\r\n$-1\r\n", want: []string{"-ERR Protocol error: invalid bulk length"}, end: closed},
		{name: "bulk length 2^63-1 (panics redcon)", send: "*2\r\n$4\r\nINCR\r\n$9223372036854775807\r\nabc",
			want: []string{"-ERR Protocol error: invalid bulk length 9223372036854775807: larger than 1048576 bytes"}, end: closed},
		{name: "bulk length 2^63-2 (panics redcon)", send: "*2\r\n$4\r\nINCR\r\n$9223372036854775806\r\n",
			want: []string{"-ERR Protocol error: invalid bulk length 9223372036854775806"}, end: closed},
		{name: "bulk length past int64", send: "*2\r\n$4\r\nINCR\r\n$99999999999999999999\r\n", want: []string{"-ERR Protocol error: invalid bulk length"}, end: closed},
		{name: "bulk over --max-bulk-bytes", send: "*2\r\n$4\r\nECHO\r\n$1048577\r\n",
			want: []string{"-ERR Protocol error: invalid bulk length 1048577: larger than 1048576 bytes"}, end: closed},
		{name: "multibulk count 2^63-1 (spins redcon)", send: "*9223372036854775807\r\n",
			want: []string{"-ERR Protocol error: invalid multibulk length 9223372036854775807: more than 1048576 arguments"}, end: closed},
		{name: "multibulk count over 1M", send: "*1048577\r\n", want: []string{"-ERR Protocol error: invalid multibulk length 1048577"}, end: closed},
		{name: "multibulk count past -2^63", send: "*-9223372036854775809\r\n", want: []string{"-ERR Protocol error: invalid multibulk length"}, end: closed},

		// Empty commands: a count of 0 or less is skipped without a reply,
		// as Redis does, and the connection stays.
		{name: "multibulk count zero", send: "*0\r\n", end: open},
		{name: "multibulk count -1 (a null array)", send: "*-1\r\n", end: open},
		{name: "multibulk count -2^63", send: "*-9223372036854775808\r\n", end: open},
		{name: "empty commands around one", send: "*0\r\n" + cmdBytes("PING") + "*-1\r\n", want: []string{"PONG"}},

		// Unterminated frames: nothing is answered or applied.
		{name: "bulk without its CRLF", send: "*2\r\n$4\r\nINCR\r\n$4\r\nsafe", end: waiting},
		{name: "missing last argument", send: "*3\r\n$6\r\nINCRBY\r\n$4\r\nsafe\r\n", end: waiting},
		{name: "inline without a newline", send: "INCR safe", end: waiting},
		{name: "bulk ended by CR only", send: "*2\r\n$4\r\nINCR\r\n$4\r\nsafe\r", end: waiting},
		{name: "multibulk count alone", send: "*2\r\n", end: waiting},

		// Inline oddities: answered like Redis, the connection stays.
		{name: "bulk header sent as inline", send: "$4\r\nINCR\r\n", want: []string{unknown("$4"), "-ERR wrong number of arguments for 'incr' command"}},
		{name: "binary inline", send: "\x01\x02\xff\r\n", want: []string{"-ERR unknown command '\x01\x02\xff'"}},
		{name: "inline with a NUL, which ends the line as in Redis", send: "\x00\x01\r\nECHO a\x00b\r\n", want: []string{"a"}},
		{name: "inline separated by tabs", send: "ECHO\tx\r\n", want: []string{"x"}},
		{name: "integer reply sent as a command", send: ":1\r\n", want: []string{unknown(":1")}},
		{name: "empty and blank lines", send: "\r\n\r\n   \r\nPING\r\n", want: []string{"PONG"}},
		{name: "unknown command with a 300-byte name", send: strings.Repeat("X", 300) + "\r\n", want: []string{unknown(strings.Repeat("X", 128))}},

		// Binary and empty keys.
		{name: "key with CRLF and a FLUSHALL inside", send: cmdBytes("INCRBY", "x\r\n*1\r\n$8\r\nFLUSHALL\r\n", "x"), want: []string{"-ERR value is not an integer or out of range"}},
		{name: "empty key, bad delta", send: cmdBytes("INCRBY", "", "abc"), want: []string{"-ERR value is not an integer or out of range"}},
		{name: "NUL and 0xff key, float delta", send: cmdBytes("INCRBY", "\x00\xff", "1.5"), want: []string{"-ERR value is not an integer or out of range"}},
		{name: "binary key that does not exist", send: cmdBytes("GET", "\x00\r\n\xff"), want: []string{"<nil>"}},

		// 64-bit edges and overflow both ways.
		{name: "INCR at MaxInt64", send: cmdBytes("INCR", "{max}"), want: []string{"-ERR increment or decrement would overflow"}},
		{name: "INCRBY MaxInt64 at MaxInt64", send: cmdBytes("INCRBY", "{max}", "9223372036854775807"), want: []string{"-ERR increment or decrement would overflow"}},
		{name: "DECRBY -1 at MaxInt64", send: cmdBytes("DECRBY", "{max}", "-1"), want: []string{"-ERR increment or decrement would overflow"}},
		{name: "DECR at MinInt64", send: cmdBytes("DECR", "{min}"), want: []string{"-ERR increment or decrement would overflow"}},
		{name: "INCRBY MinInt64 at MinInt64", send: cmdBytes("INCRBY", "{min}", "-9223372036854775808"), want: []string{"-ERR increment or decrement would overflow"}},
		{name: "DECRBY MaxInt64 at MinInt64", send: cmdBytes("DECRBY", "{min}", "9223372036854775807"), want: []string{"-ERR increment or decrement would overflow"}},
		{name: "DECRBY MinInt64 (no negation)", send: cmdBytes("DECRBY", "safe", "-9223372036854775808"),
			want: []string{"-ERR decrement would overflow"}},
		{name: "delta 2^63", send: cmdBytes("INCRBY", "safe", "9223372036854775808"), want: []string{"-ERR value is not an integer or out of range"}},
		{name: "delta -2^63-1", send: cmdBytes("INCRBY", "safe", "-9223372036854775809"), want: []string{"-ERR value is not an integer or out of range"}},
		{name: "non-canonical deltas", send: cmdBytes("INCRBY", "safe", "+5") + cmdBytes("INCRBY", "safe", "05") + cmdBytes("INCRBY", "safe", " 5") +
			cmdBytes("INCRBY", "safe", "5 ") + cmdBytes("INCRBY", "safe", "1e3") + cmdBytes("INCRBY", "safe", "0x10") + cmdBytes("INCRBY", "safe", "") + cmdBytes("INCRBY", "safe", "-0"),
			want: []string{"-ERR value is not an integer", "-ERR value is not an integer", "-ERR value is not an integer", "-ERR value is not an integer",
				"-ERR value is not an integer", "-ERR value is not an integer", "-ERR value is not an integer", "-ERR value is not an integer"}},

		// Arity errors and impostor shard commands.
		{name: "INCR without a key", send: cmdBytes("INCR"), want: []string{"-ERR wrong number of arguments for 'incr' command"}},
		{name: "INCR with two keys", send: cmdBytes("INCR", "safe", "safe"), want: []string{"-ERR wrong number of arguments for 'incr' command"}},
		{name: "INCRBY without a delta", send: cmdBytes("INCRBY", "safe"), want: []string{"-ERR wrong number of arguments for 'incrby' command"}},
		{name: "DECRBY with an extra argument", send: cmdBytes("DECRBY", "safe", "1", "2"), want: []string{"-ERR wrong number of arguments for 'decrby' command"}},
		{name: "GET with two keys", send: cmdBytes("GET", "safe", "safe"), want: []string{"-ERR wrong number of arguments for 'get' command"}},
		{name: "SC.INCR short", send: cmdBytes("SC.INCR", "s1", "safe"),
			want: []string{unknown("SC.INCR")}, shardWant: []string{"-ERR wrong number of arguments for 'sc.incr' command"}},
		{name: "SC.INCR with a bad coordinator id", send: cmdBytes("SC.INCR", "s1", "safe", "5", "zz", "1", "0", "5"),
			want: []string{unknown("SC.INCR")}, shardWant: []string{"-ERR syntax error"}},
		{name: "SC.INCR whose bounds lie", send: cmdBytes("SC.INCR", "s1", "safe", "5", "abc", "1", "0", "4"),
			want: []string{unknown("SC.INCR")}, shardWant: []string{"-ERR syntax error"}},
		{name: "SC.INCR for another shard id", send: cmdBytes("SC.INCR", "s9", "safe", "1", "abc", "1", "0", "1"),
			want: []string{unknown("SC.INCR")}, shardWant: []string{"-WRONGSHARD"}},
		{name: "HELLO 4 and HELLO x", send: cmdBytes("HELLO", "4") + cmdBytes("HELLO", "x"),
			want: []string{"-NOPROTO unsupported protocol version", "-ERR Protocol version is not an integer or out of range"}},
		{name: "AUTH with no password set", send: cmdBytes("AUTH", "x"), want: []string{"-ERR AUTH <password> called without any password configured"}},
		{name: "SELECT 1", send: cmdBytes("SELECT", "1"), want: []string{"-ERR DB index is out of range"}},
		{name: "CLIENT SETNAME with a space", send: cmdBytes("CLIENT", "SETNAME", "a b"), want: []string{"-ERR Client names cannot contain spaces"}},
		{name: "CONFIG SET", send: cmdBytes("CONFIG", "SET", "maxclients", "1"), want: []string{"-ERR CONFIG SET is not supported"}},
		{name: "commands after QUIT", send: cmdBytes("QUIT") + cmdBytes("INCR", "safe"), want: []string{"OK"}, end: closed},

		// Oversize pipelines and requests.
		{name: "pipeline of 50000 bad INCRBYs (1.8 MB) sent before reading", send: strings.Repeat(cmdBytes("INCRBY", "safe", "x"), 50000),
			want: []string{"-ERR value is not an integer or out of range"}, repeat: 50000},
		{name: "inline line over 64 KiB of one-byte words", send: "EXISTS" + strings.Repeat(" a", 40000) + "\r\n", want: []string{"-ERR Protocol error: too big inline request"}, end: closed},
		{name: "5 MiB inline line", send: strings.Repeat("x", 5<<20), want: []string{"-ERR Protocol error: too big inline request"}, end: closed, mayReset: true},
		{name: "5 bulks of 1 MiB in one request", send: "*6\r\n$6\r\nINCRBY\r\n" + strings.Repeat("$1048576\r\n"+strings.Repeat("k", 1<<20)+"\r\n", 5),
			want: []string{"-ERR Protocol error: request larger than 4194304 bytes"}, end: closed, mayReset: true},
	}
}

// cmdBytes encodes args as one RESP command.
func cmdBytes(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// hostileTarget is a server the catalogue runs against.
type hostileTarget struct {
	name     string
	addr     string
	max, min string // counters at MaxInt64 and MinInt64 there
}

// watched is everything a hostile input must not change.
type watched struct {
	coord map[string]string // GET through the coordinator
	shard map[string]string // GET on the target shard
	size  int64             // DBSIZE
}

func (w watched) String() string {
	return fmt.Sprintf("coordinator %q, shard s1 %q, DBSIZE %d", w.coord, w.shard, w.size)
}

// TestHostileInputs runs the catalogue of hostile RESP inputs against a
// live coordinator and a live shard, and the hostile HTTP bodies against
// the coordinator. Each case must get its clear error, or leave the
// connection closed (or, for an unfinished frame, unanswered); after each,
// another client is still served and no counter has changed.
func TestHostileInputs(t *testing.T) {
	ctx := context.Background()
	c := startCluster(t, clusterOpts{coordArgs: []string{"--idle-timeout", "3s"}})
	rdb := c.client()
	shardAddr := c.shards[0].addr
	shardRdb := newClient(t, &redis.Options{Addr: shardAddr, MaxRetries: -1})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(rdb.IncrBy(ctx, "safe", 42).Err())
	must(rdb.Set(ctx, "c-max", math.MaxInt64, 0).Err())
	must(rdb.Set(ctx, "c-min", math.MinInt64, 0).Err())
	must(shardRdb.IncrBy(ctx, "s-max", math.MaxInt64).Err())
	must(shardRdb.IncrBy(ctx, "s-min", math.MinInt64).Err())
	keys := []string{"safe", "c-max", "c-min", "s-max", "s-min", "", "\x00\xff", "x\r\n*1\r\n$8\r\nFLUSHALL\r\n"}
	snapshot := func() watched {
		t.Helper()
		w := watched{coord: map[string]string{}, shard: map[string]string{}}
		for _, k := range keys {
			v, err := rdb.Get(ctx, k).Result()
			if err != nil && err != redis.Nil {
				t.Fatalf("GET %q through the coordinator: %v", k, err)
			}
			w.coord[k] = v
			if v, err = shardRdb.Get(ctx, k).Result(); err != nil && err != redis.Nil {
				t.Fatalf("GET %q on shard s1: %v", k, err)
			}
			w.shard[k] = v
		}
		n, err := rdb.DBSize(ctx).Result()
		if err != nil {
			t.Fatalf("DBSIZE: %v", err)
		}
		w.size = n
		return w
	}
	before := snapshot()
	if before.coord["c-max"] != "9223372036854775807" || before.shard["s-min"] != "-9223372036854775808" {
		t.Fatalf("set-up: %+v", before)
	}
	coordBystander, shardBystander := dialRaw(t, c.addr), dialRaw(t, shardAddr)
	checkAfter := func(what string) {
		t.Helper()
		for _, b := range []*rawConn{coordBystander, shardBystander} {
			if v, err := b.cmd("PING"); err != nil || v != resptest.Status("PONG") {
				t.Fatalf("after %s, another client's PING: %#v, %v", what, v, err)
			}
		}
		if now := snapshot(); !reflect.DeepEqual(now, before) {
			t.Fatalf("after %s the counters changed:\nbefore %s\nafter  %s", what, before, now)
		}
	}

	// Slow loris clients run through the whole catalogue: one byte a
	// second of an INCR that never ends.
	var loris sync.WaitGroup
	loris.Add(2)
	go func() { defer loris.Done(); slowLoris(t, c.addr, true) }()
	go func() { defer loris.Done(); slowLoris(t, shardAddr, false) }()

	targets := []hostileTarget{
		{name: "coordinator", addr: c.addr, max: "c-max", min: "c-min"},
		{name: "shard", addr: shardAddr, max: "s-max", min: "s-min"},
	}
	n := 0
	for _, hc := range hostileCases() {
		for _, tg := range targets {
			runHostile(t, tg, hc)
			checkAfter(tg.name + ": " + hc.name)
			n++
		}
	}
	loris.Wait()
	// The coordinator's --idle-timeout may have closed its bystander
	// while the shard's loris went on.
	coordBystander = dialRaw(t, c.addr)
	checkAfter("the slow loris clients")

	m := 0
	for _, hc := range hostileHTTPCases() {
		code, raw := c.httpDo(hc.method, "/sharded", hc.body, "")
		if code != hc.code || !strings.Contains(raw, `"success": false`) || !strings.Contains(raw, hc.msg) {
			t.Fatalf("HTTP %s: %d %.300s; want %d, success false and a message containing %q", hc.name, code, raw, hc.code, hc.msg)
		}
		checkAfter("HTTP " + hc.name)
		m++
	}
	t.Logf("%d hostile RESP inputs (%d runs against the coordinator and a shard), %d hostile HTTP requests, 2 slow loris clients",
		len(hostileCases()), n, m)
}

// runHostile sends one case to one target and checks what comes back.
func runHostile(t *testing.T, tg hostileTarget, hc hostileCase) {
	t.Helper()
	what := tg.name + ": " + hc.name
	send := strings.NewReplacer("{max}", tg.max, "{min}", tg.min).Replace(hc.send)
	want := hc.want
	if tg.name == "shard" && hc.shardWant != nil {
		want = hc.shardWant
	}
	if hc.repeat > 0 {
		want = make([]string, hc.repeat)
		for i := range want {
			want[i] = hc.want[0]
		}
	}
	rc := dialRaw(t, tg.addr)
	// Write in the background: the server answers while it reads, and may
	// close the connection before everything is written.
	go func() {
		rc.c.SetWriteDeadline(time.Now().Add(20 * time.Second))
		rc.c.Write([]byte(send))
	}()
	for i, w := range want {
		v, err := rc.read()
		if err != nil && hc.mayReset && errors.Is(err, syscall.ECONNRESET) {
			t.Logf("%s: connection reset before the error reply could be read", what)
			rc.c.Close()
			return
		}
		if err != nil {
			t.Fatalf("%s: reply %d of %d: %v; want %q", what, i+1, len(want), err, w)
		}
		got := fmt.Sprint(v)
		if e, ok := v.(resptest.Err); ok {
			got = "-" + string(e)
		}
		if v == nil {
			got = "<nil>"
		}
		if ok := got == w || (strings.HasPrefix(w, "-") && strings.HasPrefix(got, w)); !ok {
			t.Fatalf("%s: reply %d: %.200q, want %.200q", what, i+1, got, w)
		}
	}
	switch hc.end {
	case open:
		if v, err := rc.cmd("PING"); err != nil || v != resptest.Status("PONG") {
			t.Fatalf("%s: the connection should stay usable, but PING got %#v, %v", what, v, err)
		}
	case closed:
		rc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		rest, err := io.ReadAll(rc.r)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || err != nil && !(hc.mayReset && errors.Is(err, syscall.ECONNRESET)) {
			t.Fatalf("%s: the connection is still open 5s later (read %q)", what, rest)
		}
		if len(rest) > 0 {
			t.Fatalf("%s: more replies before the close: %.200q", what, rest)
		}
	case waiting:
		rc.c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		b, err := rc.r.ReadByte()
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("%s: an unfinished frame got %q, %v; want no answer", what, b, err)
		}
	}
	rc.c.Close()
}

// slowLoris sends an INCR one byte a second and never finishes it. A
// coordinator started with --idle-timeout 3s must close it within the
// timeout (plus a second); a shard without one keeps it open while it
// serves everyone else. Either way nothing is answered or applied.
func slowLoris(t *testing.T, addr string, idleTimeout bool) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Errorf("slow loris: %v", err)
		return
	}
	defer c.Close()
	start := time.Now()
	closedBy := make(chan error, 1)
	go func() {
		b := make([]byte, 64)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := c.Read(b)
		if n > 0 {
			err = fmt.Errorf("answered %q", b[:n])
		}
		closedBy <- err
	}()
	frame := "*2\r\n$4\r\nINCR\r\n$5\r\nloris\r"
	for i := 0; i < 6; i++ {
		if _, err := c.Write([]byte{frame[i]}); err != nil {
			break
		}
		select {
		case err := <-closedBy:
			after := time.Since(start)
			switch {
			case !idleTimeout:
				t.Errorf("slow loris on %s: the connection ended after %s (%v), want it kept open", addr, after, err)
			case err != io.EOF && !errors.Is(err, syscall.ECONNRESET):
				t.Errorf("slow loris on %s: %v, want the connection closed", addr, err)
			case after > 4500*time.Millisecond:
				t.Errorf("slow loris on %s closed after %s, want within --idle-timeout 3s", addr, after)
			}
			return
		case <-time.After(time.Second):
		}
	}
	if idleTimeout {
		t.Errorf("slow loris on %s still open after %s, want it closed by --idle-timeout 3s", addr, time.Since(start))
	}
}

type hostileHTTPCase struct {
	name, method, body string
	code               int
	msg                string // in the message
}

func hostileHTTPCases() []hostileHTTPCase {
	post := http.MethodPost
	return []hostileHTTPCase{
		{"not JSON", post, "nope", 400, "invalid JSON"},
		{"truncated JSON", post, `{"counterId":"safe"`, 400, "invalid JSON"},
		{"a JSON array", post, `[1,2]`, 400, "invalid JSON"},
		{"empty body", post, ``, 400, "invalid JSON"},
		{"an unknown field", post, `{"counterId":"safe","operationType":"INCREMENT","x":1}`, 400, "unknown field"},
		{"two JSON values", post, `{"counterId":"safe","operationType":"INCREMENT"}{"counterId":"safe","operationType":"INCREMENT"}`, 400, "more than one value"},
		{"no counterId", post, `{"operationType":"INCREMENT"}`, 400, "counterId is required"},
		{"an unknown operation", post, `{"counterId":"safe","operationType":"DELETE"}`, 400, "unknown operationType"},
		{"delta 2^63", post, `{"counterId":"safe","operationType":"INCREMENT","delta":9223372036854775808}`, 400, "delta must be an integer"},
		{"a float delta", post, `{"counterId":"safe","operationType":"INCREMENT","delta":1.5}`, 400, "delta must be an integer"},
		{"a string delta", post, `{"counterId":"safe","operationType":"INCREMENT","delta":"5"}`, 400, "delta must be an integer"},
		{"DECREMENT by -2^63", post, `{"counterId":"safe","operationType":"DECREMENT","delta":-9223372036854775808}`, 400, "decrement would overflow"},
		{"INCREMENT past MaxInt64", post, `{"counterId":"c-max","operationType":"INCREMENT","delta":1}`, 400, "would overflow"},
		{"DECREMENT past MinInt64", post, `{"counterId":"c-min","operationType":"DECREMENT","delta":1}`, 400, "would overflow"},
		{"60000 nested arrays", post, strings.Repeat("[", 60000), 400, "invalid JSON"},
		{"a 1 MiB body", post, `{"counterId":"` + strings.Repeat("h", 1<<20) + `","operationType":"INCREMENT"}`, 413, "larger than"},
		{"GET instead of POST", http.MethodGet, ``, 405, "use POST"},
	}
}
