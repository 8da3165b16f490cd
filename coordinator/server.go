// Package coordinator is shardcounter's front end: a stateless RESP and HTTP
// server that routes each write through the consistent-hash ring to a shard
// and answers reads by summing the partials of every shard.
//
// The path of a write: handlers.go dispatches INCRBY to incr.go, which asks
// the router (router.go) for a shard; the shard's write lane (lanes.go)
// coalesces concurrent increments and sends them as one pipelined round over
// rueidis (shards.go); the reply comes back through the request's callback.
// Reads fan out to every shard's read lane and are summed in router.read.
package coordinator

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tidwall/redcon"

	"github.com/shardcounter/shardcounter/resp"
	"github.com/shardcounter/shardcounter/ring"
)

// Version is shardcounter's version.
const Version = "0.1.0"

// Server is a running coordinator.
type Server struct {
	cfg     Config
	log     *slog.Logger
	ring    *ring.Ring
	shards  []*shardConn
	router  *router
	mux     *resp.Mux
	metrics *metrics
	stats   *clusterStats // per-shard figures and ops/s for the dashboard: stats.go
	gather  prometheus.Gatherer
	started time.Time
	clients atomic.Int64
	// membersMu runs one membership check or SHARDACCEPT at a time
	// (members.go).
	membersMu sync.Mutex

	// drain tells Shutdown when every reply is on the wire; while it
	// drains, new connections and commands are refused.
	drain resp.Drain

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	respLn   net.Listener
	httpLn   net.Listener
	httpSrv  *http.Server
	respSrv  *resp.ConnServer
	shutdown bool
	stopped  chan struct{} // closed once Shutdown has finished
}

// New connects to the shards (a shard that is down is retried by the
// prober) and prepares the servers. Call Start to listen.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	reg, gather := cfg.Registerer, cfg.Gatherer
	if reg == nil {
		r := prometheus.NewRegistry()
		reg, gather = r, r
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("coordinator: metrics: %w", err)
	}
	ids := make([]string, len(cfg.Shards))
	for i, sa := range cfg.Shards {
		ids[i] = sa.ID
	}
	rg, err := ring.New(ids, cfg.Ring)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, ring: rg, metrics: m, gather: gather, started: time.Now(), stopped: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	// Each client dials its shard at once, and waits up to the shard
	// timeout for one that hangs: all at the same time.
	s.shards = make([]*shardConn, len(cfg.Shards))
	errs := make([]error, len(cfg.Shards))
	var wg sync.WaitGroup
	for i, sa := range cfg.Shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc, err := newShardConn(i, sa, cfg)
			if err == nil {
				sc.errs = m.shardErrors.WithLabelValues(sa.ID)
			}
			s.shards[i], errs[i] = sc, err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		s.shards = slices.DeleteFunc(s.shards, func(sc *shardConn) bool { return sc == nil })
		s.closeShards()
		return nil, err
	}
	s.router, err = newRouter(rg, s.shards, cfg.Spread, cfg.WriteTimeout, m)
	if err != nil {
		s.closeShards()
		return nil, err
	}
	s.router.hotThreshold, s.router.hotSpread = cfg.HotThreshold, min(cfg.HotSpread, len(s.shards))
	s.router.log = log
	s.stats = newClusterStats(s.shards, m, s.router.hot)
	s.stats.afterTick = s.router.refreshHot
	s.mux = s.handlers()
	return s, nil
}

func (s *Server) closeShards() {
	for _, sc := range s.shards {
		sc.client.Close()
	}
}

// goFunc runs f in a goroutine that Shutdown waits for.
func (s *Server) goFunc(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// Start checks every shard once, all at the same time, then listens on the
// RESP and HTTP addresses and serves in the background until Shutdown. A
// shard that answers with another id is an error: the configuration is
// wrong.
func (s *Server) Start() error {
	var wg sync.WaitGroup
	for _, sc := range s.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.probe(s.ctx, sc)
		}()
	}
	wg.Wait()
	for _, sc := range s.shards {
		st := sc.status()
		if errors.Is(resp.FromReply(st.Err), resp.ErrWrongShard) {
			return fmt.Errorf("coordinator: shard %s at %s: %s", sc.id, sc.addr, st.Err)
		}
		if !st.Up {
			s.log.Warn("shard is down at start; writes for its keys go to the next shard", "shard", sc.id, "addr", sc.addr, "err", st.Err)
		}
	}
	var tlsCfg *tls.Config
	if s.cfg.TLSCert != "" {
		var err error
		if tlsCfg, err = loadTLS(s.cfg.TLSCert, s.cfg.TLSKey); err != nil {
			return err
		}
	}
	respLn, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("coordinator: listen: %w", err)
	}
	var httpLn net.Listener
	if s.cfg.HTTP != "" {
		if httpLn, err = net.Listen("tcp", s.cfg.HTTP); err != nil {
			respLn.Close()
			return fmt.Errorf("coordinator: listen http: %w", err)
		}
		if tlsCfg != nil {
			httpLn = tls.NewListener(httpLn, tlsCfg)
		}
	}
	respSrv := resp.NewConnServer(s.drain.Wrap(s.serveRESP), s.accept, s.closed)
	if s.cfg.IdleTimeout > 0 {
		respSrv.SetIdleClose(s.cfg.IdleTimeout)
	}
	s.mu.Lock()
	s.respLn = s.respListener(respLn, tlsCfg)
	s.respSrv = respSrv
	s.httpLn = httpLn
	if httpLn != nil {
		s.httpSrv = &http.Server{Handler: s.protectHTTP(s.httpHandler()), ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout: s.cfg.HTTPReadTimeout}
	}
	s.mu.Unlock()

	s.router.start(s.ctx, s.goFunc)
	s.stats.start(s.ctx, s.goFunc)
	for _, sc := range s.shards {
		s.goFunc(func() { s.probeLoop(sc) })
	}
	s.goFunc(func() {
		if err := respSrv.Serve(s.respLn); err != nil {
			s.log.Error("RESP server stopped", "err", err)
		}
	})
	if httpLn != nil {
		s.goFunc(func() {
			if err := s.httpSrv.Serve(httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("HTTP server stopped", "err", err)
			}
		})
	}
	shardList := make([]string, len(s.shards))
	for i, sc := range s.shards {
		shardList[i] = sc.id + "=" + sc.addr
	}
	httpAddr := ""
	if httpLn != nil {
		httpAddr = httpLn.Addr().String()
	}
	s.log.Info("coordinator serving", "listen", respLn.Addr().String(), "http", httpAddr,
		"shards", shardList, "spread", s.cfg.Spread, "auth", s.cfg.Password != "",
		"shard_timeout", s.cfg.ShardTimeout.String(), "write_timeout", s.cfg.WriteTimeout.String(),
		"max_request_bytes", s.cfg.MaxRequestBytes, "idle_timeout", s.cfg.IdleTimeout.String(),
		"max_bulk_bytes", s.cfg.MaxBulkBytes, "maxclients", s.cfg.MaxClients,
		"protected_mode", s.cfg.ProtectedMode, "tls", tlsCfg != nil)
	return nil
}

