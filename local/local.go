// Package local runs a whole shardcounter cluster in one process: N shards
// and one coordinator, all on loopback. It backs `shardcounter local` and
// lets tests run a real multi-shard cluster without starting processes.
//
// The shards are named s1..sN and keep their data in DataDir/s1..sN. The ids
// are stable, so a cluster started again on the same DataDir finds every
// counter. The shards listen on ephemeral loopback ports; the coordinator is
// told their real addresses when the cluster starts.
package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/shardcounter/shardcounter/coordinator"
	"github.com/shardcounter/shardcounter/shard"
)

// MaxShards bounds Config.Shards.
const MaxShards = 64

// Config configures a local cluster.
type Config struct {
	// Listen is the coordinator's RESP address. Default "127.0.0.1:6379".
	Listen string
	// HTTP is the coordinator's HTTP address (JSON API, /health,
	// /metrics); "" turns HTTP off. Default "127.0.0.1:8080".
	HTTP string
	// Shards is the number of shards, 1..MaxShards. Default 3.
	Shards int
	// DataDir holds one directory per shard: DataDir/s1..sN. Default
	// "./data".
	DataDir string
	// Sync fsyncs every shard's WAL before replying. Default false.
	Sync bool
	// Password, when set, is required from clients of the coordinator, and
	// also protects the shards (the coordinator authenticates with it).
	// Default "" (no authentication).
	Password string
	// Spread is the number of shards a counter's writes go to; see
	// coordinator.Config.Spread. Default 1 (0 means 1).
	Spread int
	// ProtectedMode: see coordinator.Config. Default true.
	ProtectedMode bool
	// HotThreshold and HotSpread: see coordinator.Config. Default 0 (off)
	// and 3.
	HotThreshold float64
	HotSpread    int
	// Pprof serves net/http/pprof on the coordinator's HTTP address.
	// Default false.
	Pprof bool
	// Logger receives the logs of every part. Default slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns a Config with every default filled in.
func DefaultConfig() Config {
	return Config{
		Listen:        "127.0.0.1:6379",
		HTTP:          "127.0.0.1:8080",
		Shards:        3,
		DataDir:       "./data",
		Spread:        1,
		ProtectedMode: true,
	}
}

// Validate reports the first setting that is missing or out of range.
func (c Config) Validate() error {
	switch {
	case c.Listen == "":
		return errors.New("local: Listen is required")
	case c.Shards < 1 || c.Shards > MaxShards:
		return fmt.Errorf("local: Shards %d must be in 1..%d", c.Shards, MaxShards)
	case c.DataDir == "":
		return errors.New("local: DataDir is required")
	case c.Spread < 0 || c.Spread > c.Shards:
		return fmt.Errorf("local: Spread %d must be in 0..%d (the number of shards; 0 means 1)", c.Spread, c.Shards)
	}
	return nil
}

// Cluster is a local cluster: its shards are open from New on, and serve,
// with the coordinator in front of them, from Start until Shutdown. New,
// Start and Shutdown are called one after the other, not concurrently.
type Cluster struct {
	cfg    Config
	log    *slog.Logger
	shards []*shard.Server
	coord  *coordinator.Server // set by Start
}

// New opens every shard's database. It refuses a DataDir that holds a shard
// beyond Config.Shards: that shard's partials would be missing from every
// total. Call Start to serve, and Shutdown to close the databases.
func New(cfg Config) (*Cluster, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := checkNoExtraShards(cfg.DataDir, cfg.Shards); err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg, log: log}
	for i := 1; i <= cfg.Shards; i++ {
		scfg := shard.DefaultConfig()
		scfg.ID = shardID(i)
		scfg.Listen = "127.0.0.1:0"
		scfg.DataDir = filepath.Join(cfg.DataDir, scfg.ID)
		scfg.Sync = cfg.Sync
		scfg.Password = cfg.Password
		scfg.Logger = log
		s, err := shard.New(scfg)
		if err != nil {
			c.closeShards()
			return nil, fmt.Errorf("local: shard %s: %w", scfg.ID, err)
		}
		c.shards = append(c.shards, s)
	}
	return c, nil
}

