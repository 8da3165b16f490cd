package resp

import (
	"net"
	"strconv"
	"sync"
)

// DefaultMaxRequestBytes is the default bound on one request (a command with
// all its arguments) and on what a client may send before the server has
// answered anything: 4 MiB. Counter keys and integers are small; a bigger
// request is a broken or hostile client.
const DefaultMaxRequestBytes = 4 << 20

// LimitListener wraps ln so that a connection is closed, after a clear error
// reply, when a client sends more than maxBytes without the server having
// replied. That bounds the memory one connection can pin with an endless
// bulk string, an unterminated line or a huge unanswered pipeline.
func LimitListener(ln net.Listener, maxBytes int) net.Listener {
	return &limitListener{Listener: ln, max: maxBytes}
}

type limitListener struct {
	net.Listener
	max int
}

func (l *limitListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &limitConn{Conn: c, max: l.max}, nil
}

type limitConn struct {
	net.Conn
	max    int
	mu     sync.Mutex
	unread int // bytes read since the last write
}

// ErrRequestTooLarge is the error a connection gets before it is closed for
// sending more than the request limit.
type ErrRequestTooLarge struct{ Limit int }

func (e ErrRequestTooLarge) Error() string {
	return "Protocol error: request larger than " + strconv.Itoa(e.Limit) + " bytes"
}

func (c *limitConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.unread += n
	over := c.unread > c.max
	c.mu.Unlock()
	if over {
		tooLarge := ErrRequestTooLarge{Limit: c.max}
		c.Conn.Write([]byte("-ERR " + tooLarge.Error() + "\r\n"))
		c.Conn.Close()
		return 0, tooLarge
	}
	return n, err
}

func (c *limitConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.unread = 0
	c.mu.Unlock()
	return c.Conn.Write(p)
}
