package shard

import (
	"fmt"
	"runtime"

	"github.com/shardcounter/shardcounter/resp"
)

// scGet: SC.GET shard key [key ...] -> one partial (see writePartial) or
// null per key.
func (s *Server) scGet(_ *resp.Session, args [][]byte) resp.Reply {
	c, err := resp.ParseKeys(args)
	if err != nil {
		return resp.Err(err)
	}
	if err := s.checkShard(c.Shard); err != nil {
		return resp.Err(err)
	}
	vals, found, err := s.st.partials(c.Keys)
	if err != nil {
		return resp.Err(err)
	}
	return resp.ReplyFunc(func(w resp.Writer) {
		w.WriteArray(len(vals))
		for i, v := range vals {
			if found[i] {
				writePartial(w, v.count, v.covered)
			} else {
				w.WriteNullReply()
			}
		}
	})
}

// get answers plain GET with this shard's partial: its count, what it adds
// to the total.
func (s *Server) get(_ *resp.Session, args [][]byte) resp.Reply {
	v, ok, err := s.st.partial(args[1])
	if err != nil {
		return resp.Err(err)
	}
	if !ok {
		return resp.Null
	}
	return resp.BulkInt(v.count)
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
		pattern := []byte(c.Pattern)
		pred = func(k []byte) bool { return resp.Match(k, pattern) }
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

// scPing: SC.PING shard -> PONG, from the right shard only, once the
// writer has written the probe record as it writes increments (the WAL,
// and with --sync an fsync). A coordinator re-admits a shard on this reply,
// so a shard whose writer or disk hangs stays out: an answer from the
// connection alone would let writes back in, to time out with an unknown
// outcome instead of going to the next shard.
func (s *Server) scPing(_ *resp.Session, args [][]byte) resp.Reply {
	c, err := resp.ParseShardCmd(args)
	if err != nil {
		return resp.Err(err)
	}
	if err := s.checkShard(c.Shard); err != nil {
		return resp.Err(err)
	}
	return s.submit(&op{kind: opProbe})
}

// scMembers: SC.MEMBERS shard [ADD|SET id incarnation ...] -> [incarnation,
// [id, incarnation, ...]]: this shard's incarnation and the peers' as
// recorded here, after recording the given ones (see resp.MembersCmd).
func (s *Server) scMembers(_ *resp.Session, args [][]byte) resp.Reply {
	c, err := resp.ParseMembers(args)
	if err != nil {
		return resp.Err(err)
	}
	if err := s.checkShard(c.Shard); err != nil {
		return resp.Err(err)
	}
	if c.Mode != "" {
		if err := s.st.recordPeers(c.Peers, c.Mode == resp.MembersSet); err != nil {
			return resp.Err(err)
		}
	}
	peers, err := s.st.peers()
	if err != nil {
		return resp.Err(err)
	}
	own := s.st.incarnation
	return resp.ReplyFunc(func(w resp.Writer) {
		w.WriteArray(2)
		w.WriteBulkString(own)
		w.WriteArray(2 * len(peers))
		for _, p := range peers {
			w.WriteBulkString(p.ID)
			w.WriteBulkString(p.Incarnation)
		}
	})
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

// info answers INFO in Redis' format (see resp.Info).
func (s *Server) info(_ *resp.Session, args [][]byte) resp.Reply {
	st := s.Stats()
	in := resp.NewInfo(args)
	in.Section("Server", func(w *resp.InfoSection) {
		w.Field("redis_version", resp.RedisVersion)
		w.Field("shardcounter_version", Version)
		w.Field("shardcounter_role", "shard")
		w.Field("shard_id", s.cfg.ID)
		w.Field("data_incarnation", s.st.incarnation)
		w.Field("redis_mode", "standalone")
		w.Field("os", runtime.GOOS)
		w.Field("arch_bits", 64)
	})
	in.Section("Persistence", func(w *resp.InfoSection) {
		w.Field("loading", 0)
		w.Field("sync_writes", boolInt(s.cfg.Sync))
	})
	in.Section("Memory", func(w *resp.InfoSection) {
		// What holds the memory (docs/OPERATIONS.md, "Memory"): the
		// RSS is the Go runtime's part, RocksDB's parts and the C
		// allocator's own.
		m := s.st.memory()
		w.Field("used_memory_rss", rssBytes())
		w.Field("go_memory_bytes", goMemoryBytes())
		w.Field("partial_cache_buffer_bytes", cacheBufferBytes(s.cfg.CacheEntries))
		w.Field("rocksdb_memtables_bytes", m.memtables)
		w.Field("rocksdb_block_cache_bytes", m.blockCache)
		w.Field("rocksdb_block_cache_pinned_bytes", m.pinned)
		w.Field("rocksdb_table_readers_bytes", m.tableReaders)
		w.Field("allocator_trims", s.trim.trims.Load())
	})
	in.Section("Stats", func(w *resp.InfoSection) {
		w.Field("total_writes", st.Writes)
		w.Field("total_batches", st.Batches)
	})
	in.Section("Keyspace", func(w *resp.InfoSection) {
		w.Printf("db0:keys=%d,expires=0,avg_ttl=0", st.Keys)
	})
	return in.Reply()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
