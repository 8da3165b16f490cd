package shard

import (
	"github.com/shardcounter/shardcounter/resp"
)

// scIncr: SC.INCR shard key delta coord seq
func (s *Server) scIncr(_ *resp.Session, args [][]byte) resp.Reply {
	c, err := resp.ParseIncr(args)
	if err != nil {
		return resp.Err(err)
	}
	if err := s.checkShard(c.Shard); err != nil {
		return resp.Err(err)
	}
	return s.submit(&op{kind: opIncr, key: c.Key, delta: c.Delta, lo: c.Lo, hi: c.Hi, id: c.ID, hasID: true})
}

// scIncrMulti: SC.MINCR shard coord seq key delta lo hi [key delta lo hi ...]
func (s *Server) scIncrMulti(_ *resp.Session, args [][]byte) resp.Reply {
	c, err := resp.ParseIncrMulti(args)
	if err != nil {
		return resp.Err(err)
	}
	if err := s.checkShard(c.Shard); err != nil {
		return resp.Err(err)
	}
	items := make([]incrItem, len(c.Items))
	for i, it := range c.Items {
		items[i] = incrItem{key: it.Key, delta: it.Delta, lo: it.Lo, hi: it.Hi}
	}
	return s.submit(&op{kind: opMulti, items: items, id: c.ID, hasID: true})
}

// scEpoch: SC.EPOCH shard key [key ...] -> the reset epoch of each key,
// once every write queued before it is applied.
func (s *Server) scEpoch(_ *resp.Session, args [][]byte) resp.Reply {
	c, err := resp.ParseKeys(args)
	if err != nil {
		return resp.Err(err)
	}
	if err := s.checkShard(c.Shard); err != nil {
		return resp.Err(err)
	}
	return s.submit(&op{kind: opEpoch, keys: c.Keys})
}

// scCover: SC.COVER shard key epoch from to [key epoch from to ...]
func (s *Server) scCover(_ *resp.Session, args [][]byte) resp.Reply {
	c, err := resp.ParseCover(args)
	if err != nil {
		return resp.Err(err)
	}
	if err := s.checkShard(c.Shard); err != nil {
		return resp.Err(err)
	}
	covers := make([]coverItem, len(c.Items))
	for i, it := range c.Items {
		covers[i] = coverItem{key: it.Key, epoch: it.Epoch, from: it.From, to: it.To}
	}
	return s.submit(&op{kind: opCover, covers: covers})
}

// incr answers plain INCR, DECR, INCRBY and DECRBY on this shard's partial.
func (s *Server) incr(_ *resp.Session, args [][]byte) resp.Reply {
	delta, err := resp.IncrDelta(args)
	if err != nil {
		return resp.Err(err)
	}
	return s.submit(&op{kind: opIncr, key: args[1], delta: delta, lo: min(0, delta), hi: max(0, delta)})
}

// scSet: SC.SET shard key value
func (s *Server) scSet(_ *resp.Session, args [][]byte) resp.Reply {
	c, err := resp.ParseSet(args)
	if err != nil {
		return resp.Err(err)
	}
	if err := s.checkShard(c.Shard); err != nil {
		return resp.Err(err)
	}
	return s.submit(&op{kind: opSet, key: c.Key, delta: c.Value})
}

// scDel: SC.DEL shard key [key ...] -> the number of keys that existed here.
func (s *Server) scDel(_ *resp.Session, args [][]byte) resp.Reply {
	c, err := resp.ParseKeys(args)
	if err != nil {
		return resp.Err(err)
	}
	if err := s.checkShard(c.Shard); err != nil {
		return resp.Err(err)
	}
	ops := make([]*op, len(c.Keys))
	for i, k := range c.Keys {
		ops[i] = &op{kind: opDel, key: k, fut: resp.NewFuture()}
		if err := s.w.submit(ops[i]); err != nil {
			// The ones queued before still complete; report the refusal.
			for _, o := range ops[:i] {
				o.fut.Wait()
			}
			return resp.Err(err)
		}
	}
	return resp.ReplyFunc(func(w resp.Writer) {
		var n int64
		for _, o := range ops {
			o.fut.Wait()
			if o.err != nil {
				w.WriteErr(o.err)
				return
			}
			n += o.val
		}
		w.WriteInt64(n)
	})
}

// scFlush: SC.FLUSH shard -> deletes every counter on this shard.
func (s *Server) scFlush(_ *resp.Session, args [][]byte) resp.Reply {
	c, err := resp.ParseShardCmd(args)
	if err != nil {
		return resp.Err(err)
	}
	if err := s.checkShard(c.Shard); err != nil {
		return resp.Err(err)
	}
	s.log.Info("flushing every counter on request")
	return s.submit(&op{kind: opFlush})
}
