package integration

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardcounter/shardcounter/internal/testcert"
)

// TestTLS: with --tls-cert and --tls-key the coordinator serves RESP and
// HTTP over TLS only. go-redis with a TLSConfig that trusts the test's own
// certificate works end to end, a plain-text client gets nothing, HTTPS
// carries the JSON API, and redis-cli --tls works when redis-cli was built
// with TLS. The limits still apply inside TLS: an oversize bulk gets its
// error in the TLS stream.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := testcert.Write(t, dir)
	sa := freeAddr(t)
	sp := startProc(t, "shard s1", "shard", "--id", "s1", "--listen", sa, "--data", filepath.Join(dir, "s1"))
	waitReady(t, sp, sa)
	addr, httpAddr := freeAddr(t), freeAddr(t)
	coord := startProc(t, "coordinator", "coordinator", "--listen", addr, "--http", httpAddr, "--shards", "s1="+sa,
		"--tls-cert", certFile, "--tls-key", keyFile, "--requirepass", "pw")
	tlsCfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	waitReadyTLS(t, coord, addr, tlsCfg)

	ctx := context.Background()
	rdb := newClient(t, &redis.Options{Addr: addr, Password: "pw", TLSConfig: tlsCfg})
	if v, err := rdb.IncrBy(ctx, "tls", 5).Result(); err != nil || v != 5 {
		t.Fatalf("INCRBY over TLS: %d, %v", v, err)
	}
	if v, err := rdb.Get(ctx, "tls").Int64(); err != nil || v != 5 {
		t.Fatalf("GET over TLS: %d, %v", v, err)
	}

	// A client that does not trust the certificate is refused by itself.
	untrusting := newClient(t, &redis.Options{Addr: addr, Password: "pw", TLSConfig: &tls.Config{ServerName: "127.0.0.1"}, MaxRetries: -1})
	if err := untrusting.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("PING with an untrusted certificate: %v, want a certificate error", err)
	}
	// Plain text gets no RESP answer.
	if pingOnce(addr) {
		t.Fatal("a plain-text PING got a RESP answer from the TLS port")
	}

	// The request limits work inside TLS: the error arrives encrypted.
	tc, err := tls.Dial("tcp", addr, tlsCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	tc.Write([]byte("*2\r\n$4\r\nAUTH\r\n$9223372036854775807\r\n"))
	all, _ := io.ReadAll(tc)
	if !strings.HasPrefix(string(all), "-ERR Protocol error: invalid bulk length 9223372036854775807") {
		t.Fatalf("an oversize bulk over TLS: %q", all)
	}

	// HTTPS.
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	req, _ := http.NewRequest("POST", "https://"+httpAddr+"/sharded", strings.NewReader(`{"counterId":"tls","operationType":"INCREMENT","delta":2}`))
	req.Header.Set("Authorization", "Bearer pw")
	res, err := hc.Do(req)
	if err != nil {
		t.Fatalf("POST /sharded over HTTPS: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"totalValue": 7`) {
		t.Fatalf("POST /sharded over HTTPS: %d %s", res.StatusCode, body)
	}

	// redis-cli --tls, when it has TLS.
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Log("redis-cli not installed: the go-redis part above covers TLS")
		return
	}
	help, _ := exec.Command(cli, "--help").CombinedOutput()
	if !strings.Contains(string(help), "--tls") {
		t.Log("redis-cli was built without TLS: the go-redis part above covers TLS")
		return
	}
	host, port, _ := net.SplitHostPort(addr)
	for _, args := range [][]string{
		{"--tls", "--cacert", certFile},
		{"--tls", "--insecure"},
	} {
		cmd := exec.Command(cli, append(args, "-h", host, "-p", port, "--no-auth-warning", "-a", "pw", "INCR", "tls")...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %v INCR: %v\n%s", args, err, out)
		}
		t.Logf("redis-cli %s INCR tls: %s", strings.Join(args, " "), strings.TrimSpace(string(out)))
	}
	if v, err := rdb.Get(ctx, "tls").Int64(); err != nil || v != 9 {
		t.Fatalf("GET after two redis-cli INCRs: %d, %v; want 9", v, err)
	}
}

// waitReadyTLS waits until a TLS PING at addr gets an answer.
func waitReadyTLS(t *testing.T, p *proc, addr string, cfg *tls.Config) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for {
		if p.exited() {
			t.Fatalf("%s exited before listening; stderr:\n%s", p.name, tail(p.stderr.String()))
		}
		d := &net.Dialer{Timeout: 200 * time.Millisecond}
		if c, err := tls.DialWithDialer(d, "tcp", addr, cfg); err == nil {
			c.SetDeadline(time.Now().Add(time.Second))
			c.Write([]byte("*1\r\n$4\r\nPING\r\n"))
			line, err := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if err == nil && (strings.HasPrefix(line, "+") || strings.HasPrefix(line, "-")) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready over TLS on %s after %s; stderr:\n%s", p.name, addr, readyTimeout, tail(p.stderr.String()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
