package shard

import (
	"fmt"

	"github.com/shardcounter/shardcounter/resp"
)

// handlers registers every command the shard answers, in one place.
func (s *Server) handlers() *resp.Mux {
	m := resp.NewMux(s.cfg.Password)
	resp.RegisterConnCommands(m, resp.Server{
		Version: Version, Role: "master",
		Config: map[string]string{"save": "", "appendonly": "yes", "databases": "1"},
	})

	// The shard protocol, sent by coordinators (see resp/wire.go).
	m.Handle(resp.Command{Name: "sc.incr", Arity: 8, Kind: resp.Increment, Flags: []string{"write"}, FirstKey: 2, LastKey: 2, Handler: s.scIncr})
	m.Handle(resp.Command{Name: "sc.mincr", Arity: -8, Kind: resp.Increment, Flags: []string{"write"}, Handler: s.scIncrMulti})
	m.Handle(resp.Command{Name: "sc.get", Arity: -3, Kind: resp.Read, Flags: []string{"readonly"}, FirstKey: 2, LastKey: -1, Handler: s.scGet})
	m.Handle(resp.Command{Name: "sc.cover", Arity: -6, Flags: []string{"write"}, Handler: s.scCover})
	m.Handle(resp.Command{Name: "sc.epoch", Arity: -3, Flags: []string{"readonly"}, Handler: s.scEpoch})
	m.Handle(resp.Command{Name: "sc.set", Arity: 4, Flags: []string{"write"}, FirstKey: 2, LastKey: 2, Handler: s.scSet})
	m.Handle(resp.Command{Name: "sc.del", Arity: -3, Flags: []string{"write"}, FirstKey: 2, LastKey: -1, Handler: s.scDel})
	m.Handle(resp.Command{Name: "sc.scan", Arity: -4, Kind: resp.Read, Flags: []string{"readonly"}, Handler: s.scScan})
	m.Handle(resp.Command{Name: "sc.flush", Arity: 2, Flags: []string{"write"}, Handler: s.scFlush})
	m.Handle(resp.Command{Name: "sc.ping", Arity: 2, Kind: resp.Increment, Flags: []string{"write", "fast"}, Handler: s.scPing})
	m.Handle(resp.Command{Name: "sc.stats", Arity: 2, Kind: resp.Read, Flags: []string{"fast"}, Handler: s.scStats})
	m.Handle(resp.Command{Name: "sc.members", Arity: -2, Flags: []string{"admin"}, Handler: s.scMembers})
	m.Handle(resp.Command{Name: "sc.checkpoint", Arity: 3, Flags: []string{"admin"}, Handler: s.scCheckpoint})

	// Plain Redis commands on this shard's partials, for redis-cli -p <shard>.
	m.Handle(resp.Command{Name: "get", Arity: 2, Kind: resp.Read, Flags: []string{"readonly", "fast"}, FirstKey: 1, LastKey: 1, Handler: s.get})
	m.Handle(resp.Command{Name: "incr", Arity: 2, Kind: resp.Increment, Flags: []string{"write", "fast"}, FirstKey: 1, LastKey: 1, Handler: s.incr})
	m.Handle(resp.Command{Name: "decr", Arity: 2, Kind: resp.Increment, Flags: []string{"write", "fast"}, FirstKey: 1, LastKey: 1, Handler: s.incr})
	m.Handle(resp.Command{Name: "incrby", Arity: 3, Kind: resp.Increment, Flags: []string{"write", "fast"}, FirstKey: 1, LastKey: 1, Handler: s.incr})
	m.Handle(resp.Command{Name: "decrby", Arity: 3, Kind: resp.Increment, Flags: []string{"write", "fast"}, FirstKey: 1, LastKey: 1, Handler: s.incr})
	m.Handle(resp.Command{Name: "info", Arity: -1, Flags: []string{"loading", "stale"}, Handler: s.info})
	return m
}

// checkShard refuses a command addressed to another shard id, or to
// another incarnation of this one (see resp.ShardName): a coordinator that
// knew this id with the partials of another data directory must not count
// this one's as theirs.
func (s *Server) checkShard(name string) error {
	id, inc := resp.SplitShardName(name)
	if id != s.cfg.ID {
		return fmt.Errorf("%w: this is shard %q, not %q", resp.ErrWrongShard, s.cfg.ID, id)
	}
	if inc != "" && inc != s.st.incarnation {
		return fmt.Errorf("%w: shard %q now has data directory %s, not %s: the partials of %s are not here",
			resp.ErrShardReplaced, s.cfg.ID, s.st.incarnation, inc, inc)
	}
	return nil
}

// submit queues a write and returns the reply that waits for it.
func (s *Server) submit(o *op) resp.Reply {
	o.fut = resp.NewFuture()
	if err := s.w.submit(o); err != nil {
		return resp.Err(err)
	}
	return o.fut
}
