package main

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/shardcounter/shardcounter/coordinator"
)

// runCoordinator runs `shardcounter coordinator` until ctx is done.
func runCoordinator(ctx context.Context, args []string, stderr io.Writer, log *slog.Logger) error {
	cfg, err := parseCoordinatorFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg.Logger = log
	srv, err := coordinator.New(cfg)
	if err != nil {
		return err
	}
	return serve(ctx, srv, log, nil)
}

// parseCoordinatorFlags parses the flags of `shardcounter coordinator` into
// a valid coordinator.Config. Errors are as for parseFlags.
func parseCoordinatorFlags(args []string, stderr io.Writer) (coordinator.Config, error) {
	cfg := coordinator.DefaultConfig()
	var shards string
	fs := newFlagSet("coordinator", "--shards ID=ADDR,... [flags]",
		"Runs a coordinator: the RESP and HTTP front end that routes increments to the\nshards and sums their partials.", stderr)
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "RESP `address`")
	fs.StringVar(&cfg.HTTP, "http", cfg.HTTP, "HTTP `address` (JSON API, /health, /metrics); empty turns HTTP off")
	fs.StringVar(&shards, "shards", "", "every shard, as comma-separated `id=host:port` pairs (required)")
	fs.IntVar(&cfg.Spread, "spread", cfg.Spread, "`number` of shards a counter's writes go to")
	passwordVar(fs, &cfg.Password, "requirepass", envRequirePass, "require this `password` from clients (AUTH, HTTP bearer token)")
	passwordVar(fs, &cfg.ShardPassword, "shard-pass", envShardPass, "`password` sent to the shards")
	fs.DurationVar(&cfg.ShardTimeout, "shard-timeout", cfg.ShardTimeout, "bound on one round trip to a shard")
	fs.DurationVar(&cfg.WriteTimeout, "write-timeout", cfg.WriteTimeout, "bound on a write including its retries")
	fs.IntVar(&cfg.MaxRequestBytes, "max-request-bytes", cfg.MaxRequestBytes, "largest client request accepted, in bytes")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", cfg.IdleTimeout, "close client connections idle this long (0: never)")
	fs.IntVar(&cfg.MaxBulkBytes, "max-bulk-bytes", cfg.MaxBulkBytes, "longest bulk string (key or argument) accepted, in bytes")
	fs.IntVar(&cfg.MaxClients, "maxclients", cfg.MaxClients, "most client connections open at once")
	fs.Var(yesNo{&cfg.ProtectedMode}, "protected-mode", "refuse clients from non-loopback addresses unless --requirepass is set (`yes|no`)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "serve RESP and HTTP over TLS with this PEM certificate `file` (with --tls-key)")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key `file` of --tls-cert")
	fs.Float64Var(&cfg.HotThreshold, "hot-threshold", cfg.HotThreshold, "split a counter written faster than this many `increments/s` over --hot-spread shards (0: never)")
	fs.IntVar(&cfg.HotSpread, "hot-spread", cfg.HotSpread, "`number` of shards a hot counter's writes go to")
	fs.BoolVar(&cfg.Pprof, "pprof", false, "serve Go profiles under /debug/pprof/ on the HTTP address")
	if err := parseFlags(fs, args); err != nil {
		return coordinator.Config{}, err
	}
	if shards == "" {
		return coordinator.Config{}, badUsage(fs, errors.New("--shards is required"))
	}
	var err error
	if cfg.Shards, err = coordinator.ParseShards(shards); err != nil {
		return coordinator.Config{}, badUsage(fs, err)
	}
	if err := cfg.Validate(); err != nil {
		return coordinator.Config{}, badUsage(fs, err)
	}
	return cfg, nil
}
