package coordinator

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shardcounter/shardcounter/resp"
)

// The JSON API of the original system: POST /sharded.
type shardedRequest struct {
	CounterID     string          `json:"counterId"`
	OperationType string          `json:"operationType"`
	Delta         json.RawMessage `json:"delta"`
}

type shardedResponse struct {
	Success     bool             `json:"success"`
	Message     string           `json:"message"`
	CounterID   string           `json:"counterId,omitempty"`
	TotalValue  *int64           `json:"totalValue,omitempty"`
	ShardValue  *int64           `json:"shardValue,omitempty"`
	ShardID     string           `json:"shardId,omitempty"`
	ShardValues map[string]int64 `json:"shardValues,omitempty"`
	ShardCount  int              `json:"shardCount"`
}

func (s *Server) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/sharded", s.requireToken(s.handleSharded))
	mux.HandleFunc("/health", s.handleHealth)
	mux.Handle("/metrics", s.requireToken(promhttp.HandlerFor(s.gather, promhttp.HandlerOpts{}).ServeHTTP))
	s.registerDashboard(mux) // /, /api/cluster, /api/hot, /api/counters/{id}: dashboard.go
	if s.cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", s.requireToken(pprof.Index))
		mux.HandleFunc("/debug/pprof/cmdline", s.requireToken(pprof.Cmdline))
		mux.HandleFunc("/debug/pprof/profile", s.requireToken(pprof.Profile))
		mux.HandleFunc("/debug/pprof/symbol", s.requireToken(pprof.Symbol))
		mux.HandleFunc("/debug/pprof/trace", s.requireToken(pprof.Trace))
	}
	return mux
}

