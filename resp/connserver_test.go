package resp

import (
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/redcon"
)

func connCmdsMux() *Mux {
	m := NewMux("")
	RegisterConnCommands(m, Server{Version: "test"})
	return m
}

// A malformed command that reaches the server (no limit listener in
// front) is answered after the commands before it, and the connection is
// closed.
func TestConnServerAnswersMalformedThenCloses(t *testing.T) {
	addr := serveMux(t, connCmdsMux())
	tc := dialTest(t, addr)
	tc.Write([]byte("PING\r\n*1\r\n$4\r\nPING\r\n*x\r\n"))
	all, _ := readAll(tc.C)
	if want := "+PONG\r\n+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n"; string(all) != want {
		t.Fatalf("got %q, want %q", all, want)
	}
}

// A pipeline split anywhere gets its replies in order, each once.
func TestConnServerPipelineInPieces(t *testing.T) {
	addr := serveMux(t, connCmdsMux())
	tc := dialTest(t, addr)
	var stream []byte
	for i := range 50 {
		stream = appendCommand(stream, [][]byte{[]byte("ECHO"), []byte(strings.Repeat("x", i))})
	}
	for len(stream) > 0 {
		n := min(len(stream), 37)
		tc.Write(stream[:n])
		stream = stream[n:]
		time.Sleep(time.Millisecond)
	}
	for i := range 50 {
		if got := tc.Read(); got != strings.Repeat("x", i) {
			t.Fatalf("reply %d: %#v", i, got)
		}
	}
}

func TestConnServerAcceptAndClosedCallbacks(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := connCmdsMux()
	var mu sync.Mutex
	accepted, closed := 0, make(chan error, 4)
	srv := NewConnServer(m.ServeRESP, func(c redcon.Conn) bool {
		mu.Lock()
		defer mu.Unlock()
		accepted++
		if accepted == 2 {
			return false // the second client is turned away
		}
		c.SetContext(m.NewSession(c.RemoteAddr()))
		return true
	}, func(_ redcon.Conn, err error) { closed <- err })
	srv.SetIdleClose(200 * time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()

	first := dialTest(t, ln.Addr().String())
	first.Do("PING")
	refused := dialTest(t, ln.Addr().String())
	if all, err := readAll(refused.C); err != nil || len(all) != 0 {
		t.Fatalf("refused connection: got %q, %v; want it closed at once", all, err)
	}
	// The first client idles past the idle timeout: closed, with the
	// timeout as the reason.
	select {
	case err := <-closed:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("idle connection closed with %v, want a timeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("idle connection not closed")
	}
	// A client that hangs up is closed with no error.
	third := dialTest(t, ln.Addr().String())
	third.Do("PING")
	third.C.Close()
	if err := <-closed; err != nil {
		t.Fatalf("client hung up: closed with %v, want nil", err)
	}
	// Close stops Serve, which closes the connections left.
	fourth := dialTest(t, ln.Addr().String())
	fourth.Do("PING")
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
	if all, _ := readAll(fourth.C); len(all) != 0 {
		t.Fatalf("connection after Close got %q", all)
	}
}

func TestConnServerCloseBeforeServe(t *testing.T) {
	if err := NewConnServer(nil, nil, nil).Close(); !errors.Is(err, errNotServing) {
		t.Fatalf("Close before Serve: %v", err)
	}
}
