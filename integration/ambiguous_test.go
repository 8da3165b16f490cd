package integration

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// cutProxy is a TCP proxy in front of a shard. Armed with a key, it
// forwards the first request that names the key, drops the shard's reply,
// and then closes every connection and its listener: the shard applied the
// write, the coordinator never hears so, and the shard is unreachable.
// reopen listens again on the same address, passing everything through.
type cutProxy struct {
	t      *testing.T
	addr   string // where the proxy listens
	target string // the shard

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
	key   []byte // armed when not nil
	cut   bool   // the request naming key went out; drop what comes back
	fired chan struct{}
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	p := &cutProxy{t: t, addr: freeAddr(t), target: target, fired: make(chan struct{})}
	p.listen()
	t.Cleanup(p.close)
	return p
}

func (p *cutProxy) listen() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy listen %s: %v", p.addr, err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
}

func (p *cutProxy) arm(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.key = []byte(key)
}

// close closes the listener and every connection.
func (p *cutProxy) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *cutProxy) reopen() {
	p.mu.Lock()
	p.key, p.cut = nil, false
	p.mu.Unlock()
	p.listen()
}

func (p *cutProxy) serve(client net.Conn) {
	shard, err := net.DialTimeout("tcp", p.target, time.Second)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, client, shard)
	p.mu.Unlock()
	// shard -> client, unless the cut has happened.
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := shard.Read(buf)
			p.mu.Lock()
			cut := p.cut
			p.mu.Unlock()
			if cut {
				// The reply to the armed request: drop it, and the shard
				// becomes unreachable.
				p.close()
				select {
				case <-p.fired:
				default:
					close(p.fired)
				}
				return
			}
			if n > 0 {
				if _, werr := client.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				client.Close()
				return
			}
		}
	}()
	// client -> shard, noting when the armed request goes out.
	buf := make([]byte, 64<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			p.mu.Lock()
			if p.key != nil && !p.cut && bytes.Contains(buf[:n], p.key) {
				p.cut = true // before the write: its reply cannot come sooner
			}
			p.mu.Unlock()
			if _, werr := shard.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				shard.Close()
			}
			return
		}
	}
}

// TestAmbiguousWriteIsNotReplayedElsewhere: an increment the shard applied
// but whose reply was lost (the shard then unreachable) has an unknown
// outcome. The coordinator may retry it on the same shard with the same
// request id, or fail it as ambiguous, but must never send it to another
// shard: that would apply it twice (DESIGN.md, Routing and invariant 3).
func TestAmbiguousWriteIsNotReplayedElsewhere(t *testing.T) {
	ctx := context.Background()
	var proxy *cutProxy
	c := startCluster(t, clusterOpts{
		coordArgs: []string{"--shard-timeout", "300ms", "--write-timeout", "1s"},
		front: func(i int, addr string) string {
			if i > 0 {
				return addr
			}
			proxy = newCutProxy(t, addr)
			return proxy.addr
		},
	})
	rdb := c.client()

	key := keyOn(t, rdb, "s1", "ambiguous") // holds 1, on s1
	proxy.arm(key)
	v, incrErr := rdb.Incr(ctx, key).Result()
	select {
	case <-proxy.fired:
	default:
		t.Fatalf("the proxy never cut the INCR of %s (INCR: %d, %v)", key, v, incrErr)
	}
	t.Logf("INCR with its reply lost: %d, %v", v, incrErr)

	proxy.reopen()
	c.waitHealthy()
	// s1 applied the increment once; the total must count it once.
	if got := waitGet(t, rdb, key); got != 2 {
		t.Errorf("GET %s = %d after one INCR whose reply was lost, want 2: SHARDVALUES %v",
			key, got, shardValues(t, rdb, key))
	}
	if incrErr == nil && v != 2 {
		t.Errorf("INCR %s replied %d, want 2", key, v)
	}
}
