package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardcounter/shardcounter/coordinator"
	"github.com/shardcounter/shardcounter/internal/testcert"
	"github.com/shardcounter/shardcounter/shard"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startTestShard(t *testing.T, id, dir, password string) *shard.Server {
	t.Helper()
	cfg := shard.DefaultConfig()
	cfg.ID, cfg.DataDir, cfg.Listen, cfg.Password, cfg.Logger = id, filepath.Join(dir, id), "127.0.0.1:0", password, quiet()
	s, err := shard.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s
}

// startTestCluster starts n shards and a coordinator without HTTP.
func startTestCluster(t *testing.T, n int, password string) ([]*shard.Server, *coordinator.Server) {
	t.Helper()
	return startTestClusterWith(t, n, func(cfg *coordinator.Config) { cfg.Password = password })
}

// startTestClusterWith starts n shards and a coordinator without HTTP,
// whose configuration set changes first.
func startTestClusterWith(t *testing.T, n int, set func(*coordinator.Config)) ([]*shard.Server, *coordinator.Server) {
	t.Helper()
	dir := t.TempDir()
	var shards []*shard.Server
	cfg := coordinator.DefaultConfig()
	for i := 1; i <= n; i++ {
		s := startTestShard(t, fmt.Sprintf("s%d", i), dir, "")
		shards = append(shards, s)
		cfg.Shards = append(cfg.Shards, coordinator.ShardAddr{ID: s.ID(), Addr: s.Addr().String()})
	}
	cfg.Listen, cfg.HTTP, cfg.Logger = "127.0.0.1:0", "", quiet()
	cfg.ProbeInterval = 50 * time.Millisecond
	set(&cfg)
	c, err := coordinator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown(context.Background()) })
	return shards, c
}

