package resp

import (
	"bytes"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"
)

// Kind says how a command may overlap with its neighbours in a pipeline.
// Consecutive commands of the same concurrent kind are started together and
// answered in order; any other command waits until the ones before it have
// finished, so a pipeline behaves as if it ran one command at a time.
type Kind int

const (
	// Serial commands run alone: everything before them has finished.
	Serial Kind = iota
	// Increment commands commute: the ones for the same key keep their
	// order inside the handler.
	Increment
	// Read commands do not change anything.
	Read
)

// Handler answers one command. args[0] is the command name. It may return a
// Future to answer later; the Mux writes the replies in command order.
type Handler func(s *Session, args [][]byte) Reply

// Command describes one command the way Redis' COMMAND does.
type Command struct {
	Name     string // lower case
	Arity    int    // Redis arity: n means exactly n args, -n means at least n
	Flags    []string
	FirstKey int
	LastKey  int
	Step     int
	Kind     Kind
	// NoAuth commands may run before AUTH (HELLO, AUTH, QUIT).
	NoAuth  bool
	Handler Handler
	// Subcommands are what a container command such as CLIENT or CONFIG
	// does, chosen by its first argument, as in Redis 7: each is named
	// "container|sub", has its own Arity over the whole command line and
	// its own Handler, and takes the container's Flags unless it has some.
	// The container's Handler, if any, answers it without a subcommand
	// (COMMAND), where its Arity allows that.
	Subcommands []*Command
	subs        map[string]*Command // by the lower-case name after '|'
}

// Session is the state of one client connection. Only the connection's
// own goroutine uses it, but for what CLIENT LIST and CLIENT KILL read from
// another one: proto, name, libName and libVer are written under mu, and
// the rest of what they read is set once or atomic.
type Session struct {
	ID   int64
	Addr string

	mu      sync.Mutex // guards what follows it up to laddr
	proto   int        // 2 or 3
	name    string
	libName string
	libVer  string

	laddr   string
	nc      net.Conn // closed by CLIENT KILL; nil for a session of NewSession
	created time.Time
	lastAt  atomic.Int64            // when its last command was read, in Unix ns (coarseNow)
	lastCmd atomic.Pointer[Command] // that command, when it is known

	authed  bool
	quit    bool
	pending []Reply
	cmds    []redcon.Command
}

