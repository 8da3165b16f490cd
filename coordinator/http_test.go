package coordinator

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// httpReply is a decoded JSON answer of the coordinator's HTTP API.
type httpReply struct {
	code   int
	header http.Header
	raw    string
	body   map[string]any
}

func (r httpReply) num(t *testing.T, field string) int64 {
	t.Helper()
	n, ok := r.body[field].(json.Number)
	if !ok {
		t.Fatalf("field %s is %#v, want a number, in %s", field, r.body[field], r.raw)
	}
	v, err := n.Int64()
	if err != nil {
		t.Fatalf("field %s = %s: %v", field, n, err)
	}
	return v
}

func (r httpReply) shardValues(t *testing.T) map[string]int64 {
	t.Helper()
	m, ok := r.body["shardValues"].(map[string]any)
	if !ok {
		t.Fatalf("shardValues is %#v in %s", r.body["shardValues"], r.raw)
	}
	out := map[string]int64{}
	for k, v := range m {
		n, err := v.(json.Number).Int64()
		if err != nil {
			t.Fatal(err)
		}
		out[k] = n
	}
	return out
}

func (tc *testCluster) httpDo(method, path, body string, header map[string]string) httpReply {
	tc.t.Helper()
	url := "http://" + tc.coord.HTTPAddr().String() + path
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		tc.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		tc.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tc.t.Fatal(err)
	}
	r := httpReply{code: res.StatusCode, header: res.Header, raw: string(b)}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&r.body); err != nil {
			tc.t.Fatalf("%s %s: JSON answer %q: %v", method, path, b, err)
		}
	}
	return r
}

func (tc *testCluster) sharded(body string) httpReply {
	tc.t.Helper()
	return tc.httpDo(http.MethodPost, "/sharded", body, nil)
}

// ok checks a successful /sharded answer.
func (r httpReply) ok(t *testing.T) httpReply {
	t.Helper()
	if r.code != http.StatusOK || r.body["success"] != true || r.body["message"] == "" {
		t.Fatalf("want 200 with success true: %d %s", r.code, r.raw)
	}
	if n := r.num(t, "shardCount"); n != 3 {
		t.Fatalf("shardCount %d in %s", n, r.raw)
	}
	return r
}

// failed checks a /sharded error answer.
func (r httpReply) failed(t *testing.T, code int, what string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: status %d, want %d: %s", what, r.code, code, r.raw)
	}
	if r.body == nil || r.body["success"] != false {
		t.Fatalf("%s: want JSON with success false: %s", what, r.raw)
	}
	if msg, _ := r.body["message"].(string); msg == "" {
		t.Fatalf("%s: no message: %s", what, r.raw)
	}
}

