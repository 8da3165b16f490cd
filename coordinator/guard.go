package coordinator

import (
	"crypto/tls"
	"net"
	"net/http"

	"github.com/shardcounter/shardcounter/resp"
)

// respListener wraps the RESP listener: TLS innermost (when configured),
// then the request limits, then the guard (protected mode, client limit),
// so that limit errors and refusals are written in the client's protocol.
func (s *Server) respListener(ln net.Listener, tlsCfg *tls.Config) *resp.GuardedListener {
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	ln = resp.NewLimitListener(ln, resp.Limits{MaxRequestBytes: s.cfg.MaxRequestBytes, MaxBulkBytes: s.cfg.MaxBulkBytes})
	return resp.GuardListener(ln, resp.Guard{
		Protected:  resp.Protected(s.cfg.ProtectedMode, s.cfg.Password),
		MaxClients: s.cfg.MaxClients,
	})
}

// protectHTTP applies protected mode to the HTTP API: with no password, a
// request from a non-loopback address gets 403 and Redis' explanation.
// /health stays open to everyone, as it does without a bearer token.
func (s *Server) protectHTTP(h http.Handler) http.Handler {
	if !resp.Protected(s.cfg.ProtectedMode, s.cfg.Password) {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" && !loopbackRequest(r) {
			s.writeJSON(w, http.StatusForbidden, shardedResponse{Message: resp.DeniedProtectedMode, ShardCount: len(s.shards)})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// loopbackRequest reports whether r came from a loopback address.
func loopbackRequest(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
