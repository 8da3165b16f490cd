package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"text/tabwriter"

	"github.com/shardcounter/shardcounter/local"
)

// runLocal runs `shardcounter local` until ctx is done.
func runLocal(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	cfg, err := parseLocalFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg.Logger = log
	c, err := local.New(cfg)
	if err != nil {
		return err
	}
	return serve(ctx, c, log, func() { printCluster(stdout, cfg, c) })
}

// parseLocalFlags parses the flags of `shardcounter local` into a valid
// local.Config. Errors are as for parseFlags.
func parseLocalFlags(args []string, stderr io.Writer) (local.Config, error) {
	cfg := local.DefaultConfig()
	fs := newFlagSet("local", "[flags]",
		"Runs a whole cluster in this process: N shards (ids s1..sN, data in DATA/s1..sN,\n"+
			"ephemeral loopback ports) and a coordinator in front of them.", stderr)
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "coordinator's RESP `address`")
	fs.StringVar(&cfg.HTTP, "http", cfg.HTTP, "coordinator's HTTP `address`; empty turns HTTP off")
	fs.IntVar(&cfg.Shards, "shards", cfg.Shards, "`number` of shards")
	fs.StringVar(&cfg.DataDir, "data", cfg.DataDir, "data `directory`, one subdirectory per shard")
	fs.BoolVar(&cfg.Sync, "sync", cfg.Sync, "fsync every shard's WAL before replying")
	passwordVar(fs, &cfg.Password, "requirepass", envRequirePass, "require this `password` from clients (and on the shards)")
	fs.Var(yesNo{&cfg.ProtectedMode}, "protected-mode", "refuse clients from non-loopback addresses unless --requirepass is set (`yes|no`)")
	fs.Float64Var(&cfg.HotThreshold, "hot-threshold", cfg.HotThreshold, "split a counter written faster than this many `increments/s` over --hot-spread shards (0: never)")
	fs.IntVar(&cfg.HotSpread, "hot-spread", 3, "`number` of shards a hot counter's writes go to")
	fs.BoolVar(&cfg.Pprof, "pprof", false, "serve Go profiles under /debug/pprof/ on the HTTP address")
	fs.IntVar(&cfg.Spread, "spread", cfg.Spread, "`number` of shards a counter's writes go to")
	if err := parseFlags(fs, args); err != nil {
		return local.Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return local.Config{}, badUsage(fs, err)
	}
	return cfg, nil
}

// printCluster prints where each part of c listens.
func printCluster(w io.Writer, cfg local.Config, c *local.Cluster) {
	fmt.Fprintf(w, "shardcounter local: %d shards, data in %s\n", cfg.Shards, cfg.DataDir)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if a, ok := c.Addr().(*net.TCPAddr); ok {
		fmt.Fprintf(tw, "  RESP\t%s\tredis-cli -h %s -p %d\n", a, a.IP, a.Port)
	}
	if a := c.HTTPAddr(); a != nil {
		fmt.Fprintf(tw, "  HTTP\thttp://%s\tdashboard at /, POST /sharded, GET /health, GET /metrics\n", a)
	}
	for _, s := range c.Shards() {
		fmt.Fprintf(tw, "  shard %s\t%s\n", s.ID, s.Addr)
	}
	tw.Flush()
	fmt.Fprintln(w, "Press Ctrl-C to stop.")
}
