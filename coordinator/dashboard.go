package coordinator

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shardcounter/shardcounter/resp"
)

// The dashboard: static files at / (embedded, no build step) and a small
// JSON API under /api/ that the page polls once a second.
//
//	GET /api/cluster        shards (up/down, counters, writes/s, latency) and the ops/s history
//	GET /api/hot?n=10       the counters with the highest write rate, with their partials
//	GET /api/counters/{id}  one counter's total and its partial on every shard
//
// /api/cluster answers from figures gathered in the background (stats.go),
// so it is fast even when a shard hangs. The other two ask the shards that
// are up, each within the shard timeout. When the coordinator has a
// password, /api/ needs it as a bearer token, like /sharded; the static
// files are served without it, and the page asks for the token.

//go:embed web
var webFiles embed.FS

// maxHot bounds /api/hot?n=.
const maxHot = 50

// registerDashboard adds the dashboard's routes to mux.
func (s *Server) registerDashboard(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/cluster", s.requireToken(s.handleAPICluster))
	mux.HandleFunc("GET /api/hot", s.requireToken(s.handleAPIHot))
	mux.HandleFunc("GET /api/counters/{id...}", s.requireToken(s.handleAPICounter))
	web, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embedded tree always has web/
	}
	files := http.FileServerFS(web)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
		files.ServeHTTP(w, r)
	})
}

// apiShard is one shard in /api/cluster.
type apiShard struct {
	ID             string  `json:"id"`
	Addr           string  `json:"addr"`
	Up             bool    `json:"up"`
	Error          string  `json:"error,omitempty"`
	SinceMs        int64   `json:"sinceMs"` // when it went up or down, Unix ms
	LatencyMs      float64 `json:"latencyMs"`
	Counters       *int64  `json:"counters"` // null while unknown
	CountersCapped bool    `json:"countersCapped,omitempty"`
	Keys           int64   `json:"keys"`
	Writes         int64   `json:"writes"`
	WritesPerSec   float64 `json:"writesPerSec"`
	StatsAgeMs     *int64  `json:"statsAgeMs"` // null before the first SC.STATS
}

type apiOps struct {
	IntervalMs int64     `json:"intervalMs"`
	T          []int64   `json:"t"` // Unix ms
	Reads      []float64 `json:"reads"`
	Writes     []float64 `json:"writes"`
}

type apiCluster struct {
	Version       string     `json:"version"`
	NowMs         int64      `json:"nowMs"`
	UptimeSeconds int64      `json:"uptimeSeconds"`
	Spread        int        `json:"spread"`
	Clients       int64      `json:"clients"`
	ShardsUp      int        `json:"shardsUp"`
	Shards        []apiShard `json:"shards"`
	ReadsPerSec   float64    `json:"readsPerSec"`
	WritesPerSec  float64    `json:"writesPerSec"`
	Ops           apiOps     `json:"ops"`
}

func (s *Server) handleAPICluster(w http.ResponseWriter, _ *http.Request) {
	now := time.Now()
	out := apiCluster{Version: Version, NowMs: now.UnixMilli(), UptimeSeconds: int64(now.Sub(s.started).Seconds()),
		Spread: s.cfg.Spread, Clients: s.clients.Load(), Shards: []apiShard{}}
	for _, sc := range s.shards {
		st, f := sc.status(), s.stats.figures(sc.idx)
		a := apiShard{ID: st.ID, Addr: st.Addr, Up: st.Up, Error: st.Err, SinceMs: st.Since.UnixMilli(),
			LatencyMs: float64(st.Latency.Microseconds()) / 1000}
		if f.Known {
			if f.Counters >= 0 {
				a.Counters = &f.Counters
			}
			age := now.Sub(f.At).Milliseconds()
			a.CountersCapped, a.Keys, a.Writes, a.StatsAgeMs = f.CountersCapped, f.Keys, f.Writes, &age
			if st.Up {
				a.WritesPerSec = f.WritesPerSec
			}
		}
		if st.Up {
			out.ShardsUp++
		}
		out.Shards = append(out.Shards, a)
	}
	hist := s.stats.history()
	out.Ops = apiOps{IntervalMs: statsInterval.Milliseconds(), T: make([]int64, len(hist)),
		Reads: make([]float64, len(hist)), Writes: make([]float64, len(hist))}
	for i, h := range hist {
		out.Ops.T[i], out.Ops.Reads[i], out.Ops.Writes[i] = h.At.UnixMilli(), h.Reads, h.Writes
	}
	if n := len(hist); n > 0 {
		out.ReadsPerSec, out.WritesPerSec = hist[n-1].Reads, hist[n-1].Writes
	}
	s.writeJSON(w, http.StatusOK, out)
}

// shardPartials is one shard's answer for some keys.
type shardPartials struct {
	vals  []int64
	found []bool
	err   error
}

