package coordinator

import (
	"math"

	"github.com/shardcounter/shardcounter/resp"
)

// incr answers INCR, DECR, INCRBY and DECRBY.
func (s *Server) incr(_ *resp.Session, args [][]byte) resp.Reply {
	delta := int64(1)
	if len(args) == 3 {
		d, ok := resp.ParseInt(args[2])
		if !ok {
			return resp.Err(resp.ErrNotInteger)
		}
		delta = d
	}
	if args[0][0]|0x20 == 'd' { // DECR, DECRBY
		if delta == math.MinInt64 {
			return resp.ErrText("ERR decrement would overflow")
		}
		delta = -delta
	}
	q := newWriteReq(s.router, args[1], delta)
	s.router.incr(q)
	return q
}