// requireToken checks "Authorization: Bearer <password>" when a password is
// set.
func (s *Server) requireToken(h http.HandlerFunc) http.HandlerFunc {
	if s.cfg.Password == "" {
		return h
	}
	want := []byte("Bearer " + s.cfg.Password)
	return func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="shardcounter"`)
			s.writeJSON(w, http.StatusUnauthorized, shardedResponse{Message: "missing or wrong bearer token", ShardCount: len(s.shards)})
			return
		}
		h(w, r)
	}
}

func (s *Server) writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		s.log.Debug("writing HTTP response failed", "err", err)
	}
}

func (s *Server) handleSharded(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, msg string) {
		s.writeJSON(w, code, shardedResponse{Message: msg, ShardCount: len(s.shards)})
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fail(http.StatusMethodNotAllowed, "use POST with a JSON body")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxHTTPBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", s.cfg.MaxHTTPBodyBytes))
			return
		}
		fail(http.StatusBadRequest, "reading request body: "+err.Error())
		return
	}
	var req shardedRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		fail(http.StatusBadRequest, "invalid JSON: "+err.Error())
		return
	}
	if dec.More() {
		fail(http.StatusBadRequest, "invalid JSON: more than one value in the body")
		return
	}
	if req.CounterID == "" {
		fail(http.StatusBadRequest, "counterId is required")
		return
	}
	if len(req.CounterID) > 64<<10 {
		fail(http.StatusBadRequest, "counterId is longer than 65536 bytes")
		return
	}
	key := []byte(req.CounterID)
	switch req.OperationType {
	case "INCREMENT", "DECREMENT":
		delta := int64(1)
		if len(req.Delta) > 0 && string(req.Delta) != "null" {
			// A JSON integer: -0 is one too, unlike in RESP.
			d, err := strconv.ParseInt(string(req.Delta), 10, 64)
			if err != nil {
				fail(http.StatusBadRequest, "delta must be an integer in the int64 range")
				return
			}
			delta = d
		}
		if req.OperationType == "DECREMENT" {
			if delta == -delta && delta != 0 {
				// As DECRBY answers it; nothing was sent.
				s.writeJSON(w, http.StatusBadRequest, shardedResponse{Message: resp.ToReply(resp.ErrDecrOverflow), CounterID: req.CounterID, ShardCount: len(s.shards)})
				return
			}
			delta = -delta
		}
		s.httpIncr(w, r.Context(), req.CounterID, key, delta)
	case "GET_TOTAL", "GET_SHARD_VALUES":
		s.httpRead(w, r.Context(), req.CounterID, key)
	case "":
		fail(http.StatusBadRequest, "operationType is required: INCREMENT, DECREMENT, GET_TOTAL or GET_SHARD_VALUES")
	default:
		fail(http.StatusBadRequest, fmt.Sprintf("unknown operationType %q: want INCREMENT, DECREMENT, GET_TOTAL or GET_SHARD_VALUES", req.OperationType))
	}
}

// httpStatus maps an error to its HTTP status: 503 when shards are the
// cause, 400 for what the request asked.
func httpStatus(err error) int {
	if errors.Is(err, resp.ErrShardUnavailable) || errors.Is(err, resp.ErrNoShardAvailable) ||
		errors.Is(err, resp.ErrAmbiguous) || errors.Is(err, resp.ErrShuttingDown) ||
		errors.Is(err, resp.ErrStorage) || errors.Is(err, resp.ErrRequestExpired) {
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

func (s *Server) httpIncr(w http.ResponseWriter, ctx context.Context, id string, key []byte, delta int64) {
	q := newWriteReq(s.router, key, delta)
	s.router.incr(q)
	var o struct {
		res incrResult
		err error
	}
	o.res, o.err = q.wait() // bounded by WriteTimeout
	q.release()
	s.metrics.requests.WithLabelValues("http_incr").Inc()
	if o.err != nil {
		s.metrics.errors.WithLabelValues("http_incr").Inc()
		s.writeJSON(w, httpStatus(o.err), shardedResponse{Message: resp.ToReply(o.err), CounterID: id, ShardCount: len(s.shards)})
		return
	}
	s.writeJSON(w, http.StatusOK, shardedResponse{
		Success: true, Message: "ok", CounterID: id, TotalValue: &o.res.total,
		ShardValue: &o.res.partial, ShardID: s.shards[o.res.shard].id, ShardCount: len(s.shards),
	})
}

func (s *Server) httpRead(w http.ResponseWriter, ctx context.Context, id string, key []byte) {
	type outcome struct {
		rr  *readResult
		err error
	}
	ch := make(chan outcome, 1)
	s.router.read([][]byte{key}, func(rr *readResult, err error) { ch <- outcome{rr, err} })
	var o outcome
	select {
	case o = <-ch:
	case <-ctx.Done():
		return
	}
	s.metrics.requests.WithLabelValues("http_read").Inc()
	var total int64
	if o.err == nil {
		total, _, o.err = o.rr.total(0)
	}
	if o.err != nil {
		s.metrics.errors.WithLabelValues("http_read").Inc()
		s.writeJSON(w, httpStatus(o.err), shardedResponse{Message: resp.ToReply(o.err), CounterID: id, ShardCount: len(s.shards)})
		return
	}
	values := make(map[string]int64, len(s.shards))
	for i, sc := range s.shards {
		values[sc.id] = o.rr.partials[i][0]
	}
	s.writeJSON(w, http.StatusOK, shardedResponse{
		Success: true, Message: "ok", CounterID: id, TotalValue: &total, ShardValues: values, ShardCount: len(s.shards),
	})
}

type healthShard struct {
	ID        string  `json:"id"`
	Addr      string  `json:"addr"`
	Up        bool    `json:"up"`
	LatencyMs float64 `json:"latencyMs"`
	Error     string  `json:"error,omitempty"`
}

type healthResponse struct {
	Status string        `json:"status"`
	Down   []string      `json:"down,omitempty"`
	Shards []healthShard `json:"shards"`
}

// handleHealth probes every shard now, in parallel, and answers 200 when all
// answer and 503 naming the ones that do not.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	var wg sync.WaitGroup
	for _, sc := range s.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.probe(r.Context(), sc)
		}()
	}
	wg.Wait()
	h := healthResponse{Status: "ok"}
	for _, sc := range s.shards {
		st := sc.status()
		h.Shards = append(h.Shards, healthShard{ID: st.ID, Addr: st.Addr, Up: st.Up,
			LatencyMs: float64(st.Latency.Microseconds()) / 1000, Error: st.Err})
		if !st.Up {
			h.Down = append(h.Down, st.ID)
		}
	}
	code := http.StatusOK
	if len(h.Down) > 0 {
		code = http.StatusServiceUnavailable
		h.Status = "down: " + strings.Join(h.Down, ", ")
	}
	w.Header().Set("X-Shards-Down", strconv.Itoa(len(h.Down)))
	s.writeJSON(w, code, h)
}
