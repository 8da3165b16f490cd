package shard

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/tidwall/match"

	"github.com/shardcounter/shardcounter/resp"
)

// scGet: SC.GET shard key [key ...] -> one partial or null per key.
func (s *Server) scGet(_ *resp.Session, args [][]byte) resp.Reply {
	c, err := resp.ParseKeys(args)
	if err != nil {
		return resp.Err(err)
	}
	if err := s.checkShard(c.Shard); err != nil {
		return resp.Err(err)
	}
	vals := make([]int64, len(c.Keys))
	found := make([]bool, len(c.Keys))
	for i, k := range c.Keys {
		if vals[i], found[i], err = s.st.partial(k); err != nil {
			return resp.Err(err)
		}
	}
	return resp.ReplyFunc(func(w resp.Writer) {
		w.WriteArray(len(vals))
		for i, v := range vals {
			if found[i] {
				w.WriteInt64(v)
			} else {
				w.WriteNullReply()
			}
		}
	})
}

// get answers plain GET with this shard's partial.
func (s *Server) get(_ *resp.Session, args [][]byte) resp.Reply {
	v, ok, err := s.st.partial(args[1])
	if err != nil {
		return resp.Err(err)
	}
	if !ok {
		return resp.Null
	}
	return resp.BulkInt(v)
}

// scScan: SC.SCAN shard cursor count [pattern]
func (s *Server) scScan(_ *resp.Session, args [][]byte) resp.Reply {
	c, err := resp.ParseScan(args)
	if err != nil {
		return resp.Err(err)
	}
	if err := s.checkShard(c.Shard); err != nil {
		return resp.Err(err)
	}
	var pred func([]byte) bool
	if c.Pattern != "" && c.Pattern != "*" {
		pred = func(k []byte) bool { return match.Match(string(k), c.Pattern) }
	}
	keys, next, err := s.st.scan(c.Cursor, c.Count, pred)
	if err != nil {
		return resp.Err(err)
	}
	return resp.ReplyFunc(func(w resp.Writer) {
		w.WriteArray(2)
		w.WriteBulkString(fmt.Sprint(next))
		w.WriteArray(len(keys))
		for _, k := range keys {
			w.WriteBulk(k)
		}
	})
}

// scPing: SC.PING shard -> PONG, from the right shard only.
func (s *Server) scPing(_ *resp.Session, args [][]byte) resp.Reply {
	c, err := resp.ParseShardCmd(args)
	if err != nil {
		return resp.Err(err)
	}
	if err := s.checkShard(c.Shard); err != nil {
		return resp.Err(err)
	}
	return resp.Status("PONG")
}

// Stats are a shard's figures for health checks and dashboards.
type Stats struct {
	Keys    uint64 // RocksDB's estimate of stored records
	Writes  uint64 // writes applied since start
	Batches uint64 // WriteBatches written since start
	// Counters is the number of counters held, as last counted in the
	// background (see counters.go); -1 before the first count.
	Counters int64
	// CountersCapped is true when the count stopped at its limit.
	CountersCapped bool
}

// Stats returns the shard's current figures.
func (s *Server) Stats() Stats {
	st := Stats{Keys: s.st.estimateKeys(), Writes: s.w.writes.Load(), Batches: s.w.batches.Load()}
	st.Counters, st.CountersCapped = s.counters()
	return st
}

// scStats: SC.STATS shard -> map of figure -> integer.
func (s *Server) scStats(_ *resp.Session, args [][]byte) resp.Reply {
	c, err := resp.ParseShardCmd(args)
	if err != nil {
		return resp.Err(err)
	}
	if err := s.checkShard(c.Shard); err != nil {
		return resp.Err(err)
	}
	st := s.Stats()
	return resp.ReplyFunc(func(w resp.Writer) {
		w.WriteMapHeader(5)
		w.WriteBulkString("keys")
		w.WriteInt64(int64(st.Keys))
		w.WriteBulkString("writes")
		w.WriteInt64(int64(st.Writes))
		w.WriteBulkString("batches")
		w.WriteInt64(int64(st.Batches))
		w.WriteBulkString("counters")
		w.WriteInt64(st.Counters)
		w.WriteBulkString("counters_capped")
		w.WriteInt64(int64(boolInt(st.CountersCapped)))
	})
}

// info answers INFO with a bulk string in Redis' format.
func (s *Server) info(_ *resp.Session, args [][]byte) resp.Reply {
	st := s.Stats()
	var b strings.Builder
	fmt.Fprintf(&b, "# Server\r\nredis_version:%s\r\nshardcounter_version:%s\r\nshardcounter_role:shard\r\nshard_id:%s\r\nredis_mode:standalone\r\nos:%s\r\narch_bits:64\r\n\r\n",
		resp.RedisVersion, Version, s.cfg.ID, runtime.GOOS)
	fmt.Fprintf(&b, "# Persistence\r\nloading:0\r\nsync_writes:%d\r\n\r\n", boolInt(s.cfg.Sync))
	fmt.Fprintf(&b, "# Stats\r\ntotal_writes:%d\r\ntotal_batches:%d\r\n\r\n", st.Writes, st.Batches)
	fmt.Fprintf(&b, "# Keyspace\r\ndb0:keys=%d,expires=0,avg_ttl=0\r\n", st.Keys)
	return resp.BulkString(b.String())
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
