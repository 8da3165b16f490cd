package coordinator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"

	"github.com/shardcounter/shardcounter/resp"
)

// shardConn is the coordinator's link to one shard: pipelined rueidis
// connections, and a circuit breaker that is open while the shard is down.
//
// The breaker opens on a connection error or a timeout, so that writes go to
// the next shard for their keys at once, and closes when a probe (SC.PING,
// which also checks the shard id) succeeds and the shard's data directory is
// the one the cluster knows (see members.go).
type shardConn struct {
	idx     int
	id      string
	addr    string
	client  rueidis.Client
	timeout time.Duration

	errs prometheus.Counter // failed round trips

	up atomic.Bool
	// wake asks the shard's probe loop to probe now: the breaker just
	// opened. A connection the shard closed (CLIENT KILL, an idle timeout)
	// is dialled afresh at once, and the shard is back within a round trip
	// rather than at the next ProbeInterval tick.
	wake    chan struct{}
	mu      sync.Mutex
	lastErr string    // why it is down
	since   time.Time // when it went up or down
	latency atomic.Int64

	// wireName is how commands name the shard: id@incarnation once
	// admitted (resp.ShardName), so that a shard whose data directory is
	// replaced refuses them. Before that, nil: the bare id.
	wireName atomic.Pointer[string]
	// incarnation is that of the data directory admitted, "" before;
	// admitted is false until then and while the shard answers from
	// another directory; refusal says why checkMembers refused it. Under mu.
	incarnation string
	admitted    bool
	refusal     error

	// cmdBytes bounds what one command or lane round sends to the shard
	// (SC.GET and SC.DEL keys, SC.MINCR items): a quarter of the request
	// limit, which shards are meant to share with the coordinator. A shard
	// refuses a request over its limit, and disconnects; keys that one
	// client may send in one request, or that a round gathers from many
	// clients, could take one command past it, and a round, the reads
	// sent with it and the probes must all stay under it.
	cmdBytes int
}

func newShardConn(idx int, sa ShardAddr, cfg Config) (*shardConn, error) {
	multiplex := 0
	for 1<<multiplex < cfg.ConnsPerShard {
		multiplex++
	}
	if multiplex == 0 {
		multiplex = -1 // rueidis takes 0 as "as many as GOMAXPROCS suggests"; -1 is one
	}
	// ForceSingleClient returns a client even when the first dial fails:
	// a shard may be down while the coordinator starts.
	c, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:       []string{sa.Addr},
		ForceSingleClient: true,
		DisableCache:      true,
		DisableRetry:      true,
		Password:          cfg.ShardPassword,
		ClientName:        "shardcounter-coordinator",
		Dialer:            net.Dialer{Timeout: cfg.ShardTimeout},
		ConnWriteTimeout:  cfg.ShardTimeout,
		PipelineMultiplex: multiplex,
		// Keep rueidis' background reader running even when idle, so a
		// connection the shard closed is noticed at once and the next
		// write dials afresh (a refused dial proves "not sent") instead of
		// being written into a dead socket (which looks "maybe applied").
		AlwaysPipelining: true,
	})
	if c == nil {
		return nil, fmt.Errorf("shard %s at %s: %w", sa.ID, sa.Addr, err)
	}
	sc := &shardConn{idx: idx, id: sa.ID, addr: sa.Addr, client: c, timeout: cfg.ShardTimeout, since: time.Now(), wake: make(chan struct{}, 1),
		cmdBytes: cfg.MaxRequestBytes / 4}
	// Down until the first probe admits it (Server.probe).
	sc.lastErr = errNotChecked.Error()
	if err != nil {
		sc.lastErr = err.Error()
	}
	return sc, nil
}

// markDown opens the breaker.
func (sc *shardConn) markDown(err error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.lastErr = err.Error()
	if sc.up.Swap(false) {
		sc.since = time.Now()
		select {
		case sc.wake <- struct{}{}:
		default: // a probe is due already
		}
	}
}

// markUp closes the breaker, unless the shard is not admitted (see
// members.go): a check may have refused it since its probe was answered.
// It reports whether the breaker was open.
func (sc *shardConn) markUp() (closed bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if !sc.admitted {
		return false
	}
	sc.lastErr = ""
	if !sc.up.Swap(true) {
		sc.since = time.Now()
		return true
	}
	return false
}

