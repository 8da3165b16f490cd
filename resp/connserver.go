package resp

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/tidwall/redcon"
)

// ConnServer serves RESP clients on a listener: one goroutine per
// connection reads whatever the client has sent, hands each complete
// command to the handler, and writes the replies back in one write per read.
// Its connections are redcon.Conn, so handlers written for redcon's server
// (Mux.ServeRESP, Drain.Wrap) run on it unchanged.
//
// It takes the place of redcon's server for its reader: redcon allocates
// three times for every command of a pipeline (a copy of the raw command,
// its argument slice, the growing command list), where this one allocates
// twice per read, whatever the number of commands in it (see cmdReader).
//
// The listener must bound what a client can make it buffer: wrap it with
// NewLimitListener, as the shard and the coordinator do.
type ConnServer struct {
	handler func(redcon.Conn, redcon.Command)
	accept  func(redcon.Conn) bool
	closed  func(redcon.Conn, error)

	mu    sync.Mutex
	idle  time.Duration
	ln    net.Listener
	done  bool
	conns map[*conn]struct{}
}

// NewConnServer returns a server that calls handler for every command read.
// accept, when not nil, is called for each new connection and may refuse
// it; closed, when not nil, is called once a connection has ended, with the
// error that ended it (nil when the client hung up or was closed on
// purpose).
func NewConnServer(handler func(redcon.Conn, redcon.Command), accept func(redcon.Conn) bool, closed func(redcon.Conn, error)) *ConnServer {
	return &ConnServer{handler: handler, accept: accept, closed: closed, conns: make(map[*conn]struct{})}
}

// SetIdleClose closes a connection that sends nothing for d. 0, the
// default, never does. It applies to connections accepted after the call.
func (s *ConnServer) SetIdleClose(d time.Duration) {
	s.mu.Lock()
	s.idle = d
	s.mu.Unlock()
}

// errNotServing answers Close before Serve.
var errNotServing = errors.New("resp: not serving")

// Close stops accepting and closes the listener; Serve then closes every
// connection and returns.
func (s *ConnServer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return errNotServing
	}
	s.done = true
	return s.ln.Close()
}

// Serve accepts connections on ln until ln is closed (by Close or by its
// owner), then closes the connections still open and returns nil.
func (s *ConnServer) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	defer s.closeAll()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			done := s.done
			s.mu.Unlock()
			if done || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors, say: wait before trying again
			// rather than spin, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		c := &conn{Writer: redcon.NewWriter(nc), nc: nc, addr: nc.RemoteAddr().String(), rd: cmdReader{rd: nc}}
		s.mu.Lock()
		c.idle = s.idle
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		if s.accept != nil && !s.accept(c) {
			s.forget(c)
			nc.Close()
			continue
		}
		go s.serveConn(c)
	}
}

func (s *ConnServer) closeAll() {
	// Outside the lock: a listener's Close may wait (GuardedListener lets
	// its refusals finish), and connections that end meanwhile take it.
	s.ln.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.nc.Close()
	}
	clear(s.conns)
}

func (s *ConnServer) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// errDetached ends the server's loop for a connection its handler detached.
var errDetached = errors.New("resp: connection detached")

// serveConn reads commands from c until it ends, and after the commands of
// each read writes their replies.
func (s *ConnServer) serveConn(c *conn) {
	err := s.loop(c)
	if err != errDetached {
		c.nc.Close()
	}
	s.forget(c)
	if s.closed != nil {
		if err == io.EOF {
			err = nil
		}
		s.closed(c, err)
	}
}

func (s *ConnServer) loop(c *conn) error {
	for {
		if c.idle > 0 {
			c.nc.SetReadDeadline(time.Now().Add(c.idle))
		}
		cmds, err := c.rd.next(c.batch[:0])
		if err != nil {
			var r refusal
			if errors.As(err, &r) {
				c.WriteError("ERR " + r.Error())
				c.Flush()
			}
			return err
		}
		c.batch = cmds
		c.pipeline = cmds
		for len(c.pipeline) > 0 {
			cmd := c.pipeline[0]
			c.pipeline = c.pipeline[1:]
			s.handler(c, cmd)
		}
		clear(c.batch)
		if cap(c.batch) > keptCommands {
			c.batch = nil // as the reader lets its scratch go
		}
		if c.detached {
			return errDetached
		}
		if c.closed {
			return nil
		}
		if err := c.Flush(); err != nil {
			return err
		}
	}
}

// conn is one client connection. Only its goroutine uses it, handlers
// included; another goroutine may only close nc (as Serve does on exit).
type conn struct {
	*redcon.Writer
	nc       net.Conn
	addr     string
	idle     time.Duration
	rd       cmdReader
	ctx      any
	batch    []redcon.Command // the commands of the last read
	pipeline []redcon.Command // those of them not handed out yet
	closed   bool
	detached bool
}

var _ redcon.Conn = (*conn)(nil)

// Close writes what is buffered and closes the connection once its
// handler returns.
func (c *conn) Close() error {
	c.Flush()
	c.closed = true
	return c.nc.Close()
}

func (c *conn) RemoteAddr() string             { return c.addr }
func (c *conn) Context() any                   { return c.ctx }
func (c *conn) SetContext(v any)               { c.ctx = v }
func (c *conn) SetReadBuffer(int)              {}
func (c *conn) NetConn() net.Conn              { return c.nc }
func (c *conn) PeekPipeline() []redcon.Command { return c.pipeline }

// ReadPipeline takes the commands of the same read that follow the one
// being handled: the handler answers them, the server will not. The slice
// is the server's again once the handler returns; the commands in it stay
// the handler's.
func (c *conn) ReadPipeline() []redcon.Command {
	cmds := c.pipeline
	c.pipeline = nil
	return cmds
}

// Detach takes the connection out of the server's loop; the caller reads
// its commands and closes it.
func (c *conn) Detach() redcon.DetachedConn {
	c.detached = true
	d := &detachedConn{conn: c, pending: append([]redcon.Command(nil), c.pipeline...)}
	c.pipeline = nil
	return d
}

type detachedConn struct {
	*conn
	pending []redcon.Command
}

func (d *detachedConn) ReadCommand() (redcon.Command, error) {
	for len(d.pending) == 0 {
		cmds, err := d.rd.next(nil)
		if err != nil {
			return redcon.Command{}, err
		}
		d.pending = cmds
	}
	cmd := d.pending[0]
	d.pending = d.pending[1:]
	return cmd, nil
}
