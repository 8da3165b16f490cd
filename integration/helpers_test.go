package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardcounter/shardcounter/internal/resptest"
)

// bin is the shardcounter binary TestMain builds.
var bin string

// TestMain builds the binary once into a temporary directory. With
// INTEGRATION_RACE set, the binary is built with -race, and a race report
// on a process's stderr fails the test that ran it.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "shardcounter-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "shardcounter")
	args := []string{"build", "-o", bin}
	if os.Getenv("INTEGRATION_RACE") != "" {
		// The binary itself under the race detector: slower, finds races
		// in the servers under real load.
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "github.com/shardcounter/shardcounter/cmd/shardcounter")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "integration: building cmd/shardcounter:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Timeouts that bound every wait in this package.
const (
	readyTimeout = 15 * time.Second // a process starts listening
	exitTimeout  = 15 * time.Second // a process exits after a signal
	pollTimeout  = 10 * time.Second // a condition polled for becomes true
)

// handedOut remembers every address freeAddr gave out in this test binary:
// the kernel may offer a port again once its listener is closed, and two
// servers of one cluster must never be given the same one.
var handedOut = struct {
	sync.Mutex
	addrs map[string]bool
}{addrs: map[string]bool{}}

// freeAddr returns a loopback address with a port that was free a moment
// ago and has not been handed out before.
func freeAddr(t *testing.T) string {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if !handedOut.addrs[addr] {
			handedOut.addrs[addr] = true
			return addr
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a process writing and a test
// reading.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// proc is a running shardcounter process.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	done   chan struct{} // closed when the process has exited
}

// startProc starts the binary with args. The process is killed when the
// test ends, and its output is logged if the test failed.
func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if strings.Contains(p.stderr.String(), "WARNING: DATA RACE") {
			t.Errorf("%s reported a data race", name)
		}
		if t.Failed() {
			t.Logf("--- %s (%s) stdout:\n%s--- %s stderr:\n%s", name, strings.Join(args, " "), tail(p.stdout.String()), name, tail(p.stderr.String()))
		}
	})
	return p
}

func tail(s string) string {
	const max = 6000
	if len(s) > max {
		return "...\n" + s[len(s)-max:]
	}
	return s
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits for the process to exit and returns its exit code, or fails
// the test after timeout.
func (p *proc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("%s did not exit within %s", p.name, timeout)
		return -1
	}
}

// kill ends the process with SIGKILL (kill -9) and waits for it.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil && !p.exited() {
		t.Fatalf("kill %s: %v", p.name, err)
	}
	p.wait(t, exitTimeout)
}

// stop sends sig and requires a clean exit (code 0) within exitTimeout.
func (p *proc) stop(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %s: %v", p.name, err)
	}
	if code := p.wait(t, exitTimeout); code != 0 {
		t.Fatalf("%s exited with code %d after %v, want 0; stderr:\n%s", p.name, code, sig, tail(p.stderr.String()))
	}
}

// waitReady waits until something answers a RESP PING at addr (PONG or an
// error such as NOAUTH), failing the test if p exits first.
func waitReady(t *testing.T, p *proc, addr string) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for {
		if p.exited() {
			t.Fatalf("%s exited with code %d before listening on %s; stderr:\n%s",
				p.name, p.cmd.ProcessState.ExitCode(), addr, tail(p.stderr.String()))
		}
		if pingOnce(addr) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready on %s after %s; stderr:\n%s", p.name, addr, readyTimeout, tail(p.stderr.String()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func pingOnce(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && (strings.HasPrefix(line, "+") || strings.HasPrefix(line, "-"))
}

// shardProc is one shard of a cluster: its fixed id, address and data
// directory, and the process serving them now.
type shardProc struct {
	id, addr, dir string
	args          []string // extra flags
	p             *proc
}

// clusterOpts configures startCluster.
type clusterOpts struct {
	shards    int      // default 3
	shardArgs []string // extra flags for every shard
	coordArgs []string // extra flags for the coordinator
	password  string   // the coordinator's --requirepass, used by clients
	// front, when set, is the address the coordinator is given for shard i
	// (from 0), which listens on addr: a fault proxy in front of it, say.
	front func(i int, addr string) string
}

