package coordinator

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardcounter/shardcounter/resp"
)

// getJSON GETs path from the coordinator's HTTP API and decodes the body
// into v. It returns the status code.
func (tc *testCluster) getJSON(path, token string, v any) int {
	tc.t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+tc.coord.HTTPAddr().String()+path, nil)
	if err != nil {
		tc.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tc.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		tc.t.Fatal(err)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			tc.t.Fatalf("GET %s: %v in %s", path, err, body)
		}
	}
	return res.StatusCode
}

// eventually retries f every 20ms until it returns "" or 5 seconds pass.
func eventually(t *testing.T, f func() string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		msg := f()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDashboardStatic(t *testing.T) {
	tc := newTestCluster(t, 1)
	base := "http://" + tc.coord.HTTPAddr().String()
	for _, c := range []struct {
		path, ctype, contains string
	}{
		{"/", "text/html", `<script src="app.js"`},
		{"/app.js", "javascript", "/api/cluster"},
		{"/style.css", "text/css", "--writes"},
	} {
		res, err := http.Get(base + c.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), c.ctype) || !strings.Contains(string(body), c.contains) {
			t.Errorf("GET %s: %d %s, body has %q: %v", c.path, res.StatusCode, res.Header.Get("Content-Type"), c.contains, strings.Contains(string(body), c.contains))
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", c.path, csp)
		}
	}
	if res, err := http.Get(base + "/nope.js"); err != nil || res.StatusCode != 404 {
		t.Errorf("GET /nope.js: %v %v, want 404", res.StatusCode, err)
	}
	if res, err := http.Post(base+"/", "text/plain", nil); err != nil || res.StatusCode != 405 {
		t.Errorf("POST /: %v %v, want 405", res.StatusCode, err)
	}
	// The existing routes are untouched.
	if res, err := http.Get(base + "/health"); err != nil || res.StatusCode != 200 {
		t.Errorf("GET /health: %v %v", res.StatusCode, err)
	}
}

func TestAPICluster(t *testing.T) {
	tc := newTestCluster(t, 3)
	ctx := context.Background()
	for i := 0; i < 40; i++ {
		key := []string{"a", "b", "c", "d", "e"}[i%5]
		if err := tc.client.IncrBy(ctx, key, 2).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := tc.client.Get(ctx, "a").Err(); err != nil {
		t.Fatal(err)
	}
	var c apiCluster
	eventually(t, func() string {
		c = apiCluster{}
		if code := tc.getJSON("/api/cluster", "", &c); code != 200 {
			return "status " + http.StatusText(code)
		}
		var counters, writes int64
		for _, s := range c.Shards {
			if s.Counters != nil {
				counters += *s.Counters
			}
			writes += s.Writes
		}
		if c.ShardsUp != 3 || len(c.Shards) != 3 || counters != 5 || writes < 1 || len(c.Ops.T) < 1 {
			b, _ := json.Marshal(c)
			return "cluster never showed 3 shards up with 5 counters, writes and an ops sample: " + string(b)
		}
		return ""
	})
	for i, s := range c.Shards {
		if s.ID != tc.addrs[i].ID || s.Addr != tc.addrs[i].Addr || !s.Up || s.StatsAgeMs == nil {
			t.Errorf("shard %d: %+v", i, s)
		}
	}
	// The ops history counts the 40 increments and the GET.
	var reads, writes float64
	for i := range c.Ops.T {
		reads += c.Ops.Reads[i]
		writes += c.Ops.Writes[i]
	}
	if writes < 1 || len(c.Ops.Reads) != len(c.Ops.T) {
		t.Errorf("ops history %+v", c.Ops)
	}

	// INFO shards carries the same figures, for `shardcounter status`.
	info, err := tc.client.Info(ctx, "shards").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"shard_s1:addr=" + tc.addrs[0].Addr + ",state=up,latency_us=", ",counters=", ",writes_per_sec="} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO shards lacks %q:\n%s", want, info)
		}
	}

	tc.stopShard(1)
	eventually(t, func() string {
		c = apiCluster{}
		tc.getJSON("/api/cluster", "", &c)
		s := c.Shards[1]
		if c.ShardsUp != 2 || s.Up || s.Error == "" || s.WritesPerSec != 0 {
			return "stopped shard s2 never shown down with an error"
		}
		return ""
	})
	info, _ = tc.client.Info(ctx, "shards").Result()
	if !strings.Contains(info, "shard_s2:addr="+tc.addrs[1].Addr+",state=down") || !strings.Contains(info, ",err=") {
		t.Errorf("INFO shards with s2 down:\n%s", info)
	}
}