func shardID(i int) string { return "s" + strconv.Itoa(i) }

// checkNoExtraShards returns an error if dir holds a shard directory s<k>
// with k > n.
func checkNoExtraShards(dir string, n int) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("local: read data dir: %w", err)
	}
	for _, e := range entries {
		num, ok := strings.CutPrefix(e.Name(), "s")
		k, err := strconv.Atoi(num)
		if !ok || err != nil || e.Name() != shardID(k) || !e.IsDir() || k <= n {
			continue
		}
		return fmt.Errorf("local: %s holds shard %s but Shards is %d: start with at least %d shards, or its counters' partials would be missing",
			dir, e.Name(), n, k)
	}
	return nil
}

// closeShards shuts down shards that never served; it only closes their
// databases, which does not wait on anything.
func (c *Cluster) closeShards() {
	for _, s := range c.shards {
		if err := s.Shutdown(context.Background()); err != nil {
			c.log.Error("closing shard", "shard", s.ID(), "err", err)
		}
	}
}

// Start starts the shards, then the coordinator in front of them. If it
// fails, call Shutdown to release what was opened.
func (c *Cluster) Start() error {
	if c.coord != nil {
		return errors.New("local: cluster already started")
	}
	for _, s := range c.shards {
		if err := s.Start(); err != nil {
			return fmt.Errorf("local: %w", err)
		}
	}
	ccfg := coordinator.DefaultConfig()
	ccfg.Listen = c.cfg.Listen
	ccfg.HTTP = c.cfg.HTTP
	ccfg.Shards = c.Shards()
	ccfg.Password = c.cfg.Password
	ccfg.ShardPassword = c.cfg.Password
	ccfg.Logger = c.log
	ccfg.Pprof = c.cfg.Pprof
	ccfg.ProtectedMode = c.cfg.ProtectedMode
	ccfg.HotThreshold = c.cfg.HotThreshold
	if c.cfg.HotSpread > 0 {
		ccfg.HotSpread = c.cfg.HotSpread
	}
	if c.cfg.Spread > 0 {
		ccfg.Spread = c.cfg.Spread
	}
	coord, err := coordinator.New(ccfg)
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	c.coord = coord
	if err := coord.Start(); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	c.log.Info("local cluster serving", "shards", len(c.shards), "data", c.cfg.DataDir)
	return nil
}

// Addr is the coordinator's RESP address, or nil before Start.
func (c *Cluster) Addr() net.Addr {
	if c.coord == nil {
		return nil
	}
	return c.coord.Addr()
}

// HTTPAddr is the coordinator's HTTP address, or nil before Start or when
// HTTP is off.
func (c *Cluster) HTTPAddr() net.Addr {
	if c.coord == nil {
		return nil
	}
	return c.coord.HTTPAddr()
}

// Shards lists every shard's id and address, in id order. The addresses
// are empty before Start.
func (c *Cluster) Shards() []coordinator.ShardAddr {
	out := make([]coordinator.ShardAddr, len(c.shards))
	for i, s := range c.shards {
		out[i].ID = s.ID()
		if a := s.Addr(); a != nil {
			out[i].Addr = a.String()
		}
	}
	return out
}

// Shutdown stops the coordinator first, so that no write is in flight, then
// every shard. It returns every error it met, or ctx's error when the
// deadline passes first.
func (c *Cluster) Shutdown(ctx context.Context) error {
	var errs []error
	if c.coord != nil {
		if err := c.coord.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("local: %w", err))
		}
	}
	for _, s := range c.shards {
		if err := s.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("local: %w", err))
		}
	}
	return errors.Join(errs...)
}
