package coordinator

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shardcounter/shardcounter/resp"
)

// TestProtectHTTP: in protected mode without a password, HTTP requests from
// non-loopback addresses get 403 and Redis' explanation, except /health.
func TestProtectHTTP(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	for _, c := range []struct {
		protected bool
		password  string
		remote    string
		path      string
		want      int
	}{
		{true, "", "127.0.0.1:4000", "/sharded", http.StatusTeapot},
		{true, "", "[::1]:4000", "/metrics", http.StatusTeapot},
		{true, "", "203.0.113.5:4000", "/sharded", http.StatusForbidden},
		{true, "", "[2001:db8::1]:4000", "/", http.StatusForbidden},
		{true, "", "203.0.113.5:4000", "/health", http.StatusTeapot},
		{true, "pw", "203.0.113.5:4000", "/sharded", http.StatusTeapot},
		{false, "", "203.0.113.5:4000", "/sharded", http.StatusTeapot},
	} {
		s := &Server{cfg: Config{ProtectedMode: c.protected, Password: c.password}, log: quietLogger()}
		req := httptest.NewRequest(http.MethodPost, c.path, nil)
		req.RemoteAddr = c.remote
		rec := httptest.NewRecorder()
		s.protectHTTP(ok).ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%+v: %d, want %d", c, rec.Code, c.want)
		}
		if rec.Code == http.StatusForbidden && !strings.Contains(rec.Body.String(), resp.DeniedProtectedMode[:60]) {
			t.Errorf("%+v: body %q lacks the DENIED text", c, rec.Body.String())
		}
	}
}

// TestStartRefusesBadTLSFiles: a coordinator whose certificate cannot be
// loaded does not start.
func TestStartRefusesBadTLSFiles(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Listen, cfg.HTTP, cfg.Logger = "127.0.0.1:0", "", quietLogger()
	cfg.Shards = []ShardAddr{{ID: "s1", Addr: "127.0.0.1:1"}}
	cfg.ShardTimeout = 50 * time.Millisecond
	cfg.TLSCert, cfg.TLSKey = "/nonexistent/cert.pem", "/nonexistent/key.pem"
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(t.Context())
	if err := s.Start(); err == nil || !strings.Contains(err.Error(), "TLS certificate") {
		t.Fatalf("Start with missing TLS files: %v", err)
	}
}