// unavailable is the error for a request that needs this shard while it is
// down.
func (sc *shardConn) unavailable() error {
	sc.mu.Lock()
	why := sc.lastErr
	sc.mu.Unlock()
	if why == "" {
		why = "down"
	}
	return fmt.Errorf("%w: shard %s (%s) is unavailable: %s", resp.ErrShardUnavailable, sc.id, sc.addr, why)
}

// cmd builds a rueidis command from wire args. rueidis sends a command
// without a key slot over its first connection only; any slot but 0 lets
// it pick one of the ConnsPerShard connections at random ("sc" is slot
// 463; the slot means nothing else to a single shard).
func (sc *shardConn) cmd(args []string) rueidis.Completed {
	return sc.client.B().Arbitrary(args...).Build().SetSlot("sc")
}

// do sends one command with the shard timeout. A transport failure opens
// the breaker and is returned wrapped in ErrShardUnavailable. When ctx
// ends first (the HTTP client behind it went away), the error is returned
// without opening the breaker: the caller gave up, not the shard.
func (sc *shardConn) do(ctx context.Context, args []string) (rueidis.RedisMessage, error) {
	if !sc.up.Load() {
		return rueidis.RedisMessage{}, notSentError{sc.unavailable()}
	}
	tctx, cancel := context.WithTimeout(ctx, sc.timeout)
	defer cancel()
	start := time.Now()
	msg, err := sc.client.Do(tctx, sc.cmd(args)).ToMessage()
	if err == nil {
		sc.latency.Store(int64(time.Since(start)))
		return msg, nil
	}
	if _, reply := rueidis.IsRedisErr(err); !reply && ctx.Err() != nil {
		return msg, fmt.Errorf("%w: shard %s (%s): %w", resp.ErrShardUnavailable, sc.id, sc.addr, context.Cause(ctx))
	}
	return msg, sc.classify(err)
}

// classify turns a rueidis error into the shard's error: a Redis error reply
// becomes its sentinel (see resp.FromReply); anything else is a transport
// failure that opens the breaker.
func (sc *shardConn) classify(err error) error {
	sc.errs.Inc()
	if rerr, ok := rueidis.IsRedisErr(err); ok {
		e := fromShardReply(rerr)
		if errors.Is(e, resp.ErrWrongShard) || errors.Is(e, resp.ErrShardReplaced) || errors.Is(e, resp.ErrShuttingDown) {
			sc.markDown(e)
		}
		return e
	}
	sc.markDown(err)
	return fmt.Errorf("%w: shard %s (%s): %w", resp.ErrShardUnavailable, sc.id, sc.addr, err)
}

// fromShardReply turns a shard's error reply back into its sentinel (see
// resp.FromReply). rueidis strips a leading "ERR " from error replies, so it
// is put back when the message does not start with an upper-case error code:
// the shard's ERR texts ("increment or decrement would overflow", ...) all
// start in lower case.
func fromShardReply(rerr *rueidis.RedisError) error {
	msg := rerr.Error()
	code, _, _ := strings.Cut(msg, " ")
	upper := code != ""
	for _, c := range []byte(code) {
		if c < 'A' || c > 'Z' {
			upper = false
			break
		}
	}
	if !upper {
		msg = "ERR " + msg
	}
	return resp.FromReply(msg)
}

// notSent reports whether err proves that a command never reached the
// shard, so that a write may go elsewhere.
func notSent(err error) bool {
	var op *net.OpError
	var ns notSentError
	if (errors.As(err, &op) && op.Op == "dial") || errors.As(err, &ns) {
		return true
	}
	return errors.Is(err, resp.ErrShuttingDown) || errors.Is(err, resp.ErrStorage) ||
		errors.Is(err, resp.ErrWrongShard) || errors.Is(err, resp.ErrShardReplaced) || errors.Is(err, rueidis.ErrClosing)
}

// notSentError is the error of a command that was never sent: its shard's
// breaker was open.
type notSentError struct{ error }

func (e notSentError) Unwrap() error { return e.error }

// name is how commands name the shard (see wireName).
func (sc *shardConn) name() string {
	if n := sc.wireName.Load(); n != nil {
		return *n
	}
	return sc.id
}

// errGaveUp is ping's error when its caller's context ended first: nothing
// was learnt about the shard.
var errGaveUp = errors.New("probe abandoned")

