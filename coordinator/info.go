package coordinator

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/shardcounter/shardcounter/resp"
)

// info answers INFO [section ...] with a bulk string in Redis' format. It
// reports what the coordinator knows without asking the shards.
func (s *Server) info(sess *resp.Session, args [][]byte) resp.Reply {
	want := map[string]bool{}
	for _, a := range args[1:] {
		want[strings.ToLower(string(a))] = true
	}
	all := len(want) == 0 || want["all"] || want["everything"] || want["default"]
	var b strings.Builder
	section := func(name string, body func()) {
		if all || want[strings.ToLower(name)] {
			fmt.Fprintf(&b, "# %s\r\n", name)
			body()
			b.WriteString("\r\n")
		}
	}
	section("Server", func() {
		fmt.Fprintf(&b, "redis_version:%s\r\nshardcounter_version:%s\r\nshardcounter_role:coordinator\r\nredis_mode:standalone\r\n", resp.RedisVersion, Version)
		fmt.Fprintf(&b, "os:%s %s\r\narch_bits:64\r\nprocess_id:%d\r\n", runtime.GOOS, runtime.GOARCH, os.Getpid())
		fmt.Fprintf(&b, "tcp_port:%s\r\nuptime_in_seconds:%d\r\n", portOf(s.Addr()), int(time.Since(s.started).Seconds()))
	})
	section("Clients", func() {
		fmt.Fprintf(&b, "connected_clients:%d\r\n", s.clients.Load())
	})
	section("Persistence", func() {
		b.WriteString("loading:0\r\n")
	})
	section("Replication", func() {
		b.WriteString("role:master\r\nconnected_slaves:0\r\n")
	})
	section("Shards", func() {
		fmt.Fprintf(&b, "shards:%d\r\nspread:%d\r\n", len(s.shards), s.cfg.Spread)
		for _, sc := range s.shards {
			st := sc.status()
			state := "up"
			if !st.Up {
				state = "down"
			}
			fmt.Fprintf(&b, "shard_%s:addr=%s,state=%s,latency_us=%d%s\r\n", st.ID, st.Addr, state, st.Latency.Microseconds(), s.shardInfo(sc.idx, st))
		}
	})
	section("Keyspace", func() {})
	return resp.BulkString(b.String())
}

func portOf(a fmt.Stringer) string {
	if a == nil {
		return "0"
	}
	s := a.String()
	return s[strings.LastIndexByte(s, ':')+1:]
}
