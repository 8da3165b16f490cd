package resp

import (
	"cmp"
	"slices"
	"strings"
	"sync"
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

// clientLine is the session's line of CLIENT LIST and CLIENT INFO, with
// the fields of Redis 7.2 that apply here, in Redis' order: every client
// is a normal one (flags=N), in database 0, of the default user, without
// subscriptions or a transaction.
func clientLine(b *strings.Builder, s *Session, now time.Time) {
	s.mu.Lock()
	name, proto, libName, libVer := s.Name, s.Proto, s.LibName, s.LibVer
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
	return BulkString(b.String())
}

// clientFilter is what CLIENT LIST and CLIENT KILL match clients by.
type clientFilter struct {
	ids        []int64 // any of them; nil matches every id
	addr       string  // "" matches every address
	laddr      string
	noneByType bool // a TYPE other than normal: no client here is one
	maxAge     time.Duration
	skip       *Session // the caller, unless SKIPME no
}

func (f *clientFilter) match(s *Session, now time.Time) bool {
	switch {
	case f.noneByType, s == f.skip,
		f.ids != nil && !slices.Contains(f.ids, s.ID),
		f.addr != "" && s.Addr != f.addr,
		f.laddr != "" && s.laddr != f.laddr,
		f.maxAge > 0 && now.Sub(s.created) < f.maxAge:
		return false
	}
	return true
}

// parseClientType reads the value of a TYPE filter.
func parseClientType(f *clientFilter, t []byte) Reply {
	switch strings.ToLower(string(t)) {
	case "normal":
	case "master", "replica", "slave", "pubsub":
		f.noneByType = true
	default:
		return ErrText("ERR Unknown client type '" + printable(t, 64) + "'")
	}
	return nil
}

// clientList: CLIENT LIST [TYPE type] [ID id [id ...]].
func (cc connCommands) clientList(args [][]byte) Reply {
	var f clientFilter
	for i := 2; i < len(args); i++ {
		switch opt := strings.ToLower(string(args[i])); {
		case opt == "type" && i+1 < len(args):
			if r := parseClientType(&f, args[i+1]); r != nil {
				return r
			}
			i++
		case opt == "id" && i+1 < len(args):
			f.ids = []int64{}
			for i++; i < len(args); i++ {
				id, ok := ParseInt(args[i])
				if !ok || id <= 0 {
					return ErrText("ERR Invalid client ID")
				}
				f.ids = append(f.ids, id)
			}
		default:
			return ErrText("ERR syntax error")
		}
	}
	now := time.Now()
	var b strings.Builder
	for _, s := range cc.mux.clients.all() {
		if f.match(s, now) {
			clientLine(&b, s, now)
		}
	}
	return BulkString(b.String())
}

// clientKill: CLIENT KILL addr, which replies OK, or CLIENT KILL with
// filters (ID, ADDR, LADDR, TYPE, USER, SKIPME, MAXAGE), which replies
// with the number of clients closed. A client that kills itself is
// closed once it has its reply, as QUIT is.
func (cc connCommands) clientKill(s *Session, args [][]byte) Reply {
	now := time.Now()
	if len(args) == 3 {
		// The old form: one address, the caller's included.
		f := clientFilter{addr: string(args[2])}
		if cc.kill(s, &f, now) == 0 {
			return ErrText("ERR No such client")
		}
		return OK
	}
	if len(args)%2 != 0 {
		return ErrText("ERR syntax error")
	}
	f := clientFilter{skip: s}
	for i := 2; i < len(args); i += 2 {
		val := args[i+1]
		switch strings.ToLower(string(args[i])) {
		case "id":
			id, ok := ParseInt(val)
			if !ok || id <= 0 {
				return ErrText("ERR client-id should be greater than 0")
			}
			f.ids = append(f.ids, id)
		case "addr":
			f.addr = string(val)
		case "laddr":
			f.laddr = string(val)
		case "type":
			if r := parseClientType(&f, val); r != nil {
				return r
			}
		case "user":
			if !strings.EqualFold(string(val), "default") {
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
		case "maxage":
			age, ok := ParseInt(val)
			if !ok || age < 0 {
				return ErrText("ERR value is not an integer or out of range")
			}
			f.maxAge = time.Duration(min(age, int64(1<<62)/int64(time.Second))) * time.Second
		default:
			return ErrText("ERR syntax error")
		}
	}
	return Int(int64(cc.kill(s, &f, now)))
}

// kill closes the clients f matches and says how many. The caller's own
// connection is closed after its reply.
func (cc connCommands) kill(self *Session, f *clientFilter, now time.Time) int {
	n := 0
	for _, s := range cc.mux.clients.all() {
		if !f.match(s, now) {
			continue
		}
		n++
		if s == self {
			s.quit = true
		} else if s.nc != nil {
			s.nc.Close()
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
	"    * MAXAGE <maxage>",
	"      Kill connections older than the specified age.",
	"LIST [options ...]",
	"    Return information about client connections. Options:",
	"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
	"      Return clients of specified type.",
	"    * ID <client-id> [<client-id> ...]",
	"      Return clients of specified IDs only.",
	"SETNAME <name>",
	"    Assign the name <name> to the current connection.",
	"SETINFO <option> <value>",
	"    Set client meta attr. Options are:",
	"    * LIB-NAME: the client lib name.",
	"    * LIB-VER: the client lib version.",
	"HELP",
	"    Print this help.",
}

// helpReply is a HELP subcommand's answer: its lines as status replies.
func helpReply(lines []string) Reply {
	return ReplyFunc(func(w Writer) {
		w.WriteArray(len(lines))
		for _, l := range lines {
			w.WriteString(l)
		}
	})
}
