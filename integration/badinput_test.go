package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/shardcounter/shardcounter/internal/resptest"
)

// TestMalformedRESP: a malformed request gets an error reply or a closed
// connection; the server keeps serving everyone else and no counter moves.
func TestMalformedRESP(t *testing.T) {
	ctx := context.Background()
	c := startCluster(t, clusterOpts{})
	rdb := c.client()
	if err := rdb.IncrBy(ctx, "safe", 42).Err(); err != nil {
		t.Fatal(err)
	}
	// A second connection that stays open through all of it.
	bystander := dialRaw(t, c.addr)
	if v, err := bystander.cmd("PING"); err != nil || v != resptest.Status("PONG") {
		t.Fatalf("PING: %#v, %v", v, err)
	}

	for _, bad := range []string{
		"*1\r\n$-5\r\n",
		"*x\r\n",
		"*2\r\n$4\r\nINCR\r\n$abc\r\nsafe\r\n",
		"*-7\r\n$4\r\nINCR\r\n",
		"*2\r\n$4\r\nINCR\r\n$4\r\nsafeXX\r\n",
		"*3\r\n$6\r\nINCRBY\r\n$4\r\nsafe\r\n$999999999999999999999\r\n",
		"$4\r\nINCR\r\n",
		"\x00\x01\x02\xff\r\n",
	} {
		rc := dialRaw(t, c.addr)
		rc.send(bad)
		got := readUntilClosed(rc)
		for _, r := range got {
			if _, ok := r.(resptest.Err); !ok {
				t.Errorf("%q: got reply %#v; want only error replies (or a closed connection)", bad, r)
			}
		}
		if v, err := bystander.cmd("PING"); err != nil || v != resptest.Status("PONG") {
			t.Fatalf("after %q another connection's PING: %#v, %v", bad, v, err)
		}
	}
	if v := getInt(t, rdb, "safe"); v != 42 {
		t.Fatalf("malformed requests changed a counter: %d, want 42", v)
	}
	if n, err := rdb.DBSize(ctx).Result(); err != nil || n != 1 {
		t.Fatalf("DBSIZE after malformed requests: %d, %v; want 1", n, err)
	}

	// A bad command in the middle of a pipeline leaves the ones around it
	// answered in order, on a connection that stays usable.
	rc := dialRaw(t, c.addr)
	rc.send("*2\r\n$4\r\nINCR\r\n$1\r\np\r\n" + "*3\r\n$6\r\nINCRBY\r\n$1\r\np\r\n$1\r\nx\r\n" + "*1\r\n$7\r\nNOTACMD\r\n" + "*2\r\n$4\r\nINCR\r\n$1\r\np\r\n")
	want := []string{"1", "ERR value is not an integer", "ERR unknown command 'NOTACMD'", "2"}
	for _, w := range want {
		v, err := rc.read()
		if err != nil || !strings.HasPrefix(fmt.Sprint(v), w) {
			t.Fatalf("pipelined reply: %#v, %v; want %q", v, err, w)
		}
	}
	if v, err := rc.cmd("GET", "p"); err != nil || v != "2" {
		t.Fatalf("GET p: %#v, %v", v, err)
	}
}

// readUntilClosed reads replies until the connection is closed or quiet for
// a moment.
func readUntilClosed(rc *rawConn) []any {
	var out []any
	for len(out) < 10 {
		rc.c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		v, err := resptest.ReadReply(rc.r)
		if err != nil {
			return out
		}
		out = append(out, v)
	}
	return out
}

// TestOversizeRequest: a request over the 4 MiB limit gets an error, the
// connection is closed, and nothing changes.
func TestOversizeRequest(t *testing.T) {
	ctx := context.Background()
	c := startCluster(t, clusterOpts{})
	rdb := c.client()
	if err := rdb.IncrBy(ctx, "safe", 7).Err(); err != nil {
		t.Fatal(err)
	}

	const size = 5 << 20
	key := strings.Repeat("k", size)
	req := fmt.Sprintf("*3\r\n$6\r\nINCRBY\r\n$%d\r\n%s\r\n$1\r\n1\r\n", size, key)
	conn, err := net.DialTimeout("tcp", c.addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Write in the background: the server may stop reading and close.
	go func() {
		conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		conn.Write([]byte(req))
	}()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	reply, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open 10s after a %d-byte request; read %q", size, reply)
	}
	// The error reply, if it arrived before the reset, says what happened.
	if len(reply) > 0 && !strings.HasPrefix(string(reply), "-ERR") {
		t.Fatalf("oversize request got %q, want an error reply", reply)
	}
	if len(reply) > 0 && !strings.Contains(string(reply), "larger than") {
		t.Errorf("oversize request error %q does not mention the limit", reply)
	}
	t.Logf("oversize request: reply %q, read error %v", reply, err)

	// Nothing changed; other clients are served.
	if v := getInt(t, rdb, "safe"); v != 7 {
		t.Fatalf("GET safe after the oversize request: %d, want 7", v)
	}
	if n, err := rdb.DBSize(ctx).Result(); err != nil || n != 1 {
		t.Fatalf("DBSIZE after the oversize request: %d, %v; want 1 (the oversize key must not exist)", n, err)
	}

	// Just under the limit is served: a 1 MiB key works.
	big := strings.Repeat("b", 1<<20)
	if v, err := rdb.IncrBy(ctx, big, 3).Result(); err != nil || v != 3 {
		t.Fatalf("INCRBY with a 1 MiB key: %d, %v; want 3", v, err)
	}
	if v := getInt(t, rdb, big); v != 3 {
		t.Fatalf("GET of a 1 MiB key: %d, want 3", v)
	}
}

// TestOversizeHTTPBody: a huge JSON body is refused, and nothing changes.
func TestOversizeHTTPBody(t *testing.T) {
	c := startCluster(t, clusterOpts{})
	body := `{"counterId":"` + strings.Repeat("h", 1<<20) + `","operationType":"INCREMENT","delta":1}`
	code, r := c.sharded(body, "")
	if code < 400 || code >= 500 || r.Success {
		t.Fatalf("1 MiB JSON body: %d %+v; want a 4xx refusal", code, r)
	}
	if n, err := c.client().DBSize(context.Background()).Result(); err != nil || n != 0 {
		t.Fatalf("DBSIZE after a refused body: %d, %v; want 0", n, err)
	}
}
