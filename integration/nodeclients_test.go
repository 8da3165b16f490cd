package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nodeClientsDir holds the Node.js clients' script and its pinned
// packages; scripts/setup.sh (make test, .ci/run) installs them with npm ci.
const nodeClientsDir = "testdata/nodeclients"

// TestNodeClients drives a coordinator with ioredis 6 and node-redis 6 on
// their default options (both open with HELLO 3, and neither falls back to
// RESP2): INCRBY, INCR, DECR, DECRBY, GET, MGET, SET, DEL, EXISTS,
// SHARDVALUES, a pipeline, concurrent increments of one key, and Redis'
// errors (testdata/nodeclients/clients.mjs checks every reply), without a
// password and with --requirepass (AUTH inside HELLO 3). Then the totals it
// left are checked here, through go-redis.
func TestNodeClients(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH (install nodejs); skipping the Node.js clients")
	}
	ver, err := exec.Command(node, "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v", err)
	}
	version := strings.TrimSpace(string(ver))
	major, _, _ := strings.Cut(strings.TrimPrefix(version, "v"), ".")
	if n, err := strconv.Atoi(major); err != nil || n < 20 {
		t.Skipf("node %s: ioredis 6 and node-redis 6 need Node.js 20 or later", version)
	}
	if _, err := os.Stat(filepath.Join(nodeClientsDir, "node_modules", "ioredis")); err != nil {
		t.Fatalf("the Node.js clients are not installed in %s: run scripts/setup.sh (make deps): %v", nodeClientsDir, err)
	}
	for _, password := range []string{"", "node-secret"} {
		c := startCluster(t, clusterOpts{password: password})
		args := []string{"clients.mjs", c.addr}
		if password != "" {
			args = append(args, password)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, node, args...)
		cmd.Dir = nodeClientsDir
		out, err := cmd.CombinedOutput()
		cancel()
		t.Logf("node %s (--requirepass %q):\n%s", strings.Join(args, " "), password, out)
		if err != nil {
			t.Fatalf("node clients.mjs, --requirepass %q: %v", password, err)
		}
		rdb := c.client()
		for key, want := range map[string]int64{"io:a": 2, "io:p": 100, "io:c": 200, "nr:a": 2, "nr:p": 100} {
			if got := getInt(t, rdb, key); got != want {
				t.Errorf("GET %s after the Node.js clients: %d, want %d", key, got, want)
			}
		}
		if n, err := rdb.Exists(context.Background(), "io:s", "nr:s").Result(); err != nil || n != 0 {
			t.Errorf("EXISTS of the deleted counters: %d, %v; want 0", n, err)
		}
	}
}
