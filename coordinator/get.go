package coordinator

import (
	"github.com/shardcounter/shardcounter/resp"
)

// readKeys fans out a read of keys and resolves the returned future with
// what reply builds from the shards' partials.
func (s *Server) readKeys(keys [][]byte, reply func(*readResult) resp.Reply) resp.Reply {
	fut := resp.NewFuture()
	s.router.read(keys, func(rr *readResult, err error) {
		if err != nil {
			fut.Resolve(resp.Err(err))
			return
		}
		fut.Resolve(reply(rr))
	})
	return fut
}

// get answers GET with the sum of every shard's partial.
func (s *Server) get(_ *resp.Session, args [][]byte) resp.Reply {
	return s.readKeys(args[1:2], func(rr *readResult) resp.Reply {
		total, exists, err := rr.total(0)
		switch {
		case err != nil:
			return resp.Err(err)
		case !exists:
			return resp.Null
		}
		return resp.BulkInt(total)
	})
}

// mget answers MGET: one total or null per key.
func (s *Server) mget(_ *resp.Session, args [][]byte) resp.Reply {
	keys := args[1:]
	return s.readKeys(keys, func(rr *readResult) resp.Reply {
		totals := make([]int64, len(keys))
		exists := make([]bool, len(keys))
		for i := range keys {
			t, ok, err := rr.total(i)
			if err != nil {
				return resp.Err(err)
			}
			totals[i], exists[i] = t, ok
		}
		return resp.ReplyFunc(func(w resp.Writer) {
			w.WriteArray(len(keys))
			for i, t := range totals {
				if exists[i] {
					w.WriteBulk(resp.AppendInt(nil, t))
				} else {
					w.WriteNullReply()
				}
			}
		})
	})
}

// exists answers EXISTS: how many of the keys exist on some shard, counting
// a key named twice twice, as Redis does.
func (s *Server) exists(_ *resp.Session, args [][]byte) resp.Reply {
	keys := args[1:]
	return s.readKeys(keys, func(rr *readResult) resp.Reply {
		var n int64
		for i := range keys {
			if _, ok, _ := rr.total(i); ok {
				n++
			}
		}
		return resp.Int(n)
	})
}

// typeCmd answers TYPE: every counter is a string.
func (s *Server) typeCmd(_ *resp.Session, args [][]byte) resp.Reply {
	return s.readKeys(args[1:2], func(rr *readResult) resp.Reply {
		if _, ok, _ := rr.total(0); ok {
			return resp.Status("string")
		}
		return resp.Status("none")
	})
}

// shardValues answers SHARDVALUES key: shard id -> partial for every shard
// (0 where a shard holds none), a map in RESP3 and a flat array in RESP2.
func (s *Server) shardValues(_ *resp.Session, args [][]byte) resp.Reply {
	return s.readKeys(args[1:2], func(rr *readResult) resp.Reply {
		ids := s.ring.IDs()
		return resp.ReplyFunc(func(w resp.Writer) {
			w.WriteMapHeader(len(ids))
			for i, id := range ids {
				w.WriteBulkString(id)
				w.WriteInt64(rr.partials[i][0])
			}
		})
	})
}
