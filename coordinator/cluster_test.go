package coordinator

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardcounter/shardcounter/shard"
)

// testCluster is an in-process cluster: shards and one coordinator on free
// loopback ports.
type testCluster struct {
	t      *testing.T
	dir    string
	shards []*shard.Server
	addrs  []ShardAddr
	coord  *Server
	client *redis.Client
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startShardAt(t *testing.T, id, dir, listen string) *shard.Server {
	t.Helper()
	cfg := shard.DefaultConfig()
	cfg.ID, cfg.DataDir, cfg.Listen, cfg.Logger = id, filepath.Join(dir, id), listen, quietLogger()
	s, err := shard.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	return s
}

func newTestCluster(t *testing.T, n int, mutate ...func(*Config)) *testCluster {
	t.Helper()
	tc := &testCluster{t: t, dir: t.TempDir()}
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("s%d", i)
		s := startShardAt(t, id, tc.dir, "127.0.0.1:0")
		tc.shards = append(tc.shards, s)
		tc.addrs = append(tc.addrs, ShardAddr{ID: id, Addr: s.Addr().String()})
	}
	cfg := DefaultConfig()
	cfg.Listen, cfg.HTTP, cfg.Shards, cfg.Logger = "127.0.0.1:0", "127.0.0.1:0", tc.addrs, quietLogger()
	cfg.ProbeInterval = 50 * time.Millisecond
	cfg.ShardTimeout = 500 * time.Millisecond
	cfg.WriteTimeout = time.Second
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	tc.coord = c
	tc.client = redis.NewClient(&redis.Options{Addr: c.Addr().String()})
	t.Cleanup(func() {
		tc.client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Shutdown(ctx); err != nil {
			t.Errorf("coordinator shutdown: %v", err)
		}
		for _, s := range tc.shards {
			s.Shutdown(ctx)
		}
	})
	return tc
}

// stopShard shuts shard i down; restartShard brings it back on its address.
func (tc *testCluster) stopShard(i int) {
	if err := tc.shards[i].Shutdown(context.Background()); err != nil {
		tc.t.Fatal(err)
	}
}

func (tc *testCluster) restartShard(i int) {
	tc.shards[i] = startShardAt(tc.t, tc.addrs[i].ID, tc.dir, tc.addrs[i].Addr)
}

// waitUp waits until the coordinator sees every shard up (or down).
func (tc *testCluster) waitShard(i int, up bool) {
	tc.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for tc.coord.shards[i].up.Load() != up {
		if time.Now().After(deadline) {
			tc.t.Fatalf("shard %d never became up=%v", i, up)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