func TestHTTPShardedContract(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3)
	owner := tc.addrs[tc.coord.ring.Owner([]byte("likes"))].ID

	r := tc.sharded(`{"counterId":"likes","operationType":"INCREMENT","delta":5}`).ok(t)
	if r.num(t, "totalValue") != 5 || r.num(t, "shardValue") != 5 || r.body["counterId"] != "likes" || r.body["shardId"] != owner {
		t.Fatalf("INCREMENT 5: %s", r.raw)
	}
	r = tc.sharded(`{"counterId":"likes","operationType":"INCREMENT"}`).ok(t)
	if r.num(t, "totalValue") != 6 || r.num(t, "shardValue") != 6 {
		t.Fatalf("INCREMENT without delta: %s", r.raw)
	}
	r = tc.sharded(`{"counterId":"likes","operationType":"DECREMENT","delta":2}`).ok(t)
	if r.num(t, "totalValue") != 4 || r.num(t, "shardValue") != 4 {
		t.Fatalf("DECREMENT 2: %s", r.raw)
	}
	r = tc.sharded(`{"counterId":"likes","operationType":"INCREMENT","delta":-1}`).ok(t)
	if r.num(t, "totalValue") != 3 {
		t.Fatalf("INCREMENT -1: %s", r.raw)
	}
	r = tc.sharded(`{"counterId":"likes","operationType":"DECREMENT","delta":null}`).ok(t)
	if r.num(t, "totalValue") != 2 {
		t.Fatalf("DECREMENT with delta null: %s", r.raw)
	}

	for _, op := range []string{"GET_TOTAL", "GET_SHARD_VALUES"} {
		r = tc.sharded(`{"counterId":"likes","operationType":"` + op + `"}`).ok(t)
		sv := r.shardValues(t)
		if r.num(t, "totalValue") != 2 || len(sv) != 3 || sv[owner] != 2 {
			t.Fatalf("%s: %s", op, r.raw)
		}
		var sum int64
		for _, a := range tc.addrs {
			v, ok := sv[a.ID]
			if !ok {
				t.Fatalf("%s lacks shard %s: %s", op, a.ID, r.raw)
			}
			sum += v
		}
		if sum != 2 {
			t.Fatalf("%s: shardValues sum to %d: %s", op, sum, r.raw)
		}
	}
	// A counter nobody wrote is 0.
	r = tc.sharded(`{"counterId":"never","operationType":"GET_TOTAL"}`).ok(t)
	if r.num(t, "totalValue") != 0 {
		t.Fatalf("GET_TOTAL of a new counter: %s", r.raw)
	}
	// RESP and HTTP see the same counter.
	if v, err := tc.client.Get(ctx, "likes").Int64(); err != nil || v != 2 {
		t.Fatalf("GET likes over RESP = %d %v", v, err)
	}
	if err := tc.client.IncrBy(ctx, "likes", 10).Err(); err != nil {
		t.Fatal(err)
	}
	if r = tc.sharded(`{"counterId":"likes","operationType":"GET_TOTAL"}`).ok(t); r.num(t, "totalValue") != 12 {
		t.Fatalf("GET_TOTAL after RESP INCRBY: %s", r.raw)
	}

	// Overflow is refused and changes nothing.
	r = tc.sharded(`{"counterId":"likes","operationType":"INCREMENT","delta":9223372036854775807}`)
	r.failed(t, http.StatusBadRequest, "INCREMENT past int64")
	if !strings.Contains(r.body["message"].(string), "overflow") {
		t.Fatalf("overflow message: %s", r.raw)
	}
	r = tc.sharded(`{"counterId":"likes","operationType":"DECREMENT","delta":-9223372036854775808}`)
	r.failed(t, http.StatusBadRequest, "DECREMENT MinInt64")
	if r.body["message"] != "ERR decrement would overflow" || r.body["counterId"] != "likes" {
		t.Fatalf("DECREMENT MinInt64, as DECRBY answers it: %s", r.raw)
	}
	// -0 is a JSON integer.
	if r = tc.sharded(`{"counterId":"likes","operationType":"INCREMENT","delta":-0}`).ok(t); r.num(t, "totalValue") != 12 {
		t.Fatalf("INCREMENT by -0: %s", r.raw)
	}
	if r = tc.sharded(`{"counterId":"likes","operationType":"GET_TOTAL"}`).ok(t); r.num(t, "totalValue") != 12 {
		t.Fatalf("GET_TOTAL after refused writes: %s", r.raw)
	}
	// The full int64 range is usable.
	r = tc.sharded(`{"counterId":"big","operationType":"INCREMENT","delta":9223372036854775807}`).ok(t)
	if r.num(t, "totalValue") != 9223372036854775807 {
		t.Fatalf("INCREMENT MaxInt64: %s", r.raw)
	}
}