func (s *Server) accept(c redcon.Conn) bool {
	if s.drain.Draining() {
		return false
	}
	s.mux.Register(c)
	s.metrics.clients.Inc()
	s.clients.Add(1)
	return true
}

func (s *Server) closed(c redcon.Conn, _ error) {
	s.mux.Unregister(c)
	s.metrics.clients.Dec()
	s.clients.Add(-1)
}

// probeLoop pings one shard every ProbeInterval, and at once when its
// breaker opens (see shardConn.wake), until Shutdown.
func (s *Server) probeLoop(sc *shardConn) {
	t := time.NewTicker(s.cfg.ProbeInterval)
	defer t.Stop()
	wasUp := sc.up.Load()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		case <-sc.wake:
		}
		s.probe(s.ctx, sc)
		up := sc.up.Load()
		if up != wasUp {
			if up {
				s.log.Info("shard is back", "shard", sc.id, "addr", sc.addr)
			} else {
				s.log.Warn("shard is down", "shard", sc.id, "addr", sc.addr, "err", sc.status().Err)
			}
			wasUp = up
		}
		v := 0.0
		if up {
			v = 1
		}
		s.metrics.shardUp.WithLabelValues(sc.id).Set(v)
	}
}

// Addr is the RESP address, or nil before Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.respLn == nil {
		return nil
	}
	return s.respLn.Addr()
}

// HTTPAddr is the HTTP address, or nil when HTTP is off or before Start.
func (s *Server) HTTPAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.httpLn == nil {
		return nil
	}
	return s.httpLn.Addr()
}

// serveRESP runs the mux for the commands read from c. While Shutdown
// drains, it refuses them instead: certainly not applied, so a client may
// retry them elsewhere.
func (s *Server) serveRESP(c redcon.Conn, cmd redcon.Command) {
	if !s.drain.Draining() {
		s.mux.ServeRESP(c, cmd)
		return
	}
	refusal := resp.ToReply(errShutdown)
	c.WriteError(refusal)
	for range c.ReadPipeline() {
		c.WriteError(refusal)
	}
}

// waitDrained waits until every command read so far is answered, for at
// most d or until ctx is done.
func (s *Server) waitDrained(ctx context.Context, d time.Duration) {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	s.drain.Wait(wctx)
}

// Shutdown drains and stops the coordinator, or returns ctx's error when
// the deadline passes first. It refuses new connections and commands, lets
// the commands in flight finish (each ends by its write deadline) and
// writes their replies, then answers whatever is still queued, closes the
// connections and stops every goroutine. A client connected through it
// so gets a reply to every command it sent: never a closed connection
// instead of the outcome of an increment the shards applied.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		// Another call is shutting down: wait for it, as long as ctx lets.
		select {
		case <-s.stopped:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("coordinator: shutdown: %w", ctx.Err())
		}
	}
	s.shutdown = true
	respSrv, httpSrv, respLn := s.respSrv, s.httpSrv, s.respLn
	s.mu.Unlock()
	s.drain.Start()
	s.waitDrained(ctx, s.cfg.WriteTimeout+s.cfg.ShardTimeout)
	var errs []error
	if httpSrv != nil {
		if err := httpSrv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	// The lanes answer what is left; let those replies out too.
	s.cancel()
	s.waitDrained(ctx, time.Second)
	if respSrv != nil {
		// Close the listener ourselves: the server's Close only says "not
		// serving" when the Serve goroutine has not started yet, and that
		// Serve would then run on. A closed listener stops it either way.
		if err := respLn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
		respSrv.Close()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		s.router.drain()
		s.closeShards()
		close(done)
		close(s.stopped)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("coordinator: shutdown: %w", ctx.Err()))
	}
	s.log.Info("coordinator stopped")
	return errors.Join(errs...)
}
