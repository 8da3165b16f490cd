package coordinator

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shardcounter/shardcounter/resp"
	"github.com/shardcounter/shardcounter/ring"
)

// ShardAddr names one shard: its stable id and where it listens.
type ShardAddr struct {
	ID   string
	Addr string
}

// ParseShards parses "s1=127.0.0.1:7001,s2=127.0.0.1:7002".
func ParseShards(s string) ([]ShardAddr, error) {
	var out []ShardAddr
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, addr, ok := strings.Cut(part, "=")
		if !ok || id == "" || addr == "" {
			return nil, fmt.Errorf("shard %q: want id=host:port", part)
		}
		out = append(out, ShardAddr{ID: id, Addr: addr})
	}
	if len(out) == 0 {
		return nil, errors.New("no shards given: want id=host:port[,id=host:port...]")
	}
	return out, nil
}

// Config configures a coordinator.
type Config struct {
	// Listen is the RESP address. Default "127.0.0.1:6379".
	Listen string
	// HTTP is the address of the JSON API, /health and /metrics; "" turns
	// HTTP off. Default "127.0.0.1:8080".
	HTTP string
	// Shards lists every shard. Required.
	Shards []ShardAddr
	// Spread is the default number of shards a counter's writes go to
	// (the first Spread shards of its preference list). Default 1, which
	// keeps Redis semantics: INCRBY replies with the exact total.
	Spread int
	// Password, when set, is required from clients through AUTH, and from
	// HTTP clients as a bearer token (except /health).
	Password string
	// ShardPassword is sent to the shards with HELLO ... AUTH.
	ShardPassword string
	// ShardTimeout bounds one round trip to a shard. Default 1s.
	ShardTimeout time.Duration
	// WriteTimeout bounds a write including its retries: a write whose
	// outcome is unknown is retried on the same shard with the same request
	// id until then, and fails with ErrAmbiguous after. Default 3s.
	WriteTimeout time.Duration
	// ProbeInterval is how often each shard is pinged, besides once when
	// its breaker opens; a shard marked down is re-admitted by the first
	// probe it answers. Default 500ms.
	ProbeInterval time.Duration
	// ConnsPerShard is the number of pipelined connections to each shard,
	// rounded up to a power of two; each round goes over one of them, picked
	// at random. Default 1: one connection carries the write and read rounds,
	// pipelined. On a 2-core machine two cost the coordinator more CPU per
	// request than they saved (INCR and GET without pipelining, 50 clients).
	ConnsPerShard int
	// MaxRequestBytes bounds one client request; see resp.LimitListener.
	// Default resp.DefaultMaxRequestBytes.
	MaxRequestBytes int
	// MaxBulkBytes bounds one bulk string (a key or an argument) of a
	// client request; a longer one is refused at its length header. The
	// bound in effect is at most MaxRequestBytes. Default
	// resp.DefaultMaxBulkBytes (1 MiB).
	MaxBulkBytes int
	// MaxClients bounds the RESP client connections open at once; one more
	// gets "ERR max number of clients reached". Default
	// resp.DefaultMaxClients (10000).
	MaxClients int
	// ProtectedMode, while Password is empty, refuses RESP clients and
	// HTTP requests (except /health) from non-loopback addresses with
	// Redis' DENIED explanation. Default true, as in Redis.
	ProtectedMode bool
	// TLSCert and TLSKey, both set, serve RESP and HTTP clients over TLS
	// with this PEM certificate (chain) and key. Default "" (plain TCP).
	TLSCert string
	TLSKey  string
	// MaxHTTPBodyBytes bounds an HTTP request body. Default 64 KiB.
	MaxHTTPBodyBytes int64
	// HTTPReadTimeout bounds reading one HTTP request, headers and body:
	// a client that stalls in the middle is cut off. Default 10s.
	HTTPReadTimeout time.Duration
	// IdleTimeout closes client connections idle for this long; 0 keeps
	// them. Default 0.
	IdleTimeout time.Duration
	// HotThreshold is the write rate, in increments per second, above which
	// a counter is hot: its writes are spread over HotSpread shards, as if
	// it had that spread. Its INCRBY replies are then best known, as for
	// any split counter. 0 turns hot splitting off. Default 0.
	HotThreshold float64
	// HotSpread is the number of shards a hot counter's writes go to.
	// Default 3 (or the number of shards, if fewer).
	HotSpread int
	// Pprof serves net/http/pprof under /debug/pprof/ on the HTTP address
	// (behind the bearer token when Password is set). Default false.
	Pprof bool
	// Ring tunes the consistent-hash ring. Default ring.DefaultConfig().
	Ring ring.Config
	// Logger receives the coordinator's logs. Default slog.Default().
	Logger *slog.Logger
	// Registerer receives the Prometheus metrics; /metrics serves
	// Gatherer. Default: a new registry of the coordinator's own.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
}