func TestHTTPBadRequests(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3)
	for _, tt := range []struct{ what, body string }{
		{"empty body", ``},
		{"bad JSON", `{`},
		{"not JSON", `counterId=x&operationType=INCREMENT`},
		{"JSON array", `[1,2]`},
		{"two values", `{"counterId":"x","operationType":"INCREMENT"} {}`},
		{"unknown operationType", `{"counterId":"x","operationType":"MULTIPLY","delta":2}`},
		{"lower-case operationType", `{"counterId":"x","operationType":"increment"}`},
		{"missing operationType", `{"counterId":"x","delta":1}`},
		{"missing counterId", `{"operationType":"INCREMENT","delta":1}`},
		{"empty counterId", `{"counterId":"","operationType":"INCREMENT"}`},
		{"numeric counterId", `{"counterId":5,"operationType":"INCREMENT"}`},
		{"fractional delta", `{"counterId":"x","operationType":"INCREMENT","delta":1.5}`},
		{"string delta", `{"counterId":"x","operationType":"INCREMENT","delta":"5"}`},
		{"exponent delta", `{"counterId":"x","operationType":"INCREMENT","delta":1e3}`},
		{"negative zero fraction", `{"counterId":"x","operationType":"INCREMENT","delta":-0.0}`},
		{"delta past int64", `{"counterId":"x","operationType":"INCREMENT","delta":9223372036854775808}`},
		{"boolean delta", `{"counterId":"x","operationType":"DECREMENT","delta":true}`},
		{"array delta", `{"counterId":"x","operationType":"INCREMENT","delta":[1]}`},
		{"object delta", `{"counterId":"x","operationType":"INCREMENT","delta":{}}`},
	} {
		tc.sharded(tt.body).failed(t, http.StatusBadRequest, tt.what)
	}
	// None of them wrote anything.
	if n, err := tc.client.Exists(ctx, "x").Result(); err != nil || n != 0 {
		t.Fatalf("a refused request created the counter: EXISTS x = %d %v", n, err)
	}

	big := `{"counterId":"` + strings.Repeat("a", 70<<10) + `","operationType":"INCREMENT"}`
	tc.sharded(big).failed(t, http.StatusRequestEntityTooLarge, "oversize body")

	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		r := tc.httpDo(method, "/sharded", "", nil)
		r.failed(t, http.StatusMethodNotAllowed, method+" /sharded")
		if r.header.Get("Allow") != http.MethodPost {
			t.Fatalf("%s /sharded: Allow %q", method, r.header.Get("Allow"))
		}
	}
	if r := tc.httpDo(http.MethodGet, "/nope", "", nil); r.code != http.StatusNotFound {
		t.Fatalf("GET /nope: %d", r.code)
	}
}

func TestHTTPShardDown(t *testing.T) {
	tc := newTestCluster(t, 3)
	r := tc.httpDo(http.MethodGet, "/health", "", nil)
	if r.code != http.StatusOK || r.body["status"] != "ok" {
		t.Fatalf("/health with every shard up: %d %s", r.code, r.raw)
	}
	if shards, _ := r.body["shards"].([]any); len(shards) != 3 {
		t.Fatalf("/health shards: %s", r.raw)
	}

	tc.sharded(`{"counterId":"c","operationType":"INCREMENT","delta":3}`).ok(t)
	down := tc.coord.ring.Owner([]byte("c"))
	downID := tc.addrs[down].ID
	tc.stopShard(down)
	tc.waitShard(down, false)

	for _, op := range []string{"GET_TOTAL", "GET_SHARD_VALUES"} {
		r = tc.sharded(`{"counterId":"c","operationType":"` + op + `"}`)
		r.failed(t, http.StatusServiceUnavailable, op+" with a shard down")
		if !strings.Contains(r.body["message"].(string), downID) {
			t.Fatalf("%s with shard %s down does not name it: %s", op, downID, r.raw)
		}
	}
	// Writes go to the next shard.
	r = tc.sharded(`{"counterId":"c","operationType":"INCREMENT","delta":4}`).ok(t)
	if r.body["shardId"] == downID || r.num(t, "shardValue") != 4 {
		t.Fatalf("INCREMENT with its shard down: %s", r.raw)
	}

	r = tc.httpDo(http.MethodGet, "/health", "", nil)
	if r.code != http.StatusServiceUnavailable {
		t.Fatalf("/health with shard %s down: %d %s", downID, r.code, r.raw)
	}
	if downs, _ := r.body["down"].([]any); len(downs) != 1 || downs[0] != downID {
		t.Fatalf("/health down list: %s", r.raw)
	}
	if s, _ := r.body["status"].(string); !strings.Contains(s, downID) {
		t.Fatalf("/health status does not name %s: %s", downID, r.raw)
	}
	if r.header.Get("X-Shards-Down") != "1" {
		t.Fatalf("X-Shards-Down %q", r.header.Get("X-Shards-Down"))
	}

	tc.restartShard(down)
	tc.waitShard(down, true)
	if r = tc.httpDo(http.MethodGet, "/health", "", nil); r.code != http.StatusOK {
		t.Fatalf("/health after restart: %d %s", r.code, r.raw)
	}
	r = tc.sharded(`{"counterId":"c","operationType":"GET_SHARD_VALUES"}`).ok(t)
	if r.num(t, "totalValue") != 7 || r.shardValues(t)[downID] != 3 {
		t.Fatalf("GET_SHARD_VALUES after restart: %s", r.raw)
	}
}

