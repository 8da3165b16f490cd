package integration

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// redisCLI runs redis-cli against addr and returns its trimmed output.
func redisCLI(t *testing.T, addr string, args ...string) string {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	full := append([]string{"-h", host, "-p", port}, args...)
	out, err := exec.CommandContext(ctx, "redis-cli", full...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %s: %v\n%s", strings.Join(full, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestRedisCLI runs the README's tour with redis-cli, over RESP2 and RESP3.
func TestRedisCLI(t *testing.T) {
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Skip("redis-cli is not on PATH (install redis-tools); skipping the redis-cli tour")
	}
	c := startCluster(t, clusterOpts{})
	rdb := c.client()

	if out := redisCLI(t, c.addr, "INCRBY", "global_likes", "5"); out != "5" {
		t.Fatalf("redis-cli INCRBY global_likes 5: %q, want 5", out)
	}
	if out := redisCLI(t, c.addr, "INCRBY", "global_likes", "5"); out != "10" {
		t.Fatalf("second INCRBY global_likes 5: %q, want 10", out)
	}
	if out := redisCLI(t, c.addr, "GET", "global_likes"); out != "10" {
		t.Fatalf("redis-cli GET global_likes: %q, want 10", out)
	}

	// Where the 10 lives: one shard with spread 1.
	sv := shardValues(t, rdb, "global_likes")
	owner := ""
	for id, p := range sv {
		if p == 10 {
			owner = id
		}
	}
	if owner == "" {
		t.Fatalf("SHARDVALUES %v: no shard holds the 10", sv)
	}

	// RESP2: the flat array prints as id, partial lines.
	lines := strings.Split(redisCLI(t, c.addr, "SHARDVALUES", "global_likes"), "\n")
	if len(lines) != 6 {
		t.Fatalf("redis-cli SHARDVALUES: %q, want 6 lines (id, partial) x 3", lines)
	}
	got := map[string]string{}
	for i := 0; i < 6; i += 2 {
		got[lines[i]] = lines[i+1]
	}
	for _, id := range []string{"s1", "s2", "s3"} {
		want := "0"
		if id == owner {
			want = "10"
		}
		if got[id] != want {
			t.Fatalf("redis-cli SHARDVALUES: %s = %q, want %s (all: %q)", id, got[id], want, lines)
		}
	}

	// RESP3: redis-cli -3 prints a map as "id partial" lines.
	lines = strings.Split(redisCLI(t, c.addr, "-3", "SHARDVALUES", "global_likes"), "\n")
	if len(lines) != 3 {
		t.Fatalf("redis-cli -3 SHARDVALUES: %q, want 3 lines", lines)
	}
	for _, l := range lines {
		id, v, ok := strings.Cut(strings.TrimSpace(l), " ")
		want := "0"
		if id == owner {
			want = "10"
		}
		if !ok || v != want {
			t.Fatalf("redis-cli -3 SHARDVALUES line %q, want %q %s", l, id, want)
		}
	}
	if out := redisCLI(t, c.addr, "-3", "INCR", "global_likes"); out != "11" {
		t.Fatalf("redis-cli -3 INCR: %q, want 11", out)
	}
	if out := redisCLI(t, c.addr, "-3", "GET", "global_likes"); out != "11" {
		t.Fatalf("redis-cli -3 GET: %q, want 11", out)
	}

	// Errors print as Redis prints them.
	if out := redisCLI(t, c.addr, "INCRBY", "global_likes", "abc"); !strings.Contains(out, "ERR value is not an integer or out of range") {
		t.Fatalf("redis-cli INCRBY with a bad delta: %q", out)
	}
	if out := redisCLI(t, c.addr, "PING"); out != "PONG" {
		t.Fatalf("redis-cli PING: %q", out)
	}
	if out := redisCLI(t, c.addr, "INFO", "server"); !strings.Contains(out, "redis_version:") {
		t.Fatalf("redis-cli INFO server: %q", out)
	}
	if out := redisCLI(t, c.addr, "GET", "global_likes"); out != "11" {
		t.Fatalf("the error changed the counter: GET %q, want 11", out)
	}

	// CLIENT LIST: on the coordinator, redis-cli itself (rdb's
	// connections idle in its pool are listed too); on a shard, the
	// coordinator's connection.
	if out := redisCLI(t, c.addr, "CLIENT", "LIST"); !strings.Contains(out, " cmd=client|list ") || !strings.Contains(out, " laddr="+c.addr+" ") {
		t.Fatalf("redis-cli CLIENT LIST on the coordinator: %q", out)
	}
	if out := redisCLI(t, c.shards[0].addr, "CLIENT", "LIST"); !strings.Contains(out, " name=shardcounter-coordinator ") {
		t.Fatalf("redis-cli CLIENT LIST on shard %s shows no coordinator: %q", c.shards[0].id, out)
	}
}