// cluster is a set of shard processes and one coordinator process on free
// loopback ports.
type cluster struct {
	t         *testing.T
	shards    []*shardProc
	addr      string // coordinator RESP
	httpAddr  string // coordinator HTTP
	coordArgs []string
	password  string
	coord     *proc
}

// startCluster starts the shards s1..sN, then a coordinator in front of
// them, and waits until all of them answer.
func startCluster(t *testing.T, o clusterOpts) *cluster {
	t.Helper()
	if o.shards == 0 {
		o.shards = 3
	}
	dir := t.TempDir()
	c := &cluster{t: t, addr: freeAddr(t), httpAddr: freeAddr(t), password: o.password}
	var list []string
	for i := 1; i <= o.shards; i++ {
		s := &shardProc{id: fmt.Sprintf("s%d", i), addr: freeAddr(t), dir: filepath.Join(dir, fmt.Sprintf("s%d", i)), args: o.shardArgs}
		c.shards = append(c.shards, s)
		addr := s.addr
		if o.front != nil {
			addr = o.front(i-1, s.addr)
		}
		list = append(list, s.id+"="+addr)
	}
	for i := range c.shards {
		c.startShard(i)
	}
	c.coordArgs = append([]string{"coordinator", "--listen", c.addr, "--http", c.httpAddr, "--shards", strings.Join(list, ",")}, o.coordArgs...)
	c.startCoordinator()
	return c
}

// startShard starts shard i on its address and data directory.
func (c *cluster) startShard(i int) {
	c.t.Helper()
	s := c.shards[i]
	args := append([]string{"shard", "--id", s.id, "--listen", s.addr, "--data", s.dir}, s.args...)
	s.p = startProc(c.t, "shard "+s.id, args...)
	waitReady(c.t, s.p, s.addr)
}

func (c *cluster) killShard(i int) { c.t.Helper(); c.shards[i].p.kill(c.t) }

func (c *cluster) stopShard(i int) { c.t.Helper(); c.shards[i].p.stop(c.t, syscall.SIGTERM) }

// secondCoordinator starts another coordinator in front of c's shards,
// with c's coordinator flags, on addresses of its own.
func (c *cluster) secondCoordinator() *cluster {
	c2 := &cluster{t: c.t, shards: c.shards, addr: freeAddr(c.t), httpAddr: freeAddr(c.t)}
	// c.coordArgs: "coordinator --listen A --http H" then the shards and flags.
	c2.coordArgs = append([]string{"coordinator", "--listen", c2.addr, "--http", c2.httpAddr}, c.coordArgs[5:]...)
	c2.startCoordinator()
	return c2
}

func (c *cluster) startCoordinator() {
	c.t.Helper()
	c.coord = startProc(c.t, "coordinator", c.coordArgs...)
	waitReady(c.t, c.coord, c.addr)
}

func (c *cluster) killCoordinator() { c.t.Helper(); c.coord.kill(c.t) }

// shardIndex returns the index of the shard with id.
func (c *cluster) shardIndex(id string) int {
	for i, s := range c.shards {
		if s.id == id {
			return i
		}
	}
	c.t.Fatalf("no shard %q", id)
	return -1
}

// client returns a go-redis client on default options (HELLO 3), with the
// cluster's password if it has one.
func (c *cluster) client() *redis.Client {
	return newClient(c.t, &redis.Options{Addr: c.addr, Password: c.password})
}

