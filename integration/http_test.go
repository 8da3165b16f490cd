package integration

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestHTTPSharded checks POST /sharded against the original JSON contract.
func TestHTTPSharded(t *testing.T) {
	c := startCluster(t, clusterOpts{})
	rdb := c.client()

	code, r := c.sharded(`{"counterId":"c","operationType":"INCREMENT","delta":5}`, "")
	if code != http.StatusOK || !r.Success || r.TotalValue == nil || *r.TotalValue != 5 ||
		r.ShardValue == nil || *r.ShardValue != 5 || r.ShardCount != 3 {
		t.Fatalf("INCREMENT 5: %d %+v; want 200, success, totalValue 5, shardValue 5, shardCount 3", code, r)
	}
	code, r = c.sharded(`{"counterId":"c","operationType":"INCREMENT"}`, "")
	if code != http.StatusOK || !r.Success || r.TotalValue == nil || *r.TotalValue != 6 {
		t.Fatalf("INCREMENT without delta: %d %+v; want totalValue 6", code, r)
	}
	code, r = c.sharded(`{"counterId":"c","operationType":"DECREMENT","delta":2}`, "")
	if code != http.StatusOK || !r.Success || r.TotalValue == nil || *r.TotalValue != 4 || r.ShardValue == nil || *r.ShardValue != 4 {
		t.Fatalf("DECREMENT 2: %d %+v; want totalValue 4, shardValue 4", code, r)
	}
	// The HTTP API and RESP see the same counter.
	if v := getInt(t, rdb, "c"); v != 4 {
		t.Fatalf("GET c over RESP after HTTP writes: %d, want 4", v)
	}
	if err := rdb.IncrBy(t.Context(), "c", 10).Err(); err != nil {
		t.Fatal(err)
	}

	for _, op := range []string{"GET_TOTAL", "GET_SHARD_VALUES"} {
		code, r = c.sharded(`{"counterId":"c","operationType":"`+op+`"}`, "")
		if code != http.StatusOK || !r.Success || r.TotalValue == nil || *r.TotalValue != 14 || r.ShardCount != 3 {
			t.Fatalf("%s: %d %+v; want 200, totalValue 14, shardCount 3", op, code, r)
		}
		if len(r.ShardValues) != 3 {
			t.Fatalf("%s: shardValues %v, want s1, s2, s3", op, r.ShardValues)
		}
		var sum int64
		for _, id := range []string{"s1", "s2", "s3"} {
			v, ok := r.ShardValues[id]
			if !ok {
				t.Fatalf("%s: shardValues %v lacks %s", op, r.ShardValues, id)
			}
			sum += v
		}
		if sum != 14 {
			t.Fatalf("%s: shardValues %v sum to %d, want 14", op, r.ShardValues, sum)
		}
		if sv := shardValues(t, rdb, "c"); len(sv) != 3 || sv["s1"] != r.ShardValues["s1"] || sv["s2"] != r.ShardValues["s2"] || sv["s3"] != r.ShardValues["s3"] {
			t.Fatalf("%s: shardValues %v, but SHARDVALUES says %v", op, r.ShardValues, sv)
		}
	}

	// A counter never written reads as 0.
	code, r = c.sharded(`{"counterId":"never","operationType":"GET_TOTAL"}`, "")
	if code != http.StatusOK || !r.Success || r.TotalValue == nil || *r.TotalValue != 0 {
		t.Fatalf("GET_TOTAL of a new counter: %d %+v; want totalValue 0", code, r)
	}

	// Bad requests: 400, success false, a message, nothing changed.
	for _, body := range []string{
		`{"counterId":"c","operationType":"INCREMENT","delta":5`,
		`not json`,
		``,
		`{"counterId":"c","operationType":"MULTIPLY","delta":5}`,
		`{"operationType":"INCREMENT","delta":5}`,
		`{"counterId":"","operationType":"INCREMENT","delta":5}`,
		`{"counterId":"c","operationType":"INCREMENT","delta":"five"}`,
		`{"counterId":"c","operationType":"INCREMENT","delta":1.5}`,
		`{"counterId":"c","operationType":"INCREMENT","delta":99999999999999999999}`,
	} {
		code, r := c.sharded(body, "")
		if code != http.StatusBadRequest || r.Success || r.Message == "" {
			t.Errorf("POST %s: %d %+v; want 400, success false and a message", body, code, r)
		}
	}
	if v := getInt(t, rdb, "c"); v != 14 {
		t.Fatalf("bad requests changed the counter: %d, want 14", v)
	}
	if code, _ := c.httpDo("GET", "/sharded", "", ""); code != http.StatusMethodNotAllowed && code != http.StatusBadRequest {
		t.Fatalf("GET /sharded: %d, want 405 or 400", code)
	}
}

// TestHTTPHealthAndMetrics: /health really probes the shards, /metrics is
// Prometheus text.
func TestHTTPHealthAndMetrics(t *testing.T) {
	c := startCluster(t, clusterOpts{coordArgs: []string{"--shard-timeout", "300ms", "--write-timeout", "1s"}})
	rdb := c.client()

	code, body := c.httpDo("GET", "/health", "", "")
	if code != http.StatusOK {
		t.Fatalf("/health with every shard up: %d %s", code, body)
	}
	for _, id := range []string{"s1", "s2", "s3"} {
		if !strings.Contains(body, `"`+id+`"`) {
			t.Fatalf("/health does not list %s: %s", id, body)
		}
	}
	if err := rdb.Incr(t.Context(), "m").Err(); err != nil {
		t.Fatal(err)
	}
	rdb.Do(t.Context(), "INCRBY", "m", "nope") // an error reply

	code, metrics := c.httpDo("GET", "/metrics", "", "")
	if code != http.StatusOK || !strings.Contains(metrics, "shardcounter_requests_total") {
		t.Fatalf("/metrics: %d, want 200 with shardcounter_requests_total:\n%s", code, metrics)
	}
	if v, ok := metricValue(metrics, "shardcounter_requests_total", "incr"); !ok || v < 1 {
		t.Fatalf("/metrics: shardcounter_requests_total for incr is %v (found %v), want at least 1:\n%s", v, ok, metrics)
	}

	// Kill s3: /health probes it now, 503 naming it.
	c.killShard(2)
	code, body = c.httpDo("GET", "/health", "", "")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"s3"`) {
		t.Fatalf("/health right after killing s3: %d %s; want 503 naming s3", code, body)
	}
	if err := rdb.Get(t.Context(), "m").Err(); err == nil {
		t.Fatal("GET with s3 down succeeded")
	}
	_, metrics = c.httpDo("GET", "/metrics", "", "")
	if v, ok := metricValue(metrics, "shardcounter_shard_errors_total", "s3"); !ok || v < 1 {
		t.Errorf("/metrics: shardcounter_shard_errors_total for s3 is %v (found %v) after failed probes and reads, want at least 1:\n%s",
			v, ok, grepLines(metrics, "shardcounter_shard"))
	}

	c.startShard(2)
	c.waitHealthy()
}

// metricValue returns the value of the sample of metric that has a label
// with value label.
func metricValue(text, metric, label string) (float64, bool) {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, metric+"{") && strings.Contains(l, `="`+label+`"`) {
			f := strings.Fields(l)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			return v, err == nil
		}
	}
	return 0, false
}

// grepLines returns the lines of text that contain s.
func grepLines(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
