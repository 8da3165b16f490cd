package integration

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardcounter/shardcounter/internal/resptest"
)

// deniedText is Redis 7's protected-mode refusal, word for word.
const deniedText = "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside."

// TestAuthDetails covers what TestRequirePass does not: HELLO 3 with and
// without AUTH on a raw connection, /metrics behind the bearer token, and
// shards that refuse a coordinator without the right --shard-pass.
func TestAuthDetails(t *testing.T) {
	c := startCluster(t, clusterOpts{
		shardArgs: []string{"--requirepass", "shardsecret"},
		coordArgs: []string{"--requirepass", "pass", "--shard-pass", "shardsecret"},
		password:  "pass",
	})
	rc := dialRaw(t, c.addr)
	if v, err := rc.cmd("HELLO", "3"); err != nil || !strings.HasPrefix(asErr(v), "NOAUTH HELLO must be called with the client already authenticated") {
		t.Fatalf("HELLO 3 before AUTH: %#v, %v", v, err)
	}
	if v, err := rc.cmd("HELLO", "3", "AUTH", "default", "wrong"); err != nil || !strings.HasPrefix(asErr(v), "WRONGPASS") {
		t.Fatalf("HELLO 3 AUTH default wrong: %#v, %v", v, err)
	}
	v, err := rc.cmd("HELLO", "3", "AUTH", "default", "pass")
	if m, ok := v.(resptest.Map); err != nil || !ok || len(m) != 14 || m[4] != "proto" || m[5] != int64(3) {
		t.Fatalf("HELLO 3 AUTH default pass: %#v, %v; want the RESP3 hello map", v, err)
	}
	if v, err := rc.cmd("INCRBY", "k", "2"); err != nil || v != int64(2) {
		t.Fatalf("INCRBY after HELLO AUTH: %#v, %v", v, err)
	}
	if code, _ := c.httpDo("GET", "/metrics", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("/metrics without the token: %d, want 401", code)
	}
	if code, _ := c.httpDo("GET", "/metrics", "", "pass"); code != http.StatusOK {
		t.Fatalf("/metrics with the token: %d, want 200", code)
	}

	// A shard refuses every counter command, shard protocol included,
	// without its password, and answers it with the password.
	sc := dialRaw(t, c.shards[0].addr)
	for _, args := range [][]string{{"SC.INCR", "s1", "k", "1", "abc", "1", "0", "1"}, {"SC.GET", "s1", "k"}, {"GET", "k"}, {"INFO"}} {
		if v, err := sc.cmd(args...); err != nil || !strings.HasPrefix(asErr(v), "NOAUTH") {
			t.Fatalf("%v on a shard without its password: %#v, %v; want NOAUTH", args, v, err)
		}
	}
	if v, err := sc.cmd("AUTH", "shardsecret"); err != nil || v != resptest.Status("OK") {
		t.Fatalf("AUTH on the shard: %#v, %v", v, err)
	}
	if v, err := sc.cmd("SC.PING", "s1"); err != nil || v != resptest.Status("PONG") {
		t.Fatalf("SC.PING after AUTH: %#v, %v", v, err)
	}

	// Coordinators with no or a wrong --shard-pass get nothing from the
	// shards: /health names them, and nothing is written.
	list := "s1=" + c.shards[0].addr + ",s2=" + c.shards[1].addr + ",s3=" + c.shards[2].addr
	for _, pass := range []string{"", "wrong"} {
		addr, httpAddr := freeAddr(t), freeAddr(t)
		args := []string{"coordinator", "--listen", addr, "--http", httpAddr, "--shards", list, "--shard-timeout", "300ms", "--write-timeout", "1s"}
		if pass != "" {
			args = append(args, "--shard-pass", pass)
		}
		p := startProc(t, "coordinator shard-pass="+pass, args...)
		waitReady(t, p, addr)
		code, body := httpDo(t, "GET", "http://"+httpAddr+"/health", "", "")
		want := "NOAUTH"
		if pass != "" {
			want = "WRONGPASS"
		}
		if code != http.StatusServiceUnavailable || !strings.Contains(body, want) || !strings.Contains(body, "down: s1, s2, s3") {
			t.Fatalf("/health of a coordinator with --shard-pass %q: %d %s; want 503 naming every shard and %s", pass, code, body, want)
		}
		rdb := newClient(t, &redis.Options{Addr: addr, MaxRetries: -1})
		if err := rdb.Incr(context.Background(), "k").Err(); err == nil {
			t.Fatalf("INCR through a coordinator with --shard-pass %q succeeded", pass)
		}
	}
	if v := getInt(t, c.client(), "k"); v != 2 {
		t.Fatalf("GET k = %d, want 2: a coordinator without the shard password wrote", v)
	}
}