func newClient(t *testing.T, o *redis.Options) *redis.Client {
	rdb := redis.NewClient(o)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// waitHealthy polls /health until it answers 200: every shard is up as the
// coordinator sees it.
func (c *cluster) waitHealthy() {
	c.t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for {
		code, body := c.httpDo("GET", "/health", "", "")
		if code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("/health still %d after %s: %s", code, pollTimeout, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// httpDo sends an HTTP request to the coordinator and returns the status
// and body. token, if not empty, goes in "Authorization: Bearer".
func (c *cluster) httpDo(method, path, body, token string) (int, string) {
	c.t.Helper()
	return httpDo(c.t, method, "http://"+c.httpAddr+path, body, token)
}

func httpDo(t *testing.T, method, url, body, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return res.StatusCode, string(b)
}

// shardedResponse is the JSON answer of POST /sharded.
type shardedResponse struct {
	Success     bool             `json:"success"`
	Message     string           `json:"message"`
	TotalValue  *int64           `json:"totalValue"`
	ShardValue  *int64           `json:"shardValue"`
	ShardValues map[string]int64 `json:"shardValues"`
	ShardCount  int              `json:"shardCount"`
}

// sharded posts body to /sharded and decodes the answer.
func (c *cluster) sharded(body, token string) (int, shardedResponse) {
	c.t.Helper()
	code, raw := c.httpDo("POST", "/sharded", body, token)
	var r shardedResponse
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		c.t.Fatalf("POST /sharded %s: status %d, body is not JSON: %v\n%s", body, code, err, raw)
	}
	return code, r
}

// shardValues runs SHARDVALUES key and returns shard id -> partial, from a
// RESP3 map or a RESP2 flat array.
func shardValues(t *testing.T, rdb *redis.Client, key string) map[string]int64 {
	t.Helper()
	v, err := rdb.Do(context.Background(), "SHARDVALUES", key).Result()
	if err != nil {
		t.Fatalf("SHARDVALUES %s: %v", key, err)
	}
	out := map[string]int64{}
	switch v := v.(type) {
	case map[any]any:
		for k, p := range v {
			n, ok := p.(int64)
			if !ok {
				t.Fatalf("SHARDVALUES %s: partial %#v of %v is not an integer", key, p, k)
			}
			out[fmt.Sprint(k)] = n
		}
	case []any:
		if len(v)%2 != 0 {
			t.Fatalf("SHARDVALUES %s: odd-length array %#v", key, v)
		}
		for i := 0; i < len(v); i += 2 {
			n, ok := v[i+1].(int64)
			if !ok {
				t.Fatalf("SHARDVALUES %s: partial %#v is not an integer", key, v[i+1])
			}
			out[fmt.Sprint(v[i])] = n
		}
	default:
		t.Fatalf("SHARDVALUES %s: unexpected reply %#v", key, v)
	}
	return out
}

// keyOn returns a fresh key whose writes go to shard id (with spread 1 and
// every shard up, its owner). It finds one by incrementing candidates once
// and looking where the increment landed, so the key returned holds 1.
func keyOn(t *testing.T, rdb *redis.Client, id, prefix string) string {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < 200; i++ {
		k := fmt.Sprintf("%s-%d", prefix, i)
		if v, err := rdb.Incr(ctx, k).Result(); err != nil || v != 1 {
			t.Fatalf("INCR %s: %d, %v (want 1)", k, v, err)
		}
		if shardValues(t, rdb, k)[id] == 1 {
			return k
		}
	}
	t.Fatalf("no key with prefix %q lands on shard %s", prefix, id)
	return ""
}

// getInt runs GET key and requires an integer reply.
func getInt(t *testing.T, rdb *redis.Client, key string) int64 {
	t.Helper()
	v, err := rdb.Get(context.Background(), key).Int64()
	if err != nil {
		t.Fatalf("GET %s: %v", key, err)
	}
	return v
}

// waitGet polls GET key until it answers without error (a restarted shard
// has been re-admitted) and returns the value.
func waitGet(t *testing.T, rdb *redis.Client, key string) int64 {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for {
		v, err := rdb.Get(context.Background(), key).Int64()
		if err == nil {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s still failing after %s: %v", key, pollTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rawConn is a plain TCP connection to a RESP server, for sending bytes no
// client library would.
type rawConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, r: bufio.NewReader(c)}
}

func (rc *rawConn) send(s string) {
	rc.t.Helper()
	rc.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := rc.c.Write([]byte(s)); err != nil {
		rc.t.Fatalf("write %q: %v", s, err)
	}
}

// cmd sends args as a RESP array and reads one reply.
func (rc *rawConn) cmd(args ...string) (any, error) {
	rc.t.Helper()
	rc.send(string(resptest.Encode(args...)))
	return rc.read()
}

// read reads one reply (see resptest.ReadReply): an error reply is a
// resptest.Err value, not err; err is a transport or protocol failure.
func (rc *rawConn) read() (any, error) {
	rc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	return resptest.ReadReply(rc.r)
}

// runBin runs the binary to completion (bounded) and returns its exit code
// and output.
func runBin(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("shardcounter %s did not exit within 30s", strings.Join(args, " "))
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("shardcounter %s: %v", strings.Join(args, " "), err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}