func TestAPICounter(t *testing.T) {
	tc := newTestCluster(t, 3, func(c *Config) { c.Spread = 3 })
	ctx := context.Background()
	for i := 0; i < 30; i++ {
		if err := tc.client.IncrBy(ctx, "likes", 3).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := tc.client.IncrBy(ctx, "a/b c?d", -4).Err(); err != nil {
		t.Fatal(err)
	}
	want, err := tc.client.Do(ctx, "SHARDVALUES", "likes").Result()
	if err != nil {
		t.Fatal(err)
	}
	var v apiCounterView
	if code := tc.getJSON("/api/counters/likes", "", &v); code != 200 {
		t.Fatalf("status %d: %+v", code, v)
	}
	if v.Counter != "likes" || v.Total == nil || *v.Total != 90 || !v.Complete || !v.Exists || len(v.Partials) != 3 {
		t.Fatalf("view %+v", v)
	}
	var sum int64
	nonZero := 0
	for i, p := range v.Partials {
		if p.Shard != tc.addrs[i].ID || p.Value == nil || !p.Up {
			t.Fatalf("partial %d: %+v", i, p)
		}
		sum += *p.Value
		if *p.Value != 0 {
			nonZero++
		}
	}
	if sum != 90 || nonZero < 2 {
		t.Errorf("partials %+v (SHARDVALUES %v): want a split summing to 90", v.Partials, want)
	}

	// Any key, escaped in the path.
	v = apiCounterView{}
	if code := tc.getJSON("/api/counters/"+url.PathEscape("a/b c?d"), "", &v); code != 200 || v.Counter != "a/b c?d" || v.Total == nil || *v.Total != -4 {
		t.Errorf("escaped key: %d %+v", code, v)
	}
	v = apiCounterView{}
	if code := tc.getJSON("/api/counters/nothing-here", "", &v); code != 200 || v.Exists || v.Total == nil || *v.Total != 0 {
		t.Errorf("missing key: %d %+v", code, v)
	}

	// A shard down: 503, no total, the other partials still shown.
	tc.stopShard(2)
	tc.waitShard(2, false)
	v = apiCounterView{}
	code := tc.getJSON("/api/counters/likes", "", &v)
	if code != 503 || v.Total != nil || v.Complete || !strings.Contains(v.Error, "s3") {
		t.Fatalf("with s3 down: %d %+v", code, v)
	}
	if v.Partials[2].Value != nil || v.Partials[2].Error == "" || v.Partials[0].Value == nil || v.Partials[1].Value == nil {
		t.Errorf("partials with s3 down: %+v", v.Partials)
	}
}

func TestAPIHot(t *testing.T) {
	tc := newTestCluster(t, 2, func(c *Config) { c.Spread = 2 })
	ctx := context.Background()
	for i := 0; i < 60; i++ {
		if err := tc.client.Incr(ctx, "hot").Err(); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			if err := tc.client.IncrBy(ctx, "warm", 5).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	var h apiHot
	eventually(t, func() string {
		h = apiHot{}
		if code := tc.getJSON("/api/hot?n=5", "", &h); code != 200 {
			return "status " + http.StatusText(code)
		}
		if len(h.Counters) != 2 {
			return "hot counters never showed hot and warm"
		}
		return ""
	})
	hot, warm := h.Counters[0], h.Counters[1]
	if hot.Counter != "hot" || warm.Counter != "warm" || hot.WritesPerSec <= warm.WritesPerSec {
		t.Fatalf("order: %+v", h.Counters)
	}
	if hot.Total == nil || *hot.Total != 60 || warm.Total == nil || *warm.Total != 30 || warm.AmountPerSec != 5*warm.WritesPerSec {
		t.Errorf("totals: %+v %+v", hot, warm)
	}
	if len(h.Shards) != 2 || len(hot.Partials) != 2 || *hot.Partials[0].Value == 0 || *hot.Partials[1].Value == 0 {
		t.Errorf("hot counter's split with spread 2: %+v", hot.Partials)
	}
	if code := tc.getJSON("/api/hot?n=0", "", nil); code != 400 {
		t.Errorf("n=0: %d, want 400", code)
	}
}

func TestAPIToken(t *testing.T) {
	tc := newTestCluster(t, 1, func(c *Config) { c.Password = "sesame" })
	for _, p := range []string{"/api/cluster", "/api/hot", "/api/counters/x"} {
		if code := tc.getJSON(p, "", nil); code != 401 {
			t.Errorf("%s without token: %d, want 401", p, code)
		}
		if code := tc.getJSON(p, "wrong", nil); code != 401 {
			t.Errorf("%s with a wrong token: %d, want 401", p, code)
		}
		if code := tc.getJSON(p, "sesame", nil); code != 200 {
			t.Errorf("%s with the token: %d, want 200", p, code)
		}
	}
	// The page itself needs no token: it asks for one.
	res, err := http.Get("http://" + tc.coord.HTTPAddr().String() + "/")
	if err != nil || res.StatusCode != 200 {
		t.Errorf("GET / with a password set: %v %v", res.StatusCode, err)
	}
}

// freezer is a TCP proxy in front of a shard that can stop forwarding, as a
// shard that hangs (a stuck disk, a full pause) would.
type freezer struct {
	ln     net.Listener
	frozen atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
	// gets counts the SC.GET commands it passed on to the shard.
	gets atomic.Int64
	// freezeOn, when set, freezes the proxy as soon as the coordinator
	// sends a chunk containing it, and holds that chunk.
	freezeOn atomic.Pointer[string]
}

func newFreezer(t *testing.T, target string) *freezer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			f.mu.Lock()
			f.conns = append(f.conns, c, u)
			f.mu.Unlock()
			go f.pipe(c, u, nil)
			go f.pipe(u, c, &f.gets)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, c := range f.conns {
			c.Close()
		}
	})
	return f
}

