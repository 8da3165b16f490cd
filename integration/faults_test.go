package integration

import (
	"bytes"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fault is what a faultProxy does to the next round trip.
type fault int32

const (
	passThrough fault = iota
	// dropReply forwards the coordinator's bytes to the shard (which
	// applies them) and drops what the shard sends back, then cuts the
	// connection: applied, never confirmed.
	dropReply
	// cutRequest forwards only the first part of the next chunk the
	// coordinator sends (a pipelined round, cut inside a command) and then
	// cuts the connection: some of the round applied, the rest not, no
	// reply for any of it.
	cutRequest
)

// faultProxy is a TCP proxy in front of a shard that injects one fault at a
// time, on whichever connection next carries traffic. It keeps listening,
// so the coordinator reconnects at once and retries through it.
type faultProxy struct {
	t      *testing.T
	addr   string
	target string
	ln     net.Listener
	armed  atomic.Int32
	fired  [3]atomic.Int64 // by fault
	mu     sync.Mutex
	conns  []net.Conn
	rng    *rand.Rand
	rngMu  sync.Mutex
	closed atomic.Bool
	// blackhole, while set, swallows every byte in both directions and
	// keeps the connections open: a shard that accepts and never answers.
	blackhole atomic.Bool
	// replyDelay, while not zero, holds every chunk the shard sends back
	// for that long (nanoseconds): a shard that answers slowly.
	replyDelay atomic.Int64
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	p := &faultProxy{t: t, addr: freeAddr(t), target: target, rng: rand.New(rand.NewPCG(3, 4))}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.ln = ln
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	t.Cleanup(func() {
		p.closed.Store(true)
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	return p
}

func (p *faultProxy) arm(f fault) { p.armed.Store(int32(f)) }

// take disarms f if it is armed, so that one fault fires once.
func (p *faultProxy) take(f fault) bool {
	if p.armed.CompareAndSwap(int32(f), int32(passThrough)) {
		p.fired[f].Add(1)
		return true
	}
	return false
}

func (p *faultProxy) serve(client net.Conn) {
	shard, err := net.DialTimeout("tcp", p.target, time.Second)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, client, shard)
	p.mu.Unlock()
	cut := func() {
		client.Close()
		shard.Close()
	}
	var dropping atomic.Bool
	// shard -> coordinator
	go func() {
		defer cut()
		buf := make([]byte, 64<<10)
		for {
			n, err := shard.Read(buf)
			if n > 0 && dropping.Load() {
				return // the reply to applied writes is lost, then the cut
			}
			if d := p.replyDelay.Load(); n > 0 && d > 0 {
				time.Sleep(time.Duration(d))
			}
			if n > 0 && !p.blackhole.Load() {
				if _, err := client.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	// coordinator -> shard
	defer cut()
	buf := make([]byte, 64<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 && p.blackhole.Load() {
			n = 0 // swallowed
		}
		if n > 0 {
			chunk := buf[:n]
			writes := bytes.Contains(chunk, []byte("SC.MINCR")) // not probes
			switch {
			case writes && n > 1 && p.take(cutRequest):
				p.rngMu.Lock()
				k := 1 + p.rng.IntN(n-1)
				p.rngMu.Unlock()
				shard.Write(chunk[:k])
				time.Sleep(20 * time.Millisecond) // let the shard read the part
				return
			case writes && p.take(dropReply):
				dropping.Store(true)
			}
			if _, err := shard.Write(chunk); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestFaultsNeverCountTwice puts a proxy between the coordinator and one
// shard that, over and over under INCR load from 30 clients, drops the
// shard's reply to writes it has applied, and cuts connections in the
// middle of a pipelined round. The coordinator must retry those writes on
// the same shard with the same request ids (the shard answers a repeat
// with the original reply) and never send them elsewhere: at the end every
// acknowledged increment is counted, none twice, and no total exceeds the
// increments sent.
func TestFaultsNeverCountTwice(t *testing.T) {
	var proxy *faultProxy
	c := startCluster(t, clusterOpts{
		coordArgs: []string{"--shard-timeout", "300ms", "--write-timeout", "2s"},
		front: func(i int, addr string) string {
			if i > 0 {
				return addr
			}
			proxy = newFaultProxy(t, addr)
			return proxy.addr
		},
	})

	g := newLoadGen(t, c.addr, "", "faults", 30, 30)
	g.start(30)
	// One fault at a time: arm it, wait until a write round hits it, and
	// let the coordinator re-admit the shard before the next one.
	for i := 0; i < 8; i++ {
		f := dropReply
		if i%2 == 1 {
			f = cutRequest
		}
		before := proxy.fired[f].Load()
		proxy.arm(f)
		for wait := time.Now().Add(2 * time.Second); proxy.fired[f].Load() == before && time.Now().Before(wait); {
			time.Sleep(5 * time.Millisecond)
		}
		proxy.arm(passThrough)
		c.waitHealthy()
		time.Sleep(100 * time.Millisecond)
	}
	proxy.arm(passThrough)
	c.waitHealthy()
	time.Sleep(300 * time.Millisecond)
	g.halt()
	f := g.settle(t)
	retries := c.metricValue("shardcounter_write_retries_total")
	failedOK, failedTotal := g.window(time.Time{}, time.Now())
	t.Logf("faults fired: %d replies dropped, %d pipelines cut; %v writes retried with the same id; sent %d, acknowledged %d (%d/%d requests ok), stored %d, lost %d, double-counted %d",
		proxy.fired[dropReply].Load(), proxy.fired[cutRequest].Load(), retries, f.sent, f.acked, failedOK, failedTotal, f.stored, f.lost, f.double)
	if proxy.fired[dropReply].Load() < 4 || proxy.fired[cutRequest].Load() < 4 {
		t.Errorf("too few faults fired to prove anything: %d dropped replies, %d cut pipelines",
			proxy.fired[dropReply].Load(), proxy.fired[cutRequest].Load())
	}
	if retries == 0 {
		t.Error("no write was retried: the faults never hit a write in flight")
	}
	if t.Failed() {
		c.logWriteMetrics()
	}
}