// partialsOf asks every shard for the partials of keys, in parallel, each
// within the shard timeout. A shard that is down answers at once with its
// error. Unlike router.read it keeps the answers of the shards that did
// answer, for display; it never makes a total of them.
func (s *Server) partialsOf(ctx context.Context, keys [][]byte) []shardPartials {
	out := make([]shardPartials, len(s.shards))
	var wg sync.WaitGroup
	for i, sc := range s.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vals, found, err := sc.partials(ctx, keys)
			out[i] = shardPartials{vals: vals, found: found, err: err}
		}()
	}
	wg.Wait()
	return out
}

// apiPartial is one shard's partial of a counter.
type apiPartial struct {
	Shard string `json:"shard"`
	Up    bool   `json:"up"`
	Value *int64 `json:"value"` // null when the shard did not answer
	Found bool   `json:"found"`
	Error string `json:"error,omitempty"`
}

// apiCounterView is a counter with its partials. Total is set only when
// every shard answered (invariant 4: never a partial sum as the total).
type apiCounterView struct {
	Counter  string       `json:"counter"`
	Total    *int64       `json:"total"`
	Complete bool         `json:"complete"`
	Exists   bool         `json:"exists"`
	Error    string       `json:"error,omitempty"`
	Partials []apiPartial `json:"partials"`
}

// counterView builds key i's view from every shard's answer.
func (s *Server) counterView(key string, i int, ps []shardPartials) apiCounterView {
	v := apiCounterView{Counter: key, Complete: true, Partials: make([]apiPartial, len(s.shards))}
	var sum resp.Sum
	var missing []string
	for si, sc := range s.shards {
		p := apiPartial{Shard: sc.id, Up: sc.up.Load()}
		if err := ps[si].err; err != nil {
			p.Error = resp.ToReply(err)
			v.Complete = false
			missing = append(missing, sc.id)
		} else {
			val := ps[si].vals[i]
			p.Value, p.Found = &val, ps[si].found[i]
			if p.Found {
				v.Exists = true
				sum.Add(val)
			}
		}
		v.Partials[si] = p
	}
	total, fits := sum.Int64()
	switch {
	case len(missing) > 0:
		v.Error = fmt.Sprintf("total unknown: shard %s did not answer", strings.Join(missing, ", "))
	case !fits:
		v.Complete = false
		v.Error = resp.ToReply(resp.ErrOverflow)
	default:
		v.Total = &total
	}
	return v
}

func (s *Server) handleAPICounter(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("id")
	if key == "" || len(key) > 64<<10 {
		s.writeJSON(w, http.StatusBadRequest, map[string]string{"error": "counter id must be 1..65536 bytes"})
		return
	}
	ps := s.partialsOf(r.Context(), [][]byte{[]byte(key)})
	v := s.counterView(key, 0, ps)
	code := http.StatusOK
	if !v.Complete {
		code = http.StatusServiceUnavailable
	}
	s.writeJSON(w, code, v)
}

// apiHotCounter is one hot counter.
type apiHotCounter struct {
	apiCounterView
	WritesPerSec float64 `json:"writesPerSec"`
	AmountPerSec float64 `json:"amountPerSec"`
}

type apiHot struct {
	WindowSeconds int             `json:"windowSeconds"`
	Shards        []string        `json:"shards"`
	Counters      []apiHotCounter `json:"counters"`
}

func (s *Server) handleAPIHot(w http.ResponseWriter, r *http.Request) {
	n := 10
	if q := r.URL.Query().Get("n"); q != "" {
		v, err := strconv.Atoi(q)
		if err != nil || v < 1 || v > maxHot {
			s.writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("n must be 1..%d", maxHot)})
			return
		}
		n = v
	}
	out := apiHot{WindowSeconds: hotWindows * int(statsInterval/time.Second), Counters: []apiHotCounter{}}
	for _, sc := range s.shards {
		out.Shards = append(out.Shards, sc.id)
	}
	top := s.router.hot.top(n)
	if len(top) > 0 {
		keys := make([][]byte, len(top))
		for i, h := range top {
			keys[i] = []byte(h.Key)
		}
		ps := s.partialsOf(r.Context(), keys)
		for i, h := range top {
			out.Counters = append(out.Counters, apiHotCounter{apiCounterView: s.counterView(h.Key, i, ps),
				WritesPerSec: h.WritesPerSec, AmountPerSec: h.AmountPerSec})
		}
	}
	s.writeJSON(w, http.StatusOK, out)
}

// shardInfo is the part of shard i's line in INFO's "# Shards" section
// that comes from its polled figures: ",counters=..,keys=..,writes=..,
// writes_per_sec=.." (counters=-1 while unknown), and ",err=.." while the
// shard is down.
func (s *Server) shardInfo(i int, st shardStatus) string {
	f := s.stats.figures(i)
	counters := int64(-1)
	if f.Known {
		counters = f.Counters
	}
	rate := f.WritesPerSec
	if !st.Up {
		rate = 0
	}
	out := fmt.Sprintf(",counters=%d,keys=%d,writes=%d,writes_per_sec=%.1f", counters, f.Keys, f.Writes, rate)
	if !st.Up && st.Err != "" {
		out += ",err=" + strings.NewReplacer(",", ";", "\r", " ", "\n", " ").Replace(st.Err)
	}
	return out
}
