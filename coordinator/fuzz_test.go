package coordinator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/redcon"

	"github.com/shardcounter/shardcounter/internal/resptest"
	"github.com/shardcounter/shardcounter/resp"
	"github.com/shardcounter/shardcounter/shard"
)

// fuzzCluster starts three in-process shards and a coordinator for one
// fuzz target in one process (the fuzzing engine runs several).
func fuzzCluster(f *testing.F) *Server {
	f.Helper()
	dir := f.TempDir()
	var addrs []ShardAddr
	var shards []*shard.Server
	for i := 1; i <= 3; i++ {
		cfg := shard.DefaultConfig()
		cfg.ID, cfg.DataDir, cfg.Listen, cfg.Logger = fmt.Sprintf("s%d", i), fmt.Sprintf("%s/s%d", dir, i), "127.0.0.1:0", quietLogger()
		s, err := shard.New(cfg)
		if err != nil {
			f.Fatal(err)
		}
		if err := s.Start(); err != nil {
			f.Fatal(err)
		}
		shards = append(shards, s)
		addrs = append(addrs, ShardAddr{ID: cfg.ID, Addr: s.Addr().String()})
	}
	cfg := DefaultConfig()
	cfg.Listen, cfg.HTTP, cfg.Shards, cfg.Logger = "127.0.0.1:0", "", addrs, quietLogger()
	cfg.MaxRequestBytes, cfg.MaxBulkBytes = 64<<10, 4<<10 // small, so the fuzzer reaches them
	c, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	if err := c.Start(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.Shutdown(ctx)
		for _, s := range shards {
			s.Shutdown(ctx)
		}
	})
	return c
}

// FuzzSharded posts arbitrary bodies to the coordinator's POST /sharded
// handler (over a live in-process cluster) and checks the contract: a JSON
// answer whose success matches a 200, 400 for a bad request, 413 for a body
// over the limit, never a panic; a successful increment adds exactly its
// delta; a refused request changes no counter.
//
//	go test ./coordinator -run '^$' -fuzz FuzzSharded -fuzztime 30s
func FuzzSharded(f *testing.F) {
	// More seeds are in testdata/fuzz/FuzzSharded.
	f.Add([]byte(`{"counterId":"likes","operationType":"INCREMENT","delta":5}`))
	f.Add([]byte(`{"counterId":"likes","operationType":"GET_TOTAL"}`))
	s := fuzzCluster(f)
	h := s.httpHandler()
	model := map[string]int64{} // what every counter must hold
	post := func(t *testing.T, body []byte) (int, map[string]any) {
		req := httptest.NewRequest(http.MethodPost, "/sharded", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var out map[string]any
		dec := json.NewDecoder(rec.Body)
		dec.UseNumber()
		if err := dec.Decode(&out); err != nil {
			t.Fatalf("body %q: answer %d is not JSON: %v", body, rec.Code, err)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("body %q: Content-Type %q", body, ct)
		}
		if ok, isBool := out["success"].(bool); !isBool || ok != (rec.Code == http.StatusOK) {
			t.Fatalf("body %q: status %d with success %v", body, rec.Code, out["success"])
		}
		if msg, _ := out["message"].(string); msg == "" {
			t.Fatalf("body %q: no message in %v", body, out)
		}
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("body %q: status %d (%v)", body, rec.Code, out)
		}
		return rec.Code, out
	}
	total := func(t *testing.T, id string) int64 {
		b, _ := json.Marshal(map[string]string{"counterId": id, "operationType": "GET_TOTAL"})
		code, out := post(t, b)
		if code != http.StatusOK {
			if len(id) > 64<<10 {
				return model[id]
			}
			t.Fatalf("GET_TOTAL %q: %d %v", id, code, out)
		}
		n, err := out["totalValue"].(json.Number).Int64()
		if err != nil {
			t.Fatalf("GET_TOTAL %q: totalValue %v", id, out["totalValue"])
		}
		return n
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		code, out := post(t, body)
		var req shardedRequest
		if json.Unmarshal(body, &req) != nil || req.CounterID == "" {
			return // no counter named: nothing to compare
		}
		if code == http.StatusOK && (req.OperationType == "INCREMENT" || req.OperationType == "DECREMENT") {
			delta := int64(1)
			if len(req.Delta) > 0 && string(req.Delta) != "null" {
				d, ok := resp.ParseInt(req.Delta)
				if !ok {
					t.Fatalf("body %q: delta %s accepted", body, req.Delta)
				}
				delta = d
			}
			if req.OperationType == "DECREMENT" {
				delta = -delta
			}
			want, ok := resp.AddInt(model[req.CounterID], delta)
			if !ok {
				t.Fatalf("body %q: an overflowing increment succeeded: %v", body, out)
			}
			model[req.CounterID] = want
			if got, _ := out["totalValue"].(json.Number).Int64(); got != want {
				t.Fatalf("body %q: totalValue %v, want %d", body, out["totalValue"], want)
			}
		}
		if got := total(t, req.CounterID); got != model[req.CounterID] {
			t.Fatalf("body %q (status %d): counter %q holds %d, want %d", body, code, req.CounterID, got, model[req.CounterID])
		}
	})
}

