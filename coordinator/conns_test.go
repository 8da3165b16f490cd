package coordinator

import (
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// countingProxy forwards connections to target and counts them.
func countingProxy(t *testing.T, target string, accepted *atomic.Int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				s, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer s.Close()
				go func() {
					io.Copy(s, c)
					s.Close()
				}()
				io.Copy(c, s)
			}()
		}
	}()
	return ln.Addr().String()
}

// TestConnsPerShard: the coordinator spreads its rounds to a shard over
// ConnsPerShard connections, and opens no more.
func TestConnsPerShard(t *testing.T) {
	// rueidis picks its own number of connections by GOMAXPROCS unless
	// told: make that number more than one, whatever the machine.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	for _, conns := range []int{1, 4} {
		t.Run(fmt.Sprint(conns), func(t *testing.T) {
			var accepted atomic.Int64
			tc := newTestCluster(t, 1, func(c *Config) {
				c.ConnsPerShard = conns
				c.Shards[0].Addr = countingProxy(t, c.Shards[0].Addr, &accepted)
			})
			ctx := context.Background()
			var wg sync.WaitGroup
			for i := range 20 {
				wg.Go(func() {
					for range 50 {
						if err := tc.client.Incr(ctx, fmt.Sprintf("k%d", i)).Err(); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			if v, err := tc.client.Get(ctx, "k7").Int64(); err != nil || v != 50 {
				t.Errorf("GET k7 = %d, %v; want 50", v, err)
			}
			if got := accepted.Load(); got != int64(conns) {
				t.Errorf("the shard got %d connections from the coordinator, want %d", got, conns)
			}
		})
	}
}
