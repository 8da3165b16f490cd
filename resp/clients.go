package resp

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// clientList is the registered sessions (see Mux.Register), for CLIENT
// LIST and CLIENT KILL.
type clientList struct {
	mu   sync.Mutex
	byID map[int64]*Session
}

func (l *clientList) add(s *Session) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byID == nil {
		l.byID = make(map[int64]*Session)
	}
	l.byID[s.ID] = s
}

func (l *clientList) get(id int64) *Session {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byID[id]
}

func (l *clientList) remove(s *Session) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.byID, s.ID)
}

// all returns the sessions in order of their ids, as Redis lists them.
func (l *clientList) all() []*Session {
	l.mu.Lock()
	out := make([]*Session, 0, len(l.byID))
	for _, s := range l.byID {
		out = append(out, s)
	}
	l.mu.Unlock()
	slices.SortFunc(out, func(a, b *Session) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// clock is a coarse clock for the idle times of CLIENT LIST, which shows
// whole seconds: a command's read stores it, where time.Now would cost
// about 100 ns a read on these machines. It ticks from the first use.
var clock struct {
	once sync.Once
	now  atomic.Int64 // Unix ns
}

func coarseNow() int64 {
	clock.once.Do(func() {
		clock.now.Store(time.Now().UnixNano())
		go func() {
			for t := range time.Tick(100 * time.Millisecond) {
				clock.now.Store(t.UnixNano())
			}
		}()
	})
	return clock.now.Load()
}

// clientLine is the session's line of CLIENT LIST and CLIENT INFO, with
// the fields of Redis 7.2 that apply here, in Redis' order: every client
// is a normal one (flags=N), in database 0, of the default user, without
// subscriptions or a transaction.
func clientLine(b *strings.Builder, s *Session, now time.Time) {
	s.mu.Lock()
	name, proto, libName, libVer := s.name, s.proto, s.libName, s.libVer
	s.mu.Unlock()
	cmd := "NULL"
	if c := s.lastCmd.Load(); c != nil {
		cmd = c.Name
	}
	idle := now.Sub(time.Unix(0, s.lastAt.Load()))
	b.WriteString("id=" + FormatInt(s.ID) + " addr=" + s.Addr + " laddr=" + s.laddr + " name=" + name)
	b.WriteString(" age=" + FormatInt(int64(now.Sub(s.created)/time.Second)) + " idle=" + FormatInt(int64(max(idle, 0)/time.Second)))
	b.WriteString(" flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 cmd=" + cmd + " user=default redir=-1")
	b.WriteString(" resp=" + FormatInt(int64(proto)) + " lib-name=" + libName + " lib-ver=" + libVer + "\n")
}

// clientInfo: CLIENT INFO.
func clientInfo(s *Session) Reply {
	var b strings.Builder
	clientLine(&b, s, time.Now())
	return Verbatim(b.String())
}

// clientFilter is what CLIENT KILL matches clients by.
type clientFilter struct {
	id         int64  // 0 matches every id
	addr       string // "" matches every address
	laddr      string
	noneByType bool     // a TYPE other than normal: no client here is one
	skip       *Session // the caller, unless SKIPME no
}

func (f *clientFilter) match(s *Session) bool {
	switch {
	case f.noneByType, s == f.skip,
		f.id != 0 && s.ID != f.id,
		f.addr != "" && s.Addr != f.addr,
		f.laddr != "" && s.laddr != f.laddr:
		return false
	}
	return true
}

// parseClientType reads a TYPE option: normal is true for "normal", the
// only type of client here; r is the error reply for a type Redis does not
// know.
func parseClientType(t []byte) (normal bool, r Reply) {
	switch strings.ToLower(string(t)) {
	case "normal":
		return true, nil
	case "master", "replica", "slave", "pubsub":
		return false, nil
	}
	return false, ErrText("ERR Unknown client type '" + printable(t, 64) + "'")
}

// clientList: CLIENT LIST [TYPE type | ID id [id ...]], as Redis takes
// it: one option or the other, and the ids listed in the order given.
func (cc connCommands) clientList(_ *Session, args [][]byte) Reply {
	now := time.Now()
	var b strings.Builder
	opt := ""
	if len(args) > 2 {
		opt = strings.ToLower(string(args[2]))
	}
	switch {
	case len(args) == 2:
		for _, s := range cc.mux.clients.all() {
			clientLine(&b, s, now)
		}
	case len(args) == 4 && opt == "type":
		normal, r := parseClientType(args[3])
		if r != nil {
			return r
		}
		if normal {
			return cc.clientList(nil, args[:2])
		}
	case len(args) > 3 && opt == "id":
		for _, a := range args[3:] {
			id, ok := ParseInt(a)
			if !ok {
				return ErrText("ERR Invalid client ID")
			}
			if s := cc.mux.clients.get(id); s != nil {
				clientLine(&b, s, now)
			}
		}
	default:
		return ErrText("ERR syntax error")
	}
	return Verbatim(b.String())
}

// clientKill: CLIENT KILL addr, which replies OK, or CLIENT KILL with
// filters (ID, ADDR, LADDR, TYPE, USER, SKIPME), which replies with the
// number of clients closed. A client that kills itself is closed once it
// has its reply, as QUIT is.
func (cc connCommands) clientKill(s *Session, args [][]byte) Reply {
	if len(args) == 3 {
		// The old form: one address, the caller's included.
		f := clientFilter{addr: string(args[2])}
		if cc.kill(s, &f) == 0 {
			return ErrText("ERR No such client")
		}
		return OK
	}
	f := clientFilter{skip: s}
	for i := 2; i < len(args); i += 2 {
		if i+1 == len(args) {
			return ErrText("ERR syntax error")
		}
		val := args[i+1]
		switch strings.ToLower(string(args[i])) {
		case "id":
			id, ok := ParseInt(val)
			if !ok || id <= 0 {
				return ErrText("ERR client-id should be greater than 0")
			}
			f.id = id // as in Redis, the last ID given is the one
		case "addr":
			f.addr = string(val)
		case "laddr":
			f.laddr = string(val)
		case "type":
			normal, r := parseClientType(val)
			if r != nil {
				return r
			}
			f.noneByType = f.noneByType || !normal
		case "user":
			if string(val) != "default" {
				return ErrText("ERR No such user '" + printable(val, 64) + "'")
			}
		case "skipme":
			switch strings.ToLower(string(val)) {
			case "yes":
				f.skip = s
			case "no":
				f.skip = nil
			default:
				return ErrText("ERR syntax error")
			}
		default:
			return ErrText("ERR syntax error")
		}
	}
	return Int(int64(cc.kill(s, &f)))
}

// kill closes the clients f matches and says how many. They leave CLIENT
// LIST at once. The caller's own connection is closed after its reply;
// another's socket is closed from a goroutine of its own, since closing a
// TLS connection writes to it and may wait for a peer that does not read.
func (cc connCommands) kill(self *Session, f *clientFilter) int {
	n := 0
	for _, s := range cc.mux.clients.all() {
		if !f.match(s) {
			continue
		}
		n++
		cc.mux.clients.remove(s)
		if s == self {
			s.quit = true
		} else if s.nc != nil {
			go s.nc.Close()
		}
	}
	return n
}

var clientHelp = []string{
	"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"GETNAME",
	"    Return the name of the current connection.",
	"ID",
	"    Return the ID of the current connection.",
	"INFO",
	"    Return information about the current client connection.",
	"KILL <ip:port>",
	"    Kill connection made from <ip:port>.",
	"KILL <option> <value> [<option> <value> [...]]",
	"    Kill connections. Options are:",
	"    * ADDR (<ip:port>|<unixsocket>:0)",
	"      Kill connections made from the specified address",
	"    * LADDR (<ip:port>|<unixsocket>:0)",
	"      Kill connections made to specified local address",
	"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
	"      Kill connections by type.",
	"    * USER <username>",
	"      Kill connections authenticated by <username>.",
	"    * SKIPME (YES|NO)",
	"      Skip killing current connection (default: yes).",
	"    * ID <client-id>",
	"      Kill connections by client id.",
	"LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB) | ID <client-id> [<client-id> ...]]",
	"    Return information about client connections: all of them, those of one type,",
	"    or those of the given IDs.",
	"SETNAME <name>",
	"    Assign the name <name> to the current connection.",
	"SETINFO <option> <value>",
	"    Set client meta attr. Options are:",
	"    * LIB-NAME: the client lib name.",
	"    * LIB-VER: the client lib version.",
	"HELP",
	"    Print this help.",
}

// helpHandler answers a HELP subcommand: lines as status replies.
func helpHandler(lines []string) Handler {
	help := ReplyFunc(func(w Writer) {
		w.WriteArray(len(lines))
		for _, l := range lines {
			w.WriteString(l)
		}
	})
	return func(*Session, [][]byte) Reply { return help }
}