// FuzzCoordinatorRESP sends arbitrary bytes to a live coordinator and
// checks that it neither crashes nor hangs, that every reply is well-formed
// RESP, that complete commands get one reply each, and that it serves
// others afterwards.
//
//	go test ./coordinator -run '^$' -fuzz FuzzCoordinatorRESP -fuzztime 30s
func FuzzCoordinatorRESP(f *testing.F) {
	f.Add([]byte("*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"))
	f.Add([]byte("INCRBY k 9223372036854775807\r\nINCR k\r\n"))
	s := fuzzCluster(f)
	addr := s.Addr().String()
	f.Fuzz(func(t *testing.T, data []byte) {
		out := resptest.SendAll(t, addr, data, 15*time.Second)
		n, perr := resptest.CountReplies(out)
		if perr != nil {
			t.Fatalf("malformed reply stream: %v\n%q", perr, out)
		}
		if want, ok := respCommands(data, 64<<10, 4<<10); ok && n != want {
			t.Fatalf("%d commands got %d replies:\n%q\n%q", want, n, data, out)
		}
		resptest.StillServes(t, addr, data)
	})
}

// respCommands counts the commands in data when it is nothing but complete
// multibulk commands that are all answered: redcon parses all of it, no
// bulk or request is over the limits, and there is no QUIT.
func respCommands(data []byte, maxRequest, maxBulk int) (n int, ok bool) {
	if len(data) > maxRequest || hugeMultibulk(data) {
		return 0, false
	}
	defer func() {
		if recover() != nil { // redcon's own bugs: see resp.NewLimitListener
			n, ok = 0, false
		}
	}()
	rd := redcon.NewReader(bytes.NewReader(data))
	consumed := 0
	for {
		cmds, err := rd.ReadCommands()
		if err == io.EOF {
			// Complete: the raw multibulk commands add up to all of data.
			return n, consumed == len(data)
		}
		if err != nil {
			return 0, false
		}
		for _, c := range cmds {
			if !bytes.HasPrefix(data[consumed:], c.Raw) {
				// An inline command: its Raw is redcon's rewrite as
				// multibulk, not the bytes sent, so the count of what
				// was parsed is lost.
				return 0, false
			}
			consumed += len(c.Raw) // a copy of the bytes sent, for multibulk
			if strings.EqualFold(string(c.Args[0]), "quit") {
				return 0, false
			}
			for _, a := range c.Args {
				if len(a) > maxBulk {
					return 0, false
				}
			}
		}
		n += len(cmds)
	}
}

// hugeMultibulk reports whether data holds what could be a multibulk count
// over resp.MaxMultibulkLen. redcon spins on such a count (see
// resp.NewLimitListener); the server refuses it before redcon reads it, but
// respCommands would hand it to redcon itself.
func hugeMultibulk(data []byte) bool {
	for i, c := range data {
		if c != '*' {
			continue
		}
		j := i + 1
		if j < len(data) && (data[j] == '+' || data[j] == '-') {
			j++
		}
		v := 0
		for ; j < len(data) && '0' <= data[j] && data[j] <= '9'; j++ {
			if v = v*10 + int(data[j]-'0'); v > resp.MaxMultibulkLen {
				return true
			}
		}
	}
	return false
}