// nonLoopbackIP returns an IPv4 address of this host that is not loopback,
// or nil. Dialing 127.0.0.1 from it makes the server see a non-loopback
// peer without any packet leaving the host.
func nonLoopbackIP() net.IP {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil && !n.IP.IsLinkLocalUnicast() {
			return n.IP
		}
	}
	return nil
}

// dialFrom connects to addr (on loopback) from local IP ip.
func dialFrom(t *testing.T, ip net.IP, addr string) *rawConn {
	t.Helper()
	d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: ip}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Skipf("cannot reach %s from %s on this host: %v", addr, ip, err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, r: bufio.NewReader(c)}
}

// TestProtectedMode: with no password, a coordinator and a shard serve
// loopback clients and refuse others with Redis' DENIED text; the HTTP API
// refuses them with 403 (except /health). --protected-mode no, or a
// password, lifts the refusal. The servers listen on 127.0.0.1 only; the
// non-loopback peer is this host's own address, used as the source of a
// connection to 127.0.0.1.
func TestProtectedMode(t *testing.T) {
	c := startCluster(t, clusterOpts{})
	ctx := context.Background()
	// Loopback is served.
	if err := c.client().Incr(ctx, "pm").Err(); err != nil {
		t.Fatalf("INCR from 127.0.0.1 in protected mode: %v", err)
	}
	if v, err := dialRaw(t, c.shards[0].addr).cmd("PING"); err != nil || v != resptest.Status("PONG") {
		t.Fatalf("PING a shard from 127.0.0.1 in protected mode: %#v, %v", v, err)
	}
	ip := nonLoopbackIP()
	if ip == nil {
		t.Skip("no non-loopback address on this host: the accept decision is covered by resp.TestGuardRefusal and TestGuardListenerProtectedMode")
	}
	t.Logf("non-loopback peer: %s", ip)
	for _, addr := range []string{c.addr, c.shards[0].addr} {
		rc := dialFrom(t, ip, addr)
		rc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		all, err := io.ReadAll(rc.r)
		if string(all) != "-"+deniedText+"\r\n" {
			t.Fatalf("a client from %s to %s got %.120q (%v), want Redis' DENIED reply and a close", ip, addr, all, err)
		}
	}
	// go-redis is refused too (it reads the DENIED reply to its HELLO,
	// falls back to RESP2 as it does for any HELLO error, and then finds
	// the connection closed).
	rdb := newClient(t, &redis.Options{Addr: c.addr, MaxRetries: -1,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}
			return d.DialContext(ctx, network, addr)
		}})
	if err := rdb.Incr(ctx, "pm").Err(); err == nil {
		t.Fatalf("go-redis from %s: INCR succeeded in protected mode", ip)
	}
	// HTTP: 403 with the same explanation, except /health.
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}).DialContext}}
	res, err := hc.Post("http://"+c.httpAddr+"/sharded", "application/json", strings.NewReader(`{"counterId":"pm","operationType":"INCREMENT"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "DENIED Redis is running in protected mode") {
		t.Fatalf("POST /sharded from %s: %d %.200s; want 403 with the DENIED text", ip, res.StatusCode, body)
	}
	if res, err = hc.Get("http://" + c.httpAddr + "/health"); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("/health from %s: %v %v; want 200", ip, res, err)
	}
	res.Body.Close()
	if v := getInt(t, c.client(), "pm"); v != 1 {
		t.Fatalf("GET pm = %d, want 1: a refused client wrote", v)
	}

	// --protected-mode no, or a password, lets the same peer in.
	list := "s1=" + c.shards[0].addr + ",s2=" + c.shards[1].addr + ",s3=" + c.shards[2].addr
	for _, extra := range [][]string{{"--protected-mode", "no"}, {"--requirepass", "pw"}} {
		addr := freeAddr(t)
		p := startProc(t, "coordinator "+strings.Join(extra, " "), append([]string{"coordinator", "--listen", addr, "--http", "", "--shards", list}, extra...)...)
		waitReady(t, p, addr)
		rc := dialFrom(t, ip, addr)
		v, err := rc.cmd("INCR", "pm")
		want := any(int64(2))
		if extra[0] == "--requirepass" {
			if !strings.HasPrefix(asErr(v), "NOAUTH") {
				t.Fatalf("with %v, INCR from %s: %#v, %v; want NOAUTH (no DENIED)", extra, ip, v, err)
			}
			continue
		}
		if err != nil || v != want {
			t.Fatalf("with %v, INCR from %s: %#v, %v; want %v", extra, ip, v, err, want)
		}
	}
	// A shard with --protected-mode no serves the peer too.
	sa := freeAddr(t)
	sp := startProc(t, "shard unprotected", "shard", "--id", "x1", "--listen", sa, "--data", t.TempDir(), "--protected-mode", "no")
	waitReady(t, sp, sa)
	if v, err := dialFrom(t, ip, sa).cmd("INCR", "k"); err != nil || v != int64(1) {
		t.Fatalf("INCR from %s on a shard with --protected-mode no: %#v, %v", ip, v, err)
	}
}

// TestMaxClients: --maxclients on a coordinator and on a shard. One client
// over the limit gets Redis' error and is disconnected; the others are
// served; a closed client makes room.
func TestMaxClients(t *testing.T) {
	dir := t.TempDir()
	sa := freeAddr(t)
	sp := startProc(t, "shard", "shard", "--id", "s1", "--listen", sa, "--data", dir+"/s1")
	waitReady(t, sp, sa)
	ca := freeAddr(t)
	cp := startProc(t, "coordinator", "coordinator", "--listen", ca, "--http", "", "--shards", "s1="+sa, "--maxclients", "3")
	waitReady(t, cp, ca)
	// A shard of its own, so that no coordinator holds connections to it.
	la := freeAddr(t)
	lp := startProc(t, "lone shard", "shard", "--id", "s2", "--listen", la, "--data", dir+"/s2", "--maxclients", "2")
	waitReady(t, lp, la)
	// go-redis works through a coordinator with a client limit.
	rdb := newClient(t, &redis.Options{Addr: ca, PoolSize: 1})
	if err := rdb.Incr(context.Background(), "k").Err(); err != nil {
		t.Fatalf("INCR: %v", err)
	}
	rdb.Close()
	for _, tc := range []struct {
		name, addr string
		max        int
	}{{"coordinator", ca, 3}, {"shard", la, 2}} {
		var conns []*rawConn
		deadline := time.Now().Add(5 * time.Second)
		for len(conns) < tc.max {
			rc := dialRaw(t, tc.addr)
			if v, err := rc.cmd("PING"); err != nil || v != resptest.Status("PONG") {
				if time.Now().After(deadline) {
					t.Fatalf("%s: client %d of %d: %#v, %v", tc.name, len(conns)+1, tc.max, v, err)
				}
				// A waitReady connection may still be closing.
				time.Sleep(20 * time.Millisecond)
				continue
			}
			conns = append(conns, rc)
		}
		over := dialRaw(t, tc.addr)
		over.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		all, err := io.ReadAll(over.r)
		if string(all) != "-ERR max number of clients reached\r\n" {
			t.Fatalf("%s: client %d: %q (%v), want Redis' max clients error and a close", tc.name, tc.max+1, all, err)
		}
		for _, rc := range conns {
			if v, err := rc.cmd("PING"); err != nil || v != resptest.Status("PONG") {
				t.Fatalf("%s: a client within the limit after the refusal: %#v, %v", tc.name, v, err)
			}
		}
		conns[0].c.Close()
		var v any
		for deadline := time.Now().Add(5 * time.Second); ; {
			rc := dialRaw(t, tc.addr)
			if v, err = rc.cmd("PING"); err == nil && v == resptest.Status("PONG") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no room after a client left: %#v, %v", tc.name, v, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestIdleTimeout: --idle-timeout closes a connection that sends nothing
// for that long, on a coordinator and on a shard; a busy one stays.
func TestIdleTimeout(t *testing.T) {
	sa := freeAddr(t)
	sp := startProc(t, "shard", "shard", "--id", "s1", "--listen", sa, "--data", t.TempDir(), "--idle-timeout", "700ms")
	waitReady(t, sp, sa)
	ca := freeAddr(t)
	cp := startProc(t, "coordinator", "coordinator", "--listen", ca, "--http", "", "--shards", "s1="+sa, "--idle-timeout", "700ms")
	waitReady(t, cp, ca)
	for _, addr := range []string{ca, sa} {
		idle, busy := dialRaw(t, addr), dialRaw(t, addr)
		start := time.Now()
		for time.Since(start) < 1500*time.Millisecond {
			if v, err := busy.cmd("PING"); err != nil || v != resptest.Status("PONG") {
				t.Fatalf("%s: a busy connection after %s: %#v, %v", addr, time.Since(start), v, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		idle.c.SetReadDeadline(time.Now().Add(time.Second))
		_, err := idle.r.ReadByte()
		if !errors.Is(err, io.EOF) {
			t.Fatalf("%s: an idle connection after 1.5s: %v, want it closed by --idle-timeout 700ms", addr, err)
		}
	}
	// The coordinator keeps working: its shard connections are in use
	// (probes) and reconnect if the shard closed one.
	rdb := newClient(t, &redis.Options{Addr: ca, MaxRetries: -1})
	for i := 0; i < 3; i++ {
		if err := rdb.Incr(context.Background(), "k").Err(); err != nil {
			t.Fatalf("INCR through a coordinator to a shard with --idle-timeout: %v", err)
		}
		time.Sleep(400 * time.Millisecond)
	}
}

// TestRequestLimitFlags: --max-bulk-bytes and --max-request-bytes, set low,
// refuse with errors that name the limit; just under them is served.
func TestRequestLimitFlags(t *testing.T) {
	c := startCluster(t, clusterOpts{shards: 1,
		shardArgs: []string{"--max-bulk-bytes", "100", "--max-request-bytes", "2048"},
		coordArgs: []string{"--max-bulk-bytes", "100", "--max-request-bytes", "2048"}})
	for i, addr := range []string{c.addr, c.shards[0].addr} {
		if v, err := dialRaw(t, addr).cmd("INCR", strings.Repeat("k", 100)); err != nil || v != int64(i+1) {
			t.Fatalf("%s: INCR of a 100-byte key: %#v, %v", addr, v, err)
		}
		rc := dialRaw(t, addr)
		v, err := rc.cmd("INCR", strings.Repeat("k", 101))
		if want := "ERR Protocol error: invalid bulk length 101: larger than 100 bytes"; err != nil || asErr(v) != want {
			t.Fatalf("%s: INCR of a 101-byte key: %#v, %v; want %q", addr, v, err, want)
		}
		if _, err := rc.read(); err == nil {
			t.Fatalf("%s: the connection stayed open after the bulk limit", addr)
		}
		rc = dialRaw(t, addr)
		rc.send(strings.Repeat("x", 3000))
		if v, err := rc.read(); err != nil || asErr(v) != "ERR Protocol error: request larger than 2048 bytes" {
			t.Fatalf("%s: a 3000-byte line: %#v, %v", addr, v, err)
		}
	}
	if v := getInt(t, c.client(), strings.Repeat("k", 100)); v != 2 {
		t.Fatalf("GET = %d, want 2", v)
	}
}
