package shard

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/shardcounter/shardcounter/resp"
)

// Config configures one shard.
type Config struct {
	// ID is the shard's stable id, stored in its data directory on first
	// start and checked on every later one. Required.
	ID string
	// Listen is the RESP address. Default "127.0.0.1:7001".
	Listen string
	// DataDir is the RocksDB directory. Required.
	DataDir string
	// Sync fsyncs the WAL before replying. Default false: the WAL is
	// written (to the OS) before the reply, which survives a process crash
	// but not a power loss.
	Sync bool
	// Password, when set, is required through AUTH or HELLO ... AUTH.
	Password string
	// CacheEntries sizes the cache of hot partials: CacheEntries × 64 bytes
	// of ring buffers, allocated at start, plus an index that grows as they
	// fill; about 150 bytes a counter in all. Default 262144: about 40 MiB
	// once full, holding some 350,000 partials with short names.
	CacheEntries int
	// BlockCacheBytes is RocksDB's block cache, in bytes. Default 64 MiB.
	BlockCacheBytes uint64
	// MaxBatch bounds the ops in one WriteBatch. Default 4096.
	MaxBatch int
	// DedupWindow is how long applied request ids are kept. A coordinator
	// retry older than this is refused with ErrRequestExpired. Default 10m.
	DedupWindow time.Duration
	// MaxRequestBytes bounds one request; see resp.LimitListener.
	// Default resp.DefaultMaxRequestBytes.
	MaxRequestBytes int
	// MaxBulkBytes bounds one bulk string of a request; a longer one is
	// refused at its length header. The bound in effect is at most
	// MaxRequestBytes. Default resp.DefaultMaxBulkBytes (1 MiB).
	MaxBulkBytes int
	// MaxClients bounds the connections open at once; one more gets
	// "ERR max number of clients reached". Default resp.DefaultMaxClients.
	MaxClients int
	// ProtectedMode, while Password is empty, refuses clients from
	// non-loopback addresses with Redis' DENIED explanation: give shards
	// on other hosts a password (coordinators send it with --shard-pass).
	// Default true, as in Redis.
	ProtectedMode bool
	// IdleTimeout closes connections idle for this long; 0 keeps them.
	// Default 0.
	IdleTimeout time.Duration
	// DrainGrace is how long a shard that is shutting down keeps its
	// connections open, refusing new writes with TRYAGAIN, so coordinators
	// route around it before the connections close. Default 200ms.
	DrainGrace time.Duration
	// Logger receives the shard's logs. Default slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns a Config with every default filled in; ID and
// DataDir are still to be set.
func DefaultConfig() Config {
	return Config{
		Listen:          "127.0.0.1:7001",
		CacheEntries:    262144,
		BlockCacheBytes: 64 << 20,
		MaxBatch:        4096,
		DedupWindow:     10 * time.Minute,
		MaxRequestBytes: resp.DefaultMaxRequestBytes,
		MaxBulkBytes:    resp.DefaultMaxBulkBytes,
		MaxClients:      resp.DefaultMaxClients,
		ProtectedMode:   true,
		DrainGrace:      200 * time.Millisecond,
	}
}

// Validate reports the first setting that is missing or out of range.
func (c Config) Validate() error {
	switch {
	case c.ID == "":
		return errors.New("shard: ID is required")
	case !resp.ValidShardID(c.ID):
		return fmt.Errorf("shard: ID %q must be 1..64 characters of [A-Za-z0-9_.-]", c.ID)
	case c.DataDir == "":
		return errors.New("shard: DataDir is required")
	case c.Listen == "":
		return errors.New("shard: Listen is required")
	case c.CacheEntries < 1 || c.CacheEntries > maxCacheEntries:
		return fmt.Errorf("shard: CacheEntries %d must be in 1..%d", c.CacheEntries, maxCacheEntries)
	case c.MaxBatch < 1 || c.MaxBatch > 1<<16:
		return fmt.Errorf("shard: MaxBatch %d must be in 1..%d", c.MaxBatch, 1<<16)
	case c.DedupWindow < time.Second:
		return fmt.Errorf("shard: DedupWindow %s must be at least 1s", c.DedupWindow)
	case c.MaxRequestBytes < 1024:
		return fmt.Errorf("shard: MaxRequestBytes %d must be at least 1024", c.MaxRequestBytes)
	case c.MaxRequestBytes > 1<<30:
		return fmt.Errorf("shard: MaxRequestBytes %d must be at most %d (1 GiB)", c.MaxRequestBytes, 1<<30)
	case c.MaxBulkBytes < 1:
		return fmt.Errorf("shard: MaxBulkBytes %d must be at least 1", c.MaxBulkBytes)
	case c.MaxClients < 1:
		return fmt.Errorf("shard: MaxClients %d must be at least 1", c.MaxClients)
	case c.IdleTimeout < 0:
		return fmt.Errorf("shard: IdleTimeout %s must not be negative", c.IdleTimeout)
	case c.DrainGrace < 0 || c.DrainGrace > time.Minute:
		return fmt.Errorf("shard: DrainGrace %s must be in 0..1m", c.DrainGrace)
	}
	return nil
}
