package resp

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// DeniedProtectedMode is the reply, word for word Redis 7's, that a client
// from a non-loopback address gets in protected mode before it is
// disconnected. Of its remedies, 3) (--protected-mode no) and 4) (a
// password, --requirepass) apply to shardcounter; CONFIG SET is refused.
const DeniedProtectedMode = "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside."

// MaxClientsReached is Redis' reply to a connection over the client limit,
// before it is disconnected.
const MaxClientsReached = "ERR max number of clients reached"

// DefaultMaxClients is the default client limit, Redis' default.
const DefaultMaxClients = 10000

// Guard says which connections a server accepts.
type Guard struct {
	// Protected refuses clients from addresses other than loopback. A
	// server sets it when protected mode is on and it has no password
	// (see Protected).
	Protected bool
	// MaxClients bounds the connections open at once; 0 means no bound.
	MaxClients int
}

// Protected reports whether a server in protectedMode with password refuses
// non-loopback clients: only when it has no password, as in Redis.
func Protected(protectedMode bool, password string) bool {
	return protectedMode && password == ""
}

// IsLoopback reports whether addr is a loopback peer (127.0.0.0/8, ::1, or
// an IPv4-mapped 127.x address) or a Unix socket.
func IsLoopback(addr net.Addr) bool {
	switch a := addr.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	case nil:
		return false
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		host = addr.String()
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Refusal is why g refuses a new connection from remote while open
// connections are open: "" to accept it, else the error reply to send before
// closing it. The client limit is checked first, as in Redis.
func (g Guard) Refusal(remote net.Addr, open int64) string {
	if g.MaxClients > 0 && open >= int64(g.MaxClients) {
		return MaxClientsReached
	}
	if g.Protected && !IsLoopback(remote) {
		return DeniedProtectedMode
	}
	return ""
}

// refuseTimeout bounds writing the refusal to a refused connection (with
// TLS, the handshake too). refuseLinger is how long the connection then
// stays open, its input discarded, so that a client that writes its first
// command right after connecting reads the refusal as the reply instead of
// a reset connection.
const (
	refuseTimeout = 2 * time.Second
	refuseLinger  = 500 * time.Millisecond
)

// GuardListener wraps ln so that Accept only returns the connections g
// accepts. A refused connection gets its error reply and is closed in the
// background; Accept goes on to the next one. Put it outermost, over
// NewLimitListener and TLS, so that the refusal is written in the
// connection's own protocol.
func GuardListener(ln net.Listener, g Guard) *GuardedListener {
	return &GuardedListener{Listener: ln, guard: g}
}

// GuardedListener is a listener that applies a Guard.
type GuardedListener struct {
	net.Listener
	guard    Guard
	open     atomic.Int64
	refused  atomic.Uint64
	refusing sync.WaitGroup
	// lingering counts refusals still being written: beyond maxLingering,
	// a refused connection is closed at once, so a flood of connections
	// cannot pin goroutines, buffers and file descriptors.
	lingering atomic.Int64
}

// maxLingering bounds the refused connections that get their error reply
// and a moment to read it.
const maxLingering = 256

// Accept returns the next connection the guard accepts.
func (l *GuardedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		msg := l.guard.Refusal(c.RemoteAddr(), l.open.Load())
		if msg == "" {
			l.open.Add(1)
			return &guardedConn{Conn: c, l: l}, nil
		}
		l.refused.Add(1)
		if l.lingering.Add(1) > maxLingering {
			l.lingering.Add(-1)
			c.Close()
			continue
		}
		l.refusing.Add(1)
		go func() {
			defer l.refusing.Done()
			defer l.lingering.Add(-1)
			c.SetDeadline(time.Now().Add(refuseTimeout))
			if _, err := c.Write([]byte("-" + msg + "\r\n")); err == nil {
				c.SetReadDeadline(time.Now().Add(refuseLinger))
				var buf [512]byte
				io.CopyBuffer(io.Discard, io.LimitReader(c, 64<<10), buf[:])
			}
			c.Close()
		}()
	}
}

// Close closes the listener and waits for refusals being written.
func (l *GuardedListener) Close() error {
	err := l.Listener.Close()
	l.refusing.Wait()
	return err
}

// Open is the number of accepted connections not yet closed.
func (l *GuardedListener) Open() int64 { return l.open.Load() }

// Refused is the number of connections refused so far.
func (l *GuardedListener) Refused() uint64 { return l.refused.Load() }

type guardedConn struct {
	net.Conn
	l    *GuardedListener
	once sync.Once
}

func (c *guardedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}