// DefaultConfig returns a Config with every default filled in; Shards is
// still to be set.
func DefaultConfig() Config {
	return Config{
		Listen:           "127.0.0.1:6379",
		HTTP:             "127.0.0.1:8080",
		Spread:           1,
		HotSpread:        3,
		ShardTimeout:     time.Second,
		WriteTimeout:     3 * time.Second,
		ProbeInterval:    500 * time.Millisecond,
		ConnsPerShard:    1,
		MaxRequestBytes:  resp.DefaultMaxRequestBytes,
		MaxBulkBytes:     resp.DefaultMaxBulkBytes,
		MaxClients:       resp.DefaultMaxClients,
		ProtectedMode:    true,
		MaxHTTPBodyBytes: 64 << 10,
		HTTPReadTimeout:  10 * time.Second,
		Ring:             ring.DefaultConfig(),
	}
}

// Validate reports the first setting that is missing or out of range.
func (c Config) Validate() error {
	if len(c.Shards) == 0 {
		return errors.New("coordinator: at least one shard is required")
	}
	seenID, seenAddr := map[string]bool{}, map[string]bool{}
	for _, s := range c.Shards {
		if !resp.ValidShardID(s.ID) {
			return fmt.Errorf("coordinator: shard id %q must be 1..64 characters of [A-Za-z0-9_.-]", s.ID)
		}
		if seenID[s.ID] {
			return fmt.Errorf("coordinator: shard id %q appears twice", s.ID)
		}
		if seenAddr[s.Addr] {
			return fmt.Errorf("coordinator: shard address %q appears twice", s.Addr)
		}
		seenID[s.ID], seenAddr[s.Addr] = true, true
	}
	switch {
	case c.Listen == "":
		return errors.New("coordinator: Listen is required")
	case c.HotThreshold < 0:
		return fmt.Errorf("coordinator: HotThreshold %v must not be negative", c.HotThreshold)
	case c.HotSpread < 1:
		return fmt.Errorf("coordinator: HotSpread %d must be at least 1", c.HotSpread)
	case c.Spread < 1 || c.Spread > len(c.Shards):
		return fmt.Errorf("coordinator: Spread %d must be in 1..%d (the number of shards)", c.Spread, len(c.Shards))
	case c.ShardTimeout < time.Millisecond:
		return fmt.Errorf("coordinator: ShardTimeout %s must be at least 1ms", c.ShardTimeout)
	case c.WriteTimeout < c.ShardTimeout:
		return fmt.Errorf("coordinator: WriteTimeout %s must be at least ShardTimeout %s", c.WriteTimeout, c.ShardTimeout)
	case c.ProbeInterval < time.Millisecond:
		return fmt.Errorf("coordinator: ProbeInterval %s must be at least 1ms", c.ProbeInterval)
	case c.ConnsPerShard < 1 || c.ConnsPerShard > 8:
		return fmt.Errorf("coordinator: ConnsPerShard %d must be in 1..8", c.ConnsPerShard)
	case c.MaxRequestBytes < 1024:
		return fmt.Errorf("coordinator: MaxRequestBytes %d must be at least 1024", c.MaxRequestBytes)
	case c.MaxRequestBytes > 1<<30:
		return fmt.Errorf("coordinator: MaxRequestBytes %d must be at most %d (1 GiB)", c.MaxRequestBytes, 1<<30)
	case c.MaxBulkBytes < 1:
		return fmt.Errorf("coordinator: MaxBulkBytes %d must be at least 1", c.MaxBulkBytes)
	case c.MaxClients < 1:
		return fmt.Errorf("coordinator: MaxClients %d must be at least 1", c.MaxClients)
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("coordinator: TLSCert and TLSKey must be given together")
	case c.MaxHTTPBodyBytes < 256:
		return fmt.Errorf("coordinator: MaxHTTPBodyBytes %d must be at least 256", c.MaxHTTPBodyBytes)
	case c.HTTPReadTimeout < time.Millisecond:
		return fmt.Errorf("coordinator: HTTPReadTimeout %s must be at least 1ms", c.HTTPReadTimeout)
	case c.IdleTimeout < 0:
		return fmt.Errorf("coordinator: IdleTimeout %s must not be negative", c.IdleTimeout)
	}
	return c.Ring.Validate()
}
