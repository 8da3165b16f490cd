package resp

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/shardcounter/shardcounter/internal/resptest"
)

func TestGuardRefusal(t *testing.T) {
	tcp := func(s string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(s), Port: 5000} }
	protected := Guard{Protected: true}
	for _, c := range []struct {
		g    Guard
		addr net.Addr
		open int64
		want string
	}{
		{protected, tcp("127.0.0.1"), 0, ""},
		{protected, tcp("127.0.0.2"), 0, ""},
		{protected, tcp("::1"), 0, ""},
		{protected, tcp("::ffff:127.0.0.1"), 0, ""},
		{protected, &net.UnixAddr{Name: "/tmp/s", Net: "unix"}, 0, ""},
		{protected, tcp("10.1.2.3"), 0, DeniedProtectedMode},
		{protected, tcp("192.0.2.2"), 0, DeniedProtectedMode},
		{protected, tcp("::ffff:10.0.0.1"), 0, DeniedProtectedMode},
		{protected, tcp("2001:db8::1"), 0, DeniedProtectedMode},
		{protected, nil, 0, DeniedProtectedMode},
		{Guard{}, tcp("10.1.2.3"), 0, ""},
		{Guard{MaxClients: 2}, tcp("127.0.0.1"), 1, ""},
		{Guard{MaxClients: 2}, tcp("127.0.0.1"), 2, MaxClientsReached},
		// The client limit comes first, as in Redis.
		{Guard{Protected: true, MaxClients: 1}, tcp("10.1.2.3"), 1, MaxClientsReached},
	} {
		if got := c.g.Refusal(c.addr, c.open); got != c.want {
			t.Errorf("%+v from %v with %d open: %.40q, want %.40q", c.g, c.addr, c.open, got, c.want)
		}
	}
	if !Protected(true, "") || Protected(true, "pw") || Protected(false, "") {
		t.Error("Protected: protected mode applies only with no password")
	}
	if !strings.HasPrefix(DeniedProtectedMode, "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user.") ||
		!strings.Contains(DeniedProtectedMode, "'--protected-mode no'") || strings.ContainsAny(DeniedProtectedMode, "\r\n") {
		t.Errorf("DeniedProtectedMode is not Redis' text on one line: %q", DeniedProtectedMode)
	}
}

// fakeRemoteListener hands out real loopback connections that claim to come
// from remote, so the guard's decision is tested on the accept path.
type fakeRemoteListener struct {
	net.Listener
	remote net.Addr
}

func (l fakeRemoteListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return remoteConn{c, l.remote}, nil
}

type remoteConn struct {
	net.Conn
	remote net.Addr
}

func (c remoteConn) RemoteAddr() net.Addr { return c.remote }

// TestGuardListenerProtectedMode: a connection from a non-loopback address
// gets Redis' DENIED reply and is closed; without protected mode it is
// served.
func TestGuardListenerProtectedMode(t *testing.T) {
	for _, protected := range []bool{true, false} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		remote := &net.TCPAddr{IP: net.ParseIP("203.0.113.9"), Port: 40000}
		gl := GuardListener(fakeRemoteListener{ln, remote}, Guard{Protected: protected})
		go func() {
			for {
				c, err := gl.Accept()
				if err != nil {
					return
				}
				c.Write([]byte("+WELCOME\r\n"))
				c.Close()
			}
		}()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		got, _ := readAll(c)
		c.Close()
		want := "+WELCOME\r\n"
		if protected {
			want = "-" + DeniedProtectedMode + "\r\n"
		}
		if string(got) != want {
			t.Errorf("protected=%v: got %.60q, want %.60q", protected, got, want)
		}
		if protected && gl.Refused() != 1 {
			t.Errorf("Refused() = %d, want 1", gl.Refused())
		}
		gl.Close()
	}
}

// TestGuardListenerMaxClients: one connection over the limit gets Redis'
// error and is closed; closing a connection makes room again.
func TestGuardListenerMaxClients(t *testing.T) {
	addr, gl := serveLimited(t, Limits{MaxRequestBytes: 1 << 20}, Guard{MaxClients: 2})
	a, b := dialTest(t, addr), dialTest(t, addr)
	a.Expect(resptest.Status("PONG"), "PING")
	b.Expect(resptest.Status("PONG"), "PING")
	c := dialTest(t, addr)
	got, _ := readAll(c.C)
	if want := "-ERR max number of clients reached\r\n"; string(got) != want {
		t.Fatalf("third client: %q, want %q", got, want)
	}
	a.Expect(resptest.Status("PONG"), "PING") // the others are still served
	a.C.Close()
	deadline := time.Now().Add(5 * time.Second)
	for gl.Open() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open after one closed, want 1", gl.Open())
		}
		time.Sleep(5 * time.Millisecond)
	}
	d := dialTest(t, addr)
	d.Expect(resptest.Status("PONG"), "PING")
}