// pipe copies src to dst, holding what it read while frozen. gets, when
// not nil, counts the SC.GET commands that went through.
func (f *freezer) pipe(dst, src net.Conn, gets *atomic.Int64) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if p := f.freezeOn.Load(); p != nil && bytes.Contains(buf[:n], []byte(*p)) {
			f.frozen.Store(true)
		}
		for f.frozen.Load() {
			time.Sleep(5 * time.Millisecond)
		}
		if gets != nil {
			gets.Add(int64(bytes.Count(buf[:n], []byte(resp.CmdGet))))
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

func TestAPIClusterFastWhenShardHangs(t *testing.T) {
	// Shard s2 sits behind a proxy that can freeze.
	tc0 := newTestCluster(t, 2)
	fz := newFreezer(t, tc0.addrs[1].Addr)
	tc := newTestCluster(t, 0, func(c *Config) {
		c.Shards = []ShardAddr{tc0.addrs[0], {ID: "s2", Addr: fz.ln.Addr().String()}}
		c.ShardTimeout = 800 * time.Millisecond
		c.WriteTimeout = 2 * time.Second
	})
	var c apiCluster
	eventually(t, func() string {
		c = apiCluster{}
		tc.getJSON("/api/cluster", "", &c)
		if c.ShardsUp != 2 || c.Shards[1].StatsAgeMs == nil {
			return "s2 never up with stats"
		}
		return ""
	})
	fz.frozen.Store(true)
	defer fz.frozen.Store(false)
	// For the next two seconds s2 hangs: its SC.STATS poll and probes wait
	// for the shard timeout. /api/cluster must not.
	var slowest time.Duration
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
		start := time.Now()
		c = apiCluster{}
		if code := tc.getJSON("/api/cluster", "", &c); code != 200 {
			t.Fatalf("status %d", code)
		}
		slowest = max(slowest, time.Since(start))
		time.Sleep(50 * time.Millisecond)
	}
	if slowest > 200*time.Millisecond {
		t.Errorf("/api/cluster took %s while a shard hung", slowest)
	}
	if c.Shards[1].Up {
		t.Errorf("hung shard still shown up after 2s: %+v", c.Shards[1])
	}
}

// A dashboard client that goes away while its lookup waits for a shard
// says nothing about that shard: the shard's breaker stays closed, and
// other clients' reads and writes go on as before. (The cancelled lookup
// used to open the breaker of every shard it was waiting for, so GETs
// failed with "SHARDDOWN ... context canceled" and writes failed over,
// until the next probe.)
func TestCancelledAPILookupKeepsShardsUp(t *testing.T) {
	back := newTestCluster(t, 2)
	fz := newFreezer(t, back.addrs[0].Addr)
	tc := newTestCluster(t, 0, func(c *Config) {
		c.Shards = []ShardAddr{{ID: back.addrs[0].ID, Addr: fz.ln.Addr().String()}, back.addrs[1]}
		c.ShardTimeout, c.WriteTimeout = 5*time.Second, 10*time.Second
		c.ProbeInterval = time.Hour // only the breaker's own verdict counts here
	})
	ctx := t.Context()
	if err := tc.client.IncrBy(ctx, "k", 7).Err(); err != nil {
		t.Fatal(err)
	}

	fz.frozen.Store(true) // s1 is slow, well within the shard timeout
	rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	req, _ := http.NewRequestWithContext(rctx, "GET", "http://"+tc.coord.HTTPAddr().String()+"/api/counters/k", nil)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Logf("the lookup answered %d before the client gave up", res.StatusCode)
	}
	cancel()
	time.Sleep(200 * time.Millisecond) // the server sees the client go
	fz.frozen.Store(false)

	for _, sc := range tc.coord.shards {
		if st := sc.status(); !st.Up {
			t.Errorf("shard %s marked down after a client gave up on a lookup: %s", st.ID, st.Err)
		}
	}
	if v, err := tc.client.Get(ctx, "k").Int64(); err != nil || v != 7 {
		t.Errorf("GET k after a client gave up on a lookup: %d, %v; want 7", v, err)
	}
}
