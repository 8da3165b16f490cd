package coordinator

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/shardcounter/shardcounter/internal/resptest"
)

// Clients that disconnect in the middle of a pipeline, with some of its
// commands waiting for a shard that hangs, leave nothing behind: once the
// shard answers again, the coordinator runs as many goroutines as before.
func TestDisconnectMidPipelineLeaksNothing(t *testing.T) {
	tc, fz, _ := frozenCluster(t, 2, 300*time.Millisecond, time.Second)
	// Warm up: connections to both shards, the client pool.
	for i := range 50 {
		if err := tc.client.Incr(t.Context(), fmt.Sprintf("w%d", i)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	tc.client.Close()
	time.Sleep(200 * time.Millisecond)
	before := runtime.NumGoroutine()

	var pipeline []byte
	for i := range 200 {
		k := fmt.Sprintf("k%d", i%40)
		pipeline = append(pipeline, resptest.Encode("INCR", k)...)
		if i%10 == 0 {
			pipeline = append(pipeline, resptest.Encode("GET", k)...)
			pipeline = append(pipeline, resptest.Encode("SHARDVALUES", k)...)
		}
	}
	fz.frozen.Store(true)
	for range 20 {
		c := tc.raw()
		c.Write(pipeline)
		c.C.Close()
	}
	time.Sleep(500 * time.Millisecond)
	fz.frozen.Store(false)
	tc.waitShard(0, true)
	var now int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if now = runtime.NumGoroutine(); now <= before {
			return
		}
	}
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	t.Fatalf("%d goroutines 10 s after the clients left, %d before:\n%s", now, before, buf)
}
