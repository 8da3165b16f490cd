package coordinator

import (
	"github.com/shardcounter/shardcounter/resp"
)

// incr answers INCR, DECR, INCRBY and DECRBY.
func (s *Server) incr(_ *resp.Session, args [][]byte) resp.Reply {
	delta, err := resp.IncrDelta(args)
	if err != nil {
		return resp.Err(err)
	}
	q := newWriteReq(s.router, args[1], delta)
	s.router.incr(q)
	return q
}
