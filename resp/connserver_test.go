package resp

import (
	"bytes"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/redcon"

	"github.com/shardcounter/shardcounter/internal/resptest"
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
	// Close stops Serve, which closes the connections left: not the idle
	// timeout, which would end the connection with a timeout.
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
	var ne net.Error
	if err := <-closed; errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection left at Close ended by the idle timeout (%v), not by Close", err)
	}
}

func TestConnServerCloseBeforeServe(t *testing.T) {
	if err := NewConnServer(nil, nil, nil).Close(); !errors.Is(err, errNotServing) {
		t.Fatalf("Close before Serve: %v", err)
	}
}

// serveHandler serves handler on a loopback port until the test ends.
func serveHandler(t *testing.T, handler func(redcon.Conn, redcon.Command)) string {
	t.Helper()
	return serveConns(t, NewConnServer(handler, nil, nil))
}

// A read of many commands leaves no big command list behind on its
// connection: the next read starts a small one.
func TestConnServerLetsGoOfBigBatch(t *testing.T) {
	batchCap := make(chan int, 1)
	addr := serveHandler(t, func(c redcon.Conn, cmd redcon.Command) {
		if string(cmd.Args[0]) == "LAST" {
			batchCap <- cap(c.(*conn).batch)
		}
		c.WriteString("OK")
	})
	tc := dialTest(t, addr)
	const n = 2000
	tc.Write(bytes.Repeat(resptest.Encode("X"), n)) // 11 bytes each: a read of 4 KiB brings 372
	for i := range n {
		if got := tc.Read(); got != resptest.Status("OK") {
			t.Fatalf("reply %d: %#v", i, got)
		}
	}
	tc.Write(resptest.Encode("LAST"))
	tc.Read()
	if got := <-batchCap; got > keptCommands {
		t.Fatalf("the read after a pipeline of %d commands has room for %d", n, got)
	}
}

// PeekPipeline shows the commands of the same read after the current
// one, which the server still answers; Detach hands the connection, and
// those commands, to the handler, and the server lets go of it.
func TestConnServerPeekAndDetach(t *testing.T) {
	peeked := make(chan int, 1)
	detached := make(chan error, 1)
	addr := serveHandler(t, func(c redcon.Conn, cmd redcon.Command) {
		switch string(cmd.Args[0]) {
		case "PEEK":
			peeked <- len(c.PeekPipeline())
			c.WriteString("PEEKED")
		case "DETACH":
			dc := c.Detach()
			go func() {
				defer dc.Close()
				dc.WriteString("DETACHED")
				for {
					cmd, err := dc.ReadCommand()
					if err != nil {
						detached <- err
						return
					}
					dc.WriteBulk(cmd.Args[0])
					if err := dc.Flush(); err != nil {
						detached <- err
						return
					}
				}
			}()
		default:
			c.WriteString("OK")
		}
	})
	tc := dialTest(t, addr)
	tc.Write(slices.Concat(resptest.Encode("PEEK"), resptest.Encode("A"), resptest.Encode("B")))
	if got := <-peeked; got != 2 {
		t.Fatalf("PeekPipeline saw %d commands after PEEK, want 2", got)
	}
	for _, want := range []string{"PEEKED", "OK", "OK"} {
		if got := tc.Read(); got != resptest.Status(want) {
			t.Fatalf("got %#v, want +%s", got, want)
		}
	}
	// The commands read with DETACH go to the detached connection, and
	// so do those sent later.
	tc.Write(slices.Concat(resptest.Encode("DETACH"), resptest.Encode("first")))
	for _, want := range []any{resptest.Status("DETACHED"), "first"} {
		if got := tc.Read(); got != want {
			t.Fatalf("got %#v, want %#v", got, want)
		}
	}
	if got := tc.Do("second"); got != "second" {
		t.Fatalf("a command after Detach: %#v", got)
	}
	tc.C.Close()
	select {
	case err := <-detached:
		if err != io.EOF {
			t.Fatalf("detached connection ended with %v, want EOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("detached connection's reader did not see the hang-up")
	}
}