func TestHTTPMetrics(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3)
	for i := 0; i < 3; i++ {
		tc.sharded(`{"counterId":"m","operationType":"INCREMENT"}`).ok(t)
	}
	tc.sharded(`{"counterId":"m","operationType":"GET_TOTAL"}`).ok(t)
	for i := 0; i < 2; i++ {
		if err := tc.client.Incr(ctx, "m").Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := tc.client.Do(ctx, "INCRBY", "m", "x").Err(); err == nil {
		t.Fatal("INCRBY m x succeeded")
	}
	time.Sleep(3 * tc.coord.cfg.ProbeInterval) // let the prober set shard_up
	r := tc.httpDo(http.MethodGet, "/metrics", "", nil)
	if r.code != http.StatusOK {
		t.Fatalf("/metrics: %d", r.code)
	}
	for _, want := range []string{
		`shardcounter_requests_total{command="http_incr"} 3`,
		`shardcounter_requests_total{command="http_read"} 1`,
		`shardcounter_requests_total{command="incr"} 2`,
		`shardcounter_requests_total{command="incrby"} 1`,
		`shardcounter_request_errors_total{command="incrby"} 1`,
		`shardcounter_shard_up{shard="s1"} 1`,
		`shardcounter_shard_up{shard="s3"} 1`,
		"# TYPE shardcounter_request_duration_seconds histogram",
	} {
		if !strings.Contains(r.raw, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestHTTPBearerToken(t *testing.T) {
	tc := newTestCluster(t, 3, func(c *Config) { c.Password = "s3cret" })
	body := `{"counterId":"p","operationType":"INCREMENT","delta":2}`
	r := tc.httpDo(http.MethodPost, "/sharded", body, nil)
	r.failed(t, http.StatusUnauthorized, "no token")
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("401 without WWW-Authenticate: %v", r.header)
	}
	tc.httpDo(http.MethodPost, "/sharded", body, map[string]string{"Authorization": "Bearer wrong"}).failed(t, http.StatusUnauthorized, "wrong token")
	tc.httpDo(http.MethodPost, "/sharded", body, map[string]string{"Authorization": "s3cret"}).failed(t, http.StatusUnauthorized, "token without scheme")
	r = tc.httpDo(http.MethodPost, "/sharded", body, map[string]string{"Authorization": "Bearer s3cret"}).ok(t)
	if r.num(t, "totalValue") != 2 {
		t.Fatalf("with the token: %s", r.raw)
	}
	// Nothing was applied by the refused requests.
	r = tc.httpDo(http.MethodPost, "/sharded", `{"counterId":"p","operationType":"GET_TOTAL"}`, map[string]string{"Authorization": "Bearer s3cret"}).ok(t)
	if r.num(t, "totalValue") != 2 {
		t.Fatalf("GET_TOTAL: %s", r.raw)
	}
	if r = tc.httpDo(http.MethodGet, "/health", "", nil); r.code != http.StatusOK {
		t.Fatalf("/health without a token: %d %s", r.code, r.raw)
	}
	if r = tc.httpDo(http.MethodGet, "/metrics", "", nil); r.code != http.StatusUnauthorized {
		t.Fatalf("/metrics without a token: %d", r.code)
	}
	if r = tc.httpDo(http.MethodGet, "/metrics", "", map[string]string{"Authorization": "Bearer s3cret"}); r.code != http.StatusOK || !strings.Contains(r.raw, "shardcounter_requests_total") {
		t.Fatalf("/metrics with the token: %d", r.code)
	}
}

// An HTTP client that sends its headers and then stalls in the body does
// not hold its connection (and the goroutine serving it) for ever: the
// request must be read within HTTPReadTimeout.
func TestHTTPStalledBodyIsCutOff(t *testing.T) {
	tc := newTestCluster(t, 1, func(c *Config) { c.HTTPReadTimeout = 300 * time.Millisecond })
	c, err := net.DialTimeout("tcp", tc.coord.HTTPAddr().String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("POST /sharded HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(c) // whatever answer there is, then the close
	if err != nil {
		t.Fatalf("the connection of a stalled body was not closed after %v: %v", time.Since(start), err)
	}
}
