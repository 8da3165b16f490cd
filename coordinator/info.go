package coordinator

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/shardcounter/shardcounter/resp"
)

// info answers INFO [section ...] in Redis' format (see resp.Info). It
// reports what the coordinator knows without asking the shards.
func (s *Server) info(_ *resp.Session, args [][]byte) resp.Reply {
	in := resp.NewInfo(args)
	in.Section("Server", func(w *resp.InfoSection) {
		w.Field("redis_version", resp.RedisVersion)
		w.Field("shardcounter_version", Version)
		w.Field("shardcounter_role", "coordinator")
		w.Field("redis_mode", "standalone")
		w.Printf("os:%s %s", runtime.GOOS, runtime.GOARCH)
		w.Field("arch_bits", 64)
		w.Field("process_id", os.Getpid())
		w.Field("tcp_port", portOf(s.Addr()))
		w.Field("uptime_in_seconds", int(time.Since(s.started).Seconds()))
	})
	in.Section("Clients", func(w *resp.InfoSection) {
		w.Field("connected_clients", s.clients.Load())
	})
	in.Section("Persistence", func(w *resp.InfoSection) {
		w.Field("loading", 0)
	})
	in.Section("Replication", func(w *resp.InfoSection) {
		w.Field("role", "master")
		w.Field("connected_slaves", 0)
	})
	in.Section("Shards", func(w *resp.InfoSection) {
		w.Field("shards", len(s.shards))
		w.Field("spread", s.cfg.Spread)
		for _, sc := range s.shards {
			st := sc.status()
			state := "up"
			if !st.Up {
				state = "down"
			}
			w.Printf("shard_%s:addr=%s,state=%s,latency_us=%d%s", st.ID, st.Addr, state, st.Latency.Microseconds(), s.shardInfo(sc.idx, st))
		}
	})
	in.Section("Keyspace", func(*resp.InfoSection) {})
	return in.Reply()
}

func portOf(a fmt.Stringer) string {
	if a == nil {
		return "0"
	}
	s := a.String()
	return s[strings.LastIndexByte(s, ':')+1:]
}
