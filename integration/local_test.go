package integration

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestLocal: `shardcounter local` runs a whole cluster, prints where it
// listens, stops cleanly on SIGINT, and finds its counters when started
// again on the same data directory.
func TestLocal(t *testing.T) {
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "data")
	addr, httpAddr := freeAddr(t), freeAddr(t)
	args := []string{"local", "--listen", addr, "--http", httpAddr, "--data", data}

	p := startProc(t, "local", args...)
	waitReady(t, p, addr)
	if out := p.stdout.String() + p.stderr.String(); !strings.Contains(out, addr) || !strings.Contains(out, httpAddr) {
		t.Fatalf("local does not print where it listens (%s, %s):\n%s", addr, httpAddr, out)
	}
	rdb := newClient(t, &redis.Options{Addr: addr})
	if v, err := rdb.IncrBy(ctx, "global_likes", 5).Result(); err != nil || v != 5 {
		t.Fatalf("INCRBY: %d, %v", v, err)
	}
	if v, err := rdb.IncrBy(ctx, "global_likes", 2).Result(); err != nil || v != 7 {
		t.Fatalf("INCRBY: %d, %v", v, err)
	}
	sv := shardValues(t, rdb, "global_likes")
	if len(sv) != 3 || sv["s1"]+sv["s2"]+sv["s3"] != 7 {
		t.Fatalf("SHARDVALUES: %v, want s1..s3 summing to 7", sv)
	}
	code, body := httpDo(t, "GET", "http://"+httpAddr+"/health", "", "")
	if code != http.StatusOK {
		t.Fatalf("/health of local: %d %s", code, body)
	}
	p.stop(t, syscall.SIGINT)
	rdb.Close()

	p = startProc(t, "local (again)", args...)
	waitReady(t, p, addr)
	rdb = newClient(t, &redis.Options{Addr: addr})
	if v := waitGet(t, rdb, "global_likes"); v != 7 {
		t.Fatalf("GET after restarting local: %d, want 7", v)
	}
	if got := shardValues(t, rdb, "global_likes"); got["s1"] != sv["s1"] || got["s2"] != sv["s2"] || got["s3"] != sv["s3"] {
		t.Fatalf("SHARDVALUES after restart: %v, before: %v", got, sv)
	}
	code, r := shardedAt(t, httpAddr, `{"counterId":"global_likes","operationType":"GET_TOTAL"}`)
	if code != http.StatusOK || r.TotalValue == nil || *r.TotalValue != 7 {
		t.Fatalf("GET_TOTAL after restarting local: %d %+v", code, r)
	}
	p.stop(t, syscall.SIGTERM)
}

func shardedAt(t *testing.T, httpAddr, body string) (int, shardedResponse) {
	c := &cluster{t: t, httpAddr: httpAddr}
	return c.sharded(body, "")
}
