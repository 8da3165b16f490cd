package local

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startCluster starts a 3-shard cluster with its data in dir, on free
// loopback ports.
func startCluster(t *testing.T, dir string) *Cluster {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Listen, cfg.HTTP, cfg.DataDir = "127.0.0.1:0", "127.0.0.1:0", dir
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		c.Shutdown(context.Background())
		t.Fatal(err)
	}
	return c
}

func shutdown(t *testing.T, c *Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestClusterRestartKeepsCounters(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()

	c := startCluster(t, dir)
	if c.HTTPAddr() == nil {
		t.Error("HTTPAddr is nil")
	}
	shards := c.Shards()
	if len(shards) != 3 {
		t.Fatalf("%d shards, want 3", len(shards))
	}
	for i, s := range shards {
		if want := shardID(i + 1); s.ID != want || s.Addr == "" {
			t.Errorf("shard %d is %q at %q, want id %q and an address", i, s.ID, s.Addr, want)
		}
	}
	rdb := redis.NewClient(&redis.Options{Addr: c.Addr().String()})
	keys := []string{"likes", "views", "shares", "clicks", "downloads", "stars"}
	for i, k := range keys {
		if v, err := rdb.IncrBy(ctx, k, int64(i+1)).Result(); err != nil || v != int64(i+1) {
			t.Fatalf("INCRBY %s: %d, %v", k, v, err)
		}
	}
	if v, err := rdb.IncrBy(ctx, "likes", 41).Result(); err != nil || v != 42 {
		t.Fatalf("second INCRBY likes: %d, %v", v, err)
	}
	rdb.Close()
	shutdown(t, c)

	c = startCluster(t, dir)
	defer shutdown(t, c)
	rdb = redis.NewClient(&redis.Options{Addr: c.Addr().String()})
	defer rdb.Close()
	for i, k := range keys {
		want := int64(i + 1)
		if k == "likes" {
			want = 42
		}
		if v, err := rdb.Get(ctx, k).Int64(); err != nil || v != want {
			t.Errorf("GET %s after restart: %d, %v; want %d", k, v, err, want)
		}
	}
}

func TestNewRefusesMissingShard(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "s4"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.DataDir = dir
	if c, err := New(cfg); err == nil {
		c.Shutdown(context.Background())
		t.Fatal("New accepted a data dir holding s4 with 3 shards")
	}
}

func TestValidate(t *testing.T) {
	for _, mutate := range []func(*Config){
		func(c *Config) { c.Listen = "" },
		func(c *Config) { c.Shards = 0 },
		func(c *Config) { c.Shards = MaxShards + 1 },
		func(c *Config) { c.DataDir = "" },
	} {
		cfg := DefaultConfig()
		mutate(&cfg)
		if err := cfg.Validate(); err == nil {
			t.Errorf("%+v passed Validate", cfg)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig: %v", err)
	}
}
