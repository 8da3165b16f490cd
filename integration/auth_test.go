package integration

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/shardcounter/shardcounter/internal/resptest"
)

// TestRequirePass: with --requirepass, commands need AUTH first (RESP), or a
// bearer token (HTTP /sharded); /health needs none. The shards have a
// password of their own, passed with --shard-pass.
func TestRequirePass(t *testing.T) {
	ctx := context.Background()
	c := startCluster(t, clusterOpts{
		shardArgs: []string{"--requirepass", "shardsecret"},
		coordArgs: []string{"--requirepass", "pass", "--shard-pass", "shardsecret"},
		password:  "pass",
	})

	// Raw RESP: NOAUTH before AUTH, WRONGPASS for a bad password.
	rc := dialRaw(t, c.addr)
	for _, args := range [][]string{{"INCR", "k"}, {"GET", "k"}, {"PING"}, {"SHARDVALUES", "k"}} {
		v, err := rc.cmd(args...)
		if e, ok := v.(resptest.Err); err != nil || !ok || !strings.HasPrefix(string(e), "NOAUTH") {
			t.Fatalf("%v before AUTH: %#v, %v; want a NOAUTH error", args, v, err)
		}
	}
	if v, err := rc.cmd("AUTH", "default", "wrong"); err != nil || !strings.HasPrefix(asErr(v), "WRONGPASS") {
		t.Fatalf("AUTH with a wrong password: %#v, %v; want WRONGPASS", v, err)
	}
	if v, err := rc.cmd("INCR", "k"); err != nil || !strings.HasPrefix(asErr(v), "NOAUTH") {
		t.Fatalf("INCR after a failed AUTH: %#v, %v; want NOAUTH", v, err)
	}
	if v, err := rc.cmd("AUTH", "default", "pass"); err != nil || v != resptest.Status("OK") {
		t.Fatalf("AUTH default pass: %#v, %v", v, err)
	}
	if v, err := rc.cmd("INCRBY", "k", "3"); err != nil || v != int64(3) {
		t.Fatalf("INCRBY after AUTH: %#v, %v; want 3", v, err)
	}
	rc2 := dialRaw(t, c.addr)
	if v, err := rc2.cmd("AUTH", "pass"); err != nil || v != resptest.Status("OK") {
		t.Fatalf("AUTH pass: %#v, %v", v, err)
	}

	// go-redis with a password: HELLO 3 AUTH default pass.
	rdb := c.client()
	if v, err := rdb.Incr(ctx, "k").Result(); err != nil || v != 4 {
		t.Fatalf("INCR via go-redis with Password: %d, %v; want 4", v, err)
	}
	if v := getInt(t, rdb, "k"); v != 4 {
		t.Fatalf("GET via go-redis with Password: %d, want 4", v)
	}
	noPass := newClient(t, &redis.Options{Addr: c.addr})
	if err := noPass.Incr(ctx, "k").Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("INCR via go-redis without a password: %v, want NOAUTH", err)
	}
	badPass := newClient(t, &redis.Options{Addr: c.addr, Password: "wrong"})
	if err := badPass.Incr(ctx, "k").Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("INCR via go-redis with a wrong password: %v, want WRONGPASS", err)
	}
	if v := getInt(t, rdb, "k"); v != 4 {
		t.Fatalf("refused commands changed the counter: %d, want 4", v)
	}

	// The shards themselves refuse clients without their password.
	sc := dialRaw(t, c.shards[0].addr)
	if v, err := sc.cmd("INCR", "k"); err != nil || !strings.HasPrefix(asErr(v), "NOAUTH") {
		t.Fatalf("INCR on a shard without its password: %#v, %v; want NOAUTH", v, err)
	}

	// HTTP: /sharded needs the bearer token, /health does not.
	body := `{"counterId":"k","operationType":"GET_TOTAL"}`
	for _, token := range []string{"", "wrong"} {
		code, r := c.sharded(body, token)
		if code != http.StatusUnauthorized || r.Success {
			t.Fatalf("POST /sharded with token %q: %d %+v; want 401", token, code, r)
		}
	}
	code, r := c.sharded(`{"counterId":"k","operationType":"INCREMENT","delta":1}`, "")
	if code != http.StatusUnauthorized {
		t.Fatalf("INCREMENT without a token: %d %+v; want 401", code, r)
	}
	code, r = c.sharded(body, "pass")
	if code != http.StatusOK || !r.Success || r.TotalValue == nil || *r.TotalValue != 4 {
		t.Fatalf("POST /sharded with the token: %d %+v; want 200 and totalValue 4", code, r)
	}
	if code, body := c.httpDo("GET", "/health", "", ""); code != http.StatusOK {
		t.Fatalf("/health without a token: %d %s; want 200", code, body)
	}
}

func asErr(v any) string {
	e, _ := v.(resptest.Err)
	return string(e)
}