func runCmd(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestStatus(t *testing.T) {
	shards, c := startTestCluster(t, 3, "pw")
	addr := c.Addr().String()
	rc := redis.NewClient(&redis.Options{Addr: addr, Password: "pw"})
	defer rc.Close()
	for i := 0; i < 20; i++ {
		if err := rc.Incr(context.Background(), fmt.Sprintf("k%d", i%4)).Err(); err != nil {
			t.Fatal(err)
		}
	}

	// All up: exit 0, a row per shard with its counters once polled.
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, out, errOut := runCmd("status", "--coordinator", addr, "--password", "pw")
		if code != 0 {
			t.Fatalf("status: exit %d\n%s%s", code, out, errOut)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 5 || !strings.HasPrefix(lines[0], "SHARD") || lines[4] != "3 of 3 shards up" {
			t.Fatalf("status output:\n%s", out)
		}
		var counters int
		for i, l := range lines[1:4] {
			f := strings.Fields(l)
			if len(f) != 6 || f[0] != shards[i].ID() || f[1] != shards[i].Addr().String() || f[2] != "up" || !strings.HasSuffix(f[5], "ms") {
				t.Fatalf("row %q", l)
			}
			var n int
			fmt.Sscan(f[3], &n)
			counters += n
		}
		if counters == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counters never added up to 4:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A shard down: exit 1, the row says down and why.
	if err := shards[1].Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		code, out, errOut := runCmd("status", "--coordinator", addr, "--password", "pw")
		if code == 1 {
			if !strings.Contains(out, "s2  ") || !strings.Contains(out, " down ") || !strings.Contains(out, "2 of 3 shards up") ||
				!strings.Contains(errOut, "shards down: 1 of 3 (s2)") {
				t.Fatalf("status with s2 down: stdout:\n%s\nstderr:\n%s", out, errOut)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never failed with s2 down: exit %d\n%s%s", code, out, errOut)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Bad password, nobody listening, bad flags.
	if code, _, errOut := runCmd("status", "--coordinator", addr, "--password", "nope"); code != 1 || !strings.Contains(errOut, "WRONGPASS") {
		t.Errorf("wrong password: exit %d, %s", code, errOut)
	}
	if code, _, errOut := runCmd("status", "--coordinator", "127.0.0.1:1", "--timeout", "1s"); code != 1 || !strings.Contains(errOut, "127.0.0.1:1") {
		t.Errorf("nothing listening: exit %d, %s", code, errOut)
	}
	if code, _, _ := runCmd("status", "--bogus"); code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
}

func TestParseShardsInfo(t *testing.T) {
	info := "# Server\r\nredis_version:7.2.0\r\n\r\n# Shards\r\nshards:2\r\nspread:1\r\n" +
		"shard_s1:addr=10.0.0.1:7001,state=up,latency_us=250,counters=12,keys=40,writes=99,writes_per_sec=3.5\r\n" +
		"shard_b-2:addr=[::1]:7002,state=down,latency_us=0,counters=-1,keys=0,writes=0,writes_per_sec=0.0,err=dial tcp [::1]:7002: connect: connection refused\r\n\r\n# Keyspace\r\n"
	got, err := parseShardsInfo(info)
	if err != nil {
		t.Fatal(err)
	}
	want := []shardLine{
		{ID: "s1", Addr: "10.0.0.1:7001", State: "up", LatencyUs: 250, Counters: 12, WritesPerSec: 3.5},
		{ID: "b-2", Addr: "[::1]:7002", State: "down", Counters: -1, Err: "dial tcp [::1]:7002: connect: connection refused"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	// An older coordinator's line, without the polled figures.
	got, err = parseShardsInfo("# Shards\nshard_s1:addr=a:1,state=up,latency_us=5\n")
	if err != nil || len(got) != 1 || got[0].Counters != -1 {
		t.Fatalf("old format: %+v %v", got, err)
	}
	var buf bytes.Buffer
	printStatus(&buf, got)
	if !strings.Contains(buf.String(), "s1     a:1      up     -         0.0       0.01ms") {
		t.Errorf("table:\n%s", buf.String())
	}
	if _, err := parseShardsInfo("# Server\nredis_version:7\n"); err == nil {
		t.Error("INFO without shards accepted")
	}
}

func TestCheckpointCommand(t *testing.T) {
	dir := t.TempDir()
	s := startTestShard(t, "s7", dir, "secret")
	addr := s.Addr().String()
	rc := redis.NewClient(&redis.Options{Addr: addr, Password: "secret"})
	defer rc.Close()
	if err := rc.IncrBy(context.Background(), "likes", 42).Err(); err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(dir, "backups", "s7-first")
	code, out, errOut := runCmd("checkpoint", "--shard", addr, "--password", "secret", "--dir", cp)
	if code != 0 || !strings.Contains(out, "checkpoint of shard s7 written to "+cp) {
		t.Fatalf("checkpoint: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(cp, "CURRENT")); err != nil {
		t.Fatalf("checkpoint dir: %v", err)
	}
	// It opens as shard s7 with the value.
	cfg := shard.DefaultConfig()
	cfg.ID, cfg.DataDir, cfg.Listen, cfg.Logger = "s7", cp, "127.0.0.1:0", quiet()
	restored, err := shard.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := restored.Start(); err != nil {
		t.Fatal(err)
	}
	defer restored.Shutdown(context.Background())
	r2 := redis.NewClient(&redis.Options{Addr: restored.Addr().String()})
	defer r2.Close()
	if v, err := r2.Get(context.Background(), "likes").Int64(); err != nil || v != 42 {
		t.Fatalf("restored likes = %d, %v", v, err)
	}

	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--shard", addr, "--password", "secret", "--dir", cp}, 1, "already exists"},
		{[]string{"--shard", addr, "--password", "secret", "--dir", cp + "x", "--id", "s8"}, 1, "WRONGSHARD"},
		{[]string{"--shard", addr, "--dir", cp + "y"}, 1, "NOAUTH"},
		{[]string{"--shard", addr, "--dir", "relative"}, 2, "absolute"},
		{[]string{"--shard", addr}, 2, "--dir is required"},
	} {
		code, _, errOut := runCmd(append([]string{"checkpoint"}, c.args...)...)
		if code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("checkpoint %q: exit %d, want %d with %q:\n%s", c.args, code, c.code, c.msg, errOut)
		}
	}
}

// TestStatusTLS: status reaches a coordinator that serves TLS with --tls,
// checking its certificate against --cacert (or not, with --insecure), and
// fails clearly without TLS or with a certificate it cannot check.
func TestStatusTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := testcert.Write(t, dir)
	_, c := startTestClusterWith(t, 1, func(cfg *coordinator.Config) { cfg.TLSCert, cfg.TLSKey = certFile, keyFile })
	addr := c.Addr().String()

	for _, args := range [][]string{
		{"--tls", "--cacert", certFile},
		{"--tls", "--insecure"},
	} {
		code, out, errOut := runCmd(append([]string{"status", "--coordinator", addr}, args...)...)
		if code != 0 || !strings.Contains(out, "1 of 1 shards up") {
			t.Errorf("status %v: exit %d\n%s%s", args, code, out, errOut)
		}
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		// The system's roots do not hold the test's certificate.
		{[]string{"--tls"}, 1, "certificate"},
		{[]string{"--timeout", "1s"}, 1, addr},
		{[]string{"--cacert", certFile}, 2, "--cacert and --insecure need --tls"},
		{[]string{"--tls", "--cacert", filepath.Join(dir, "missing.pem")}, 2, "missing.pem"},
		{[]string{"--tls", "--cacert", keyFile}, 2, "no PEM certificate"},
	} {
		code, out, errOut := runCmd(append([]string{"status", "--coordinator", addr}, tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("status %v: exit %d (want %d), stderr %q (want %q)\n%s", tc.args, code, tc.code, errOut, tc.want, out)
		}
	}
}