// set runs f, which changes fields that other connections read, under mu.
func (s *Session) set(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

// Mux dispatches commands by name, checks arity and authentication, runs
// pipelines as described at Kind, and writes every reply in order.
type Mux struct {
	cmds     map[string]*Command
	names    []string
	password string
	nextID   atomic.Int64
	clients  clientList
}

// NewMux returns an empty Mux. password, when not empty, is required through
// AUTH or HELLO ... AUTH before any other command.
func NewMux(password string) *Mux {
	return &Mux{cmds: make(map[string]*Command), password: password}
}

// Handle registers c and its subcommands. A name registered twice, a
// command without a handler for a call its arity admits, or a subcommand
// not named "container|sub" in lower case panics: they are programming
// errors.
func (m *Mux) Handle(c Command) {
	if _, dup := m.cmds[c.Name]; dup {
		panic("resp: command registered twice: " + c.Name)
	}
	if c.Handler == nil && (c.Subcommands == nil || ArityOK(c.Arity, 1)) {
		panic("resp: command without a handler: " + c.Name)
	}
	if c.Step == 0 && c.FirstKey > 0 {
		c.Step = 1
	}
	subs := make([]*Command, len(c.Subcommands))
	for i, sub := range c.Subcommands {
		container, name, _ := strings.Cut(sub.Name, "|")
		if container != c.Name || !validSubName(name) || c.subs[name] != nil || sub.Handler == nil || sub.Subcommands != nil {
			panic("resp: bad subcommand " + sub.Name + " of " + c.Name)
		}
		own := *sub // the caller's may be registered on another Mux too
		if own.Flags == nil {
			own.Flags = c.Flags
		}
		if c.subs == nil {
			c.subs = make(map[string]*Command, len(c.Subcommands))
		}
		subs[i], c.subs[name] = &own, &own
	}
	c.Subcommands = subs
	m.cmds[c.Name] = &c
	m.names = append(m.names, c.Name)
}

// validSubName reports whether Subcommand can find a subcommand named so.
func validSubName(name string) bool {
	return name != "" && len(name) <= maxNameLen && name == strings.ToLower(name) && !strings.Contains(name, "|")
}

// Commands lists the registered commands in registration order.
func (m *Mux) Commands() []*Command {
	out := make([]*Command, len(m.names))
	for i, n := range m.names {
		out[i] = m.cmds[n]
	}
	return out
}

// Lookup finds a command by name, in any case, without allocating; a
// subcommand by its full name ("client|list").
func (m *Mux) Lookup(name []byte) *Command {
	if i := bytes.IndexByte(name, '|'); i >= 0 {
		if c := m.Lookup(name[:i]); c != nil {
			return c.Subcommand(name[i+1:])
		}
		return nil
	}
	return lookupLower(m.cmds, name)
}

// Subcommand finds a subcommand of c by its name after the '|', in any
// case, without allocating.
func (c *Command) Subcommand(name []byte) *Command { return lookupLower(c.subs, name) }

// maxNameLen is the longest command or subcommand name lookupLower finds.
const maxNameLen = 32

func lookupLower(cmds map[string]*Command, name []byte) *Command {
	var buf [maxNameLen]byte
	if len(name) > len(buf) {
		return nil
	}
	return cmds[string(appendLower(buf[:0], name))]
}

// appendLower appends b to dst with its ASCII letters lowered, and only
// those, as Redis lowers names and nocase patterns.
func appendLower(dst, b []byte) []byte {
	for _, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// NewSession makes the state for a connection that CLIENT LIST does not
// show (see Register).
func (m *Mux) NewSession(addr string) *Session {
	s := &Session{ID: m.nextID.Add(1), Addr: addr, authed: m.password == "", proto: 2, created: time.Now()}
	s.lastAt.Store(s.created.UnixNano())
	return s
}

// Register makes the session of a new connection, stores it with
// conn.SetContext and lists it for CLIENT LIST and CLIENT KILL. Call it
// from the server's accept callback, and Unregister once the connection
// has ended.
func (m *Mux) Register(conn redcon.Conn) *Session {
	s := m.NewSession(conn.RemoteAddr())
	if nc := conn.NetConn(); nc != nil {
		s.nc, s.laddr = nc, nc.LocalAddr().String()
	}
	conn.SetContext(s)
	m.clients.add(s)
	return s
}

// Unregister forgets the session of a connection that has ended.
func (m *Mux) Unregister(conn redcon.Conn) {
	if s, ok := conn.Context().(*Session); ok {
		m.clients.remove(s)
	}
}

// Password is the password AUTH checks against ("" when none is set).
func (m *Mux) Password() string { return m.password }

// ServeRESP is the server's handler (see ConnServer). It takes the rest of
// the pipeline that is already read, so a whole pipeline is dispatched at
// once.
func (m *Mux) ServeRESP(conn redcon.Conn, first redcon.Command) {
	s, _ := conn.Context().(*Session)
	if s == nil {
		s = m.NewSession(conn.RemoteAddr())
		conn.SetContext(s)
	}
	w := Writer{Conn: conn}
	s.cmds = append(s.cmds[:0], first)
	s.cmds = append(s.cmds, conn.ReadPipeline()...)
	s.lastAt.Store(coarseNow())
	group := Serial
	for _, cmd := range s.cmds {
		c, r := m.dispatch(s, cmd.Args)
		if s.lastCmd.Load() != c {
			s.lastCmd.Store(c)
		}
		kind := Serial
		if r == nil {
			kind = c.Kind
		}
		if kind == Serial || kind != group {
			m.flush(s, w)
		}
		if r == nil {
			r = c.Handler(s, cmd.Args)
		}
		s.pending = append(s.pending, r)
		group = kind
		if kind == Serial {
			m.flush(s, w)
		}
		if s.quit {
			conn.Close()
			break
		}
	}
	m.flush(s, w)
	clear(s.cmds)
	s.cmds = s.cmds[:0]
}

// dispatch finds the command, or the subcommand, and returns it with nil
// to run it, or with the error reply that answers it instead (the command
// is nil when it is unknown).
func (m *Mux) dispatch(s *Session, args [][]byte) (*Command, Reply) {
	c := lookupLower(m.cmds, args[0])
	if c == nil {
		return nil, ErrText(UnknownCommand(args))
	}
	if c.subs != nil && len(args) > 1 {
		sub := c.Subcommand(args[1])
		if sub == nil {
			return nil, ErrText("ERR unknown subcommand '" + printable(args[1], 128) + "'. Try " + strings.ToUpper(c.Name) + " HELP.")
		}
		c = sub
	}
	// Redis checks the argument count before authentication.
	if !ArityOK(c.Arity, len(args)) {
		return c, ErrText(WrongArity(c.Name))
	}
	if !s.authed && !c.NoAuth {
		return c, Err(ErrNoAuth)
	}
	return c, nil
}

func (m *Mux) flush(s *Session, w Writer) {
	w.Proto = s.proto
	for i, r := range s.pending {
		r.WriteTo(w)
		// HELLO may switch the protocol for the replies after it.
		w.Proto = s.proto
		s.pending[i] = nil
	}
	s.pending = s.pending[:0]
}

// ArityOK reports whether n arguments (the name included) satisfy a Redis
// arity.
func ArityOK(arity, n int) bool {
	if arity >= 0 {
		return n == arity
	}
	return n >= -arity
}

// WrongArity is Redis' error text for a wrong argument count.
func WrongArity(name string) string {
	return "ERR wrong number of arguments for '" + strings.ToLower(name) + "' command"
}

// UnknownCommand is Redis' error text for a command it does not know.
func UnknownCommand(args [][]byte) string {
	var b strings.Builder
	b.WriteString("ERR unknown command '")
	b.WriteString(printable(args[0], 128))
	b.WriteString("', with args beginning with: ")
	// As Redis: arguments are quoted while the list is under 128 bytes,
	// each cut to what is left of those.
	list := b.Len()
	for _, a := range args[1:] {
		left := 128 - (b.Len() - list)
		if left <= 0 {
			break
		}
		b.WriteByte('\'')
		b.WriteString(printable(a, left))
		b.WriteString("' ")
	}
	return b.String()
}

// printable cuts b to n bytes and replaces the bytes that would break an
// error line.
func printable(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	out := []byte(string(b)) // a copy: the bytes as sent, not UTF-8 checked
	for i, c := range out {
		if c == '\r' || c == '\n' {
			out[i] = ' '
		}
	}
	return string(out)
}
