package coordinator

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/shardcounter/shardcounter/resp"
)

// handlers registers every command the coordinator answers, in one place.
// Each command's handler lives in the file named by its verb.
func (s *Server) handlers() *resp.Mux {
	m := resp.NewMux(s.cfg.Password)
	resp.RegisterConnCommands(m, resp.Server{
		Version: Version, Role: "master",
		Config: map[string]string{
			"save": "", "appendonly": "yes", "appendfsync": "everysec", "databases": "1",
			"maxmemory":      "0",
			"maxclients":     strconv.Itoa(s.cfg.MaxClients),
			"timeout":        strconv.Itoa(int(s.cfg.IdleTimeout.Seconds())),
			"protected-mode": map[bool]string{true: "yes", false: "no"}[s.cfg.ProtectedMode],
		},
	})
	w := []string{"write", "denyoom", "fast"}
	ro := []string{"readonly", "fast"}
	m.Handle(resp.Command{Name: "incr", Arity: 2, Kind: resp.Increment, Flags: w, FirstKey: 1, LastKey: 1, Handler: s.track("incr", s.incr)})
	m.Handle(resp.Command{Name: "decr", Arity: 2, Kind: resp.Increment, Flags: w, FirstKey: 1, LastKey: 1, Handler: s.track("decr", s.incr)})
	m.Handle(resp.Command{Name: "incrby", Arity: 3, Kind: resp.Increment, Flags: w, FirstKey: 1, LastKey: 1, Handler: s.track("incrby", s.incr)})
	m.Handle(resp.Command{Name: "decrby", Arity: 3, Kind: resp.Increment, Flags: w, FirstKey: 1, LastKey: 1, Handler: s.track("decrby", s.incr)})
	m.Handle(resp.Command{Name: "get", Arity: 2, Kind: resp.Read, Flags: ro, FirstKey: 1, LastKey: 1, Handler: s.track("get", s.get)})
	m.Handle(resp.Command{Name: "mget", Arity: -2, Kind: resp.Read, Flags: ro, FirstKey: 1, LastKey: -1, Handler: s.track("mget", s.mget)})
	m.Handle(resp.Command{Name: "exists", Arity: -2, Kind: resp.Read, Flags: ro, FirstKey: 1, LastKey: -1, Handler: s.track("exists", s.exists)})
	m.Handle(resp.Command{Name: "type", Arity: 2, Kind: resp.Read, Flags: ro, FirstKey: 1, LastKey: 1, Handler: s.track("type", s.typeCmd)})
	m.Handle(resp.Command{Name: "shardvalues", Arity: 2, Kind: resp.Read, Flags: ro, FirstKey: 1, LastKey: 1, Handler: s.track("shardvalues", s.shardValues)})
	m.Handle(resp.Command{Name: "set", Arity: -3, Flags: []string{"write", "denyoom"}, FirstKey: 1, LastKey: 1, Handler: s.track("set", s.set)})
	m.Handle(resp.Command{Name: "del", Arity: -2, Flags: []string{"write"}, FirstKey: 1, LastKey: -1, Handler: s.track("del", s.del)})
	m.Handle(resp.Command{Name: "unlink", Arity: -2, Flags: []string{"write", "fast"}, FirstKey: 1, LastKey: -1, Handler: s.track("unlink", s.del)})
	m.Handle(resp.Command{Name: "flushall", Arity: -1, Flags: []string{"write"}, Handler: s.track("flushall", s.flush)})
	m.Handle(resp.Command{Name: "flushdb", Arity: -1, Flags: []string{"write"}, Handler: s.track("flushdb", s.flush)})
	m.Handle(resp.Command{Name: "scan", Arity: -2, Kind: resp.Read, Flags: []string{"readonly"}, Handler: s.track("scan", s.scan)})
	m.Handle(resp.Command{Name: "keys", Arity: 2, Kind: resp.Read, Flags: []string{"readonly"}, Handler: s.track("keys", s.keys)})
	m.Handle(resp.Command{Name: "dbsize", Arity: 1, Kind: resp.Read, Flags: []string{"readonly"}, Handler: s.track("dbsize", s.dbsize)})
	m.Handle(resp.Command{Name: "shardaccept", Arity: 2, Flags: []string{"admin"}, Handler: s.track("shardaccept", s.shardAccept)})
	m.Handle(resp.Command{Name: "info", Arity: -1, Flags: []string{"loading", "stale"}, Handler: s.track("info", s.info)})
	return m
}

// latencySample is how many requests of a command share one latency
// observation: timing every request would cost more than serving some.
const latencySample = 16

// track wraps a handler with the request, error and latency metrics. It
// adds no allocation to the requests it does not time.
func (s *Server) track(name string, h resp.Handler) resp.Handler {
	reqs := s.metrics.requests.WithLabelValues(name)
	errs := s.metrics.errors.WithLabelValues(name)
	lat := s.metrics.latency.WithLabelValues(name)
	var n atomic.Uint64
	return func(sess *resp.Session, args [][]byte) resp.Reply {
		reqs.Inc()
		var start time.Time
		timed := n.Add(1)%latencySample == 0
		if timed {
			start = time.Now()
		}
		r := h(sess, args)
		switch r := r.(type) {
		case *writeReq:
			r.errs = errs
			if timed {
				r.lat, r.start = lat, start
			}
			return r
		case *resp.Future:
			r.Errors = errs
		default:
			if resp.IsError(r) {
				errs.Inc()
			}
		}
		if !timed {
			return r
		}
		return resp.ReplyFunc(func(w resp.Writer) {
			r.WriteTo(w)
			lat.Observe(time.Since(start).Seconds())
		})
	}
}
