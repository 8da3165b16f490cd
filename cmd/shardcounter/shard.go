package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/shardcounter/shardcounter/shard"
)

// runShard runs `shardcounter shard` until ctx is done.
func runShard(ctx context.Context, args []string, stderr io.Writer, log *slog.Logger) error {
	cfg, err := parseShardFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg.Logger = log
	srv, err := shard.New(cfg)
	if err != nil {
		return err
	}
	return serve(ctx, srv, log, nil)
}

// parseShardFlags parses the flags of `shardcounter shard` into a valid
// shard.Config. Errors are as for parseFlags.
func parseShardFlags(args []string, stderr io.Writer) (shard.Config, error) {
	cfg := shard.DefaultConfig()
	fs := newFlagSet("shard", "--id ID [flags]",
		"Runs one shard: a RESP server that keeps its part of every counter in RocksDB.", stderr)
	fs.StringVar(&cfg.ID, "id", "", "stable shard `id`, recorded in the data directory (required)")
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "RESP `address`")
	fs.StringVar(&cfg.DataDir, "data", "", "RocksDB `directory` (default ./data/<id>)")
	fs.BoolVar(&cfg.Sync, "sync", cfg.Sync, "fsync the WAL before every reply")
	passwordVar(fs, &cfg.Password, "requirepass", envRequirePass, "require this `password` through AUTH or HELLO")
	fs.IntVar(&cfg.CacheEntries, "cache-entries", cfg.CacheEntries, "size of the cache of hot partials, in `counters` (about 150 bytes each once full)")
	fs.IntVar(&cfg.MaxRequestBytes, "max-request-bytes", cfg.MaxRequestBytes, "largest request accepted, in bytes")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", cfg.IdleTimeout, "close connections idle this long (0: never)")
	fs.IntVar(&cfg.MaxBulkBytes, "max-bulk-bytes", cfg.MaxBulkBytes, "longest bulk string (key or argument) accepted, in bytes")
	fs.IntVar(&cfg.MaxClients, "maxclients", cfg.MaxClients, "most connections open at once")
	fs.Var(yesNo{&cfg.ProtectedMode}, "protected-mode", "refuse clients from non-loopback addresses unless --requirepass is set (`yes|no`)")
	if err := parseFlags(fs, args); err != nil {
		return shard.Config{}, err
	}
	if cfg.ID == "" {
		return shard.Config{}, badUsage(fs, errors.New("--id is required"))
	}
	if cfg.DataDir == "" {
		cfg.DataDir = filepath.Join("data", cfg.ID)
	}
	if err := cfg.Validate(); err != nil {
		return shard.Config{}, badUsage(fs, err)
	}
	return cfg, nil
}
