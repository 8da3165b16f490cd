// Package shard is one shard of shardcounter: a RESP server that keeps its
// part (its partial) of every counter in RocksDB.
//
// Concurrency contract: connections are served concurrently; every write
// goes through one writer goroutine that applies writes in arrival order,
// writes each group as one RocksDB WriteBatch, and replies only after that
// write (see writer.go). Reads go straight to RocksDB and see every write
// that has been acknowledged.
package shard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/tidwall/redcon"

	"github.com/shardcounter/shardcounter/resp"
)

// Version is shardcounter's version, reported by INFO.
const Version = "0.1.0"

// Server is a running shard.
type Server struct {
	cfg Config
	log *slog.Logger
	st  *store
	w   *writer
	mux *resp.Mux

	mu      sync.Mutex
	ln      net.Listener
	closing bool
	stopped chan struct{} // closed once Shutdown has finished
	wg      sync.WaitGroup

	// drain tells Shutdown when every reply is on the wire.
	drain resp.Drain

	count counterCount // see counters.go
	trim  trimmer      // see trim.go
}

// New opens the shard's database and prepares the server. It does not
// listen yet: call Serve.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("shard", cfg.ID)
	st, err := openStore(cfg.DataDir, cfg.ID, cfg.Sync, cfg.BlockCacheBytes)
	if err != nil {
		return nil, err
	}
	w, err := newWriter(st, log, cfg.CacheEntries, cfg.MaxBatch, cfg.DedupWindow)
	if err != nil {
		st.close()
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, st: st, w: w, stopped: make(chan struct{})}
	s.mux = s.handlers()
	s.goFunc(w.run)
	s.goFunc(func() { s.trim.run(trimEvery, w.stop) })
	return s, nil
}

// goFunc runs f in a goroutine that Shutdown waits for.
func (s *Server) goFunc(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// Listen binds the configured address. Serve then serves on it.
func (s *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("shard %s: listen: %w", s.cfg.ID, err)
	}
	return ln, nil
}

// Serve serves RESP on ln until Shutdown. It returns nil after Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.ln = s.guard(ln)
	s.mu.Unlock()
	return s.serve()
}

func (s *Server) serve() error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		s.ln.Close()
		return errors.New("shard: server is shut down")
	}
	ln := s.ln
	s.mu.Unlock()
	s.log.Info("shard serving", "listen", ln.Addr().String(), "data", s.cfg.DataDir,
		"sync", s.cfg.Sync, "auth", s.cfg.Password != "", "cache_entries", s.cfg.CacheEntries,
		"dedup_window", s.cfg.DedupWindow.String(), "max_request_bytes", s.cfg.MaxRequestBytes,
		"max_bulk_bytes", s.cfg.MaxBulkBytes, "maxclients", s.cfg.MaxClients, "protected_mode", s.cfg.ProtectedMode)
	srv := resp.NewConnServer(s.drain.Wrap(s.mux.ServeRESP),
		func(c redcon.Conn) bool {
			s.mux.Register(c)
			return true
		}, func(c redcon.Conn, _ error) { s.mux.Unregister(c) })
	if s.cfg.IdleTimeout > 0 {
		srv.SetIdleClose(s.cfg.IdleTimeout)
	}
	err := srv.Serve(ln)
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		return nil
	}
	return err
}

// guard wraps ln with the request limits, then protected mode and the
// client limit (see resp.NewLimitListener and resp.GuardListener).
func (s *Server) guard(ln net.Listener) net.Listener {
	ln = resp.NewLimitListener(ln, resp.Limits{MaxRequestBytes: s.cfg.MaxRequestBytes, MaxBulkBytes: s.cfg.MaxBulkBytes})
	return resp.GuardListener(ln, resp.Guard{
		Protected:  resp.Protected(s.cfg.ProtectedMode, s.cfg.Password),
		MaxClients: s.cfg.MaxClients,
	})
}

// Addr is the address Serve listens on, or nil before Serve.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// ID is the shard id.
func (s *Server) ID() string { return s.cfg.ID }

// Shutdown stops the shard gracefully: the writer stops taking writes
// (they are refused with TRYAGAIN, certainly not applied) and finishes the
// queued ones; for DrainGrace the connections stay open, so coordinators
// learn from those refusals to route around the shard; every reply is
// flushed to its client, and only then are the connections and the
// database closed. So a clean stop never turns an
// applied write into one whose outcome the coordinator cannot know. It
// returns ctx's error if the deadline passes first; the database is then
// left to the process exit, which RocksDB's WAL makes safe.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		// Another call is shutting down: wait for it, as long as ctx lets.
		select {
		case <-s.stopped:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("shard %s: shutdown: %w", s.cfg.ID, ctx.Err())
		}
	}
	s.closing = true
	ln := s.ln
	s.mu.Unlock()
	done := s.stopped
	go func() {
		s.drain.Start()
		s.w.close()
		time.Sleep(s.cfg.DrainGrace)
		s.drain.Wait(context.Background())
		// A handler that returned just before draining was set flushes
		// right after; give it a moment.
		time.Sleep(20 * time.Millisecond)
		if ln != nil {
			ln.Close()
		}
		s.wg.Wait()
		s.st.close()
		close(done)
	}()
	select {
	case <-done:
		s.log.Info("shard stopped")
		return nil
	case <-ctx.Done():
		return fmt.Errorf("shard %s: shutdown: %w", s.cfg.ID, ctx.Err())
	}
}

// Start listens on the configured address and serves in the background
// until Shutdown.
func (s *Server) Start() error {
	ln, err := s.Listen()
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.ln = s.guard(ln)
	s.mu.Unlock()
	s.goFunc(func() {
		if err := s.serve(); err != nil {
			s.log.Error("shard server stopped", "err", err)
		}
	})
	return nil
}
