package integration

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// soakCycles is the number of kill cycles TestSoak runs: -soak.cycles, or
// SOAK_CYCLES, or 1 (the short form `make test` runs). `make soak` runs 10.
var soakCycles = flag.Int("soak.cycles", envInt("SOAK_CYCLES", 1), "kill -9 cycles TestSoak runs (env SOAK_CYCLES)")

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// Timings of one soak cycle.
const (
	soakWorkers  = 50
	soakKeys     = 40
	soakWarmup   = 700 * time.Millisecond // load before the kill
	soakDown     = 2500 * time.Millisecond
	soakGrace    = time.Second            // the first second down is not held to the availability bound
	soakAfter    = 700 * time.Millisecond // load after the restart
	availability = 0.999
)

// TestSoak kills a random shard with SIGKILL under INCR load from 50
// clients, restarts it, and checks, every cycle:
//   - no acknowledged increment is missing, and no total ever exceeds the
//     increments sent (sampled during the run, and at the end);
//   - while the shard is down, writes succeed at >= 99.9% of the requests
//     that start after its first second down (they fail over);
//   - GET answers an error naming the shard while it is down, and the full
//     total once it is back.
//
// It prints one line of figures per cycle. `make test` runs one cycle;
// `make soak` runs 10 (SOAK_CYCLES=n for another number).
func TestSoak(t *testing.T) {
	cycles := *soakCycles
	c := startCluster(t, clusterOpts{})
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	var lines []string
	for cycle := 1; cycle <= cycles; cycle++ {
		victim := rng.IntN(len(c.shards))
		line := soakCycle(t, c, cycle, cycles, victim)
		lines = append(lines, line)
		t.Log(line)
		if t.Failed() {
			break
		}
	}
	if cycles > 1 {
		fmt.Printf("soak summary (%d cycles):\n%s\n", cycles, strings.Join(lines, "\n"))
	}
}

func soakCycle(t *testing.T, c *cluster, cycle, cycles, victim int) string {
	id := c.shards[victim].id
	g := newLoadGen(t, c.addr, c.password, fmt.Sprintf("soak%d", cycle), soakKeys, soakWorkers)
	g.start(soakWorkers)
	time.Sleep(soakWarmup)

	killedAt := time.Now()
	c.killShard(victim)
	time.Sleep(soakDown)
	restartAt := time.Now()
	c.startShard(victim)
	c.waitHealthy()
	time.Sleep(soakAfter)
	g.halt()

	// GET while the shard was down: an error naming it, never a sum.
	named, gets := 0, 0
	for _, r := range g.gets {
		if r.start.Before(killedAt.Add(50*time.Millisecond)) || !r.end.Before(restartAt) {
			continue
		}
		gets++
		switch {
		case r.err == nil:
			t.Errorf("cycle %d: GET answered %d while shard %s was down, want an error", cycle, r.val, id)
		case !strings.Contains(r.err.Error(), id):
			t.Errorf("cycle %d: GET error while %s was down does not name it: %v", cycle, id, r.err)
		default:
			named++
		}
	}
	if gets == 0 {
		t.Errorf("cycle %d: no GET ran while %s was down", cycle, id)
	}

	ok, total := g.window(killedAt.Add(soakGrace), restartAt)
	avail := 0.0
	if total > 0 {
		avail = float64(ok) / float64(total)
	}
	if total == 0 || avail < availability {
		t.Errorf("cycle %d: with %s down, %d of %d writes succeeded after the first second (%.3f%%), want >= %.1f%%; errors: %s",
			cycle, id, ok, total, 100*avail, 100*availability, g.errorSample(killedAt.Add(soakGrace), restartAt))
	}
	f := g.settle(t)
	if t.Failed() {
		c.logWriteMetrics()
	}
	return fmt.Sprintf("cycle %d/%d: killed %s: sent %d, acknowledged %d, stored %d, lost %d, double-counted %d, write availability %.3f%% (%d/%d writes after its first second down; %d GETs refused naming %s)",
		cycle, cycles, id, f.sent, f.acked, f.stored, f.lost, f.double, 100*avail, ok, total, named, id)
}