// ping sends SC.PING, which the shard answers once its writer has written
// (shard.Server.scPing), and returns nil, why the shard is down, or
// errGaveUp.
func (sc *shardConn) ping(ctx context.Context) error {
	tctx, cancel := context.WithTimeout(ctx, sc.timeout)
	defer cancel()
	start := time.Now()
	err := sc.client.Do(tctx, sc.cmd(resp.ShardCmd{Name: resp.CmdPing, Shard: sc.name()}.Args())).Error()
	if err == nil {
		sc.latency.Store(int64(time.Since(start)))
		return nil
	}
	if ctx.Err() != nil {
		return errGaveUp
	}
	sc.errs.Inc()
	if rerr, ok := rueidis.IsRedisErr(err); ok {
		return fromShardReply(rerr)
	}
	return err
}

// status is a snapshot for /health, INFO and status output.
type shardStatus struct {
	ID      string
	Addr    string
	Up      bool
	Err     string
	Since   time.Time
	Latency time.Duration
}

func (sc *shardConn) status() shardStatus {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return shardStatus{ID: sc.id, Addr: sc.addr, Up: sc.up.Load(), Err: sc.lastErr, Since: sc.since,
		Latency: time.Duration(sc.latency.Load())}
}

// badReply is the error for a reply that does not have the expected shape.
func (sc *shardConn) badReply(what string, err error) error {
	return fmt.Errorf("shard %s (%s): malformed %s reply: %v", sc.id, sc.addr, what, err)
}

// keyChunks splits keys into runs of at most limit bytes on the wire (see
// keyBytes), at least one key each (one key is never split, so a run may
// pass limit by one key of at most the bulk limit).
func keyChunks(keys [][]byte, limit int) [][][]byte { return chunks(keys, keyBytes, limit) }

// chunks splits items into runs whose sizes add up to at most limit, each
// holding at least one item.
func chunks[T any](items []T, size func(T) int, limit int) [][]T {
	var out [][]T
	start, n := 0, 0
	for i, it := range items {
		if i > start && n+size(it) > limit {
			out = append(out, items[start:i])
			start, n = i, 0
		}
		n += size(it)
	}
	return append(out, items[start:])
}

// partials sends SC.GET for keys and returns the shard's partial (its
// count) of each, with found[i] false where the shard holds none.
func (sc *shardConn) partials(ctx context.Context, keys [][]byte) (vals []int64, found []bool, err error) {
	vals, _, found, err = sc.readPartials(ctx, keys)
	return vals, found, err
}

// readPartials is partials with, for the counters this shard owns, what
// their partials cover of the other shards' (see router.fold): covered[i]
// is key i's, and covered is nil when no key covers any.
func (sc *shardConn) readPartials(ctx context.Context, keys [][]byte) (vals, covered []int64, found []bool, err error) {
	vals, found = make([]int64, len(keys)), make([]bool, len(keys))
	off := 0
	for _, chunk := range keyChunks(keys, sc.cmdBytes) {
		if err := sc.partialsOf(ctx, chunk, off, vals, &covered, found); err != nil {
			return nil, nil, nil, err
		}
		off += len(chunk)
	}
	return vals, covered, found, nil
}

// partialsOf sends one SC.GET for keys, which are those from off on of
// the whole read, and fills in their vals, found and covered.
func (sc *shardConn) partialsOf(ctx context.Context, keys [][]byte, off int, vals []int64, covered *[]int64, found []bool) error {
	msg, err := sc.do(ctx, resp.KeysCmd{Name: resp.CmdGet, Shard: sc.name(), Keys: keys}.Args())
	if err != nil {
		return err
	}
	replies, err := msg.ToArray()
	if err == nil && len(replies) != len(keys) {
		err = fmt.Errorf("%d values for %d keys", len(replies), len(keys))
	}
	if err != nil {
		return sc.badReply(resp.CmdGet, err)
	}
	for i := range replies {
		if replies[i].IsNil() {
			continue
		}
		var cov int64
		if vals[off+i], cov, err = parsePartial(&replies[i]); err != nil {
			return sc.badReply(resp.CmdGet, err)
		}
		found[off+i] = true
		if cov != 0 {
			if *covered == nil {
				*covered = make([]int64, len(vals))
			}
			(*covered)[off+i] = cov
		}
	}
	return nil
}

// parsePartial reads a partial as a shard sends it: its count, or
// [count, covered] when it covers other shards' partials.
func parsePartial(m *rueidis.RedisMessage) (count, covered int64, err error) {
	if !m.IsArray() {
		count, err = m.AsInt64()
		return count, 0, err
	}
	pair, err := m.AsIntSlice()
	if err == nil && len(pair) != 2 {
		err = fmt.Errorf("a partial of %d integers", len(pair))
	}
	if err != nil {
		return 0, 0, err
	}
	return pair[0], pair[1], nil
}
