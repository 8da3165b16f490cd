package resp

import (
	"bytes"
	"crypto/subtle"
	"sort"
	"strings"
)

// RedisVersion is the Redis version shardcounter reports to clients. Clients
// use it to pick features; every command they pick by it must work.
const RedisVersion = "7.2.0"

// Server describes the server for HELLO, COMMAND and CONFIG GET.
type Server struct {
	Version string // shardcounter's own version
	Role    string // "master"
	// Config answers CONFIG GET: parameter name -> value.
	Config map[string]string
}

// RegisterConnCommands registers the connection and introspection commands
// every Redis-compatible server answers: HELLO, AUTH, CLIENT, SELECT, PING,
// ECHO, QUIT, COMMAND and CONFIG.
func RegisterConnCommands(m *Mux, srv Server) {
	cc := connCommands{mux: m, srv: srv}
	m.Handle(Command{Name: "hello", Arity: -1, NoAuth: true, Flags: []string{"noscript", "loading", "stale", "fast", "no-auth"}, Handler: cc.hello})
	m.Handle(Command{Name: "auth", Arity: -2, NoAuth: true, Flags: []string{"noscript", "loading", "stale", "fast", "no-auth"}, Handler: cc.auth})
	m.Handle(Command{Name: "quit", Arity: -1, NoAuth: true, Flags: []string{"fast", "no-auth"}, Handler: cc.quit})
	m.Handle(Command{Name: "ping", Arity: -1, Flags: []string{"fast", "stale"}, Handler: cc.ping})
	m.Handle(Command{Name: "echo", Arity: 2, Flags: []string{"fast"}, Handler: cc.echo})
	m.Handle(Command{Name: "select", Arity: 2, Flags: []string{"fast", "loading", "stale"}, Handler: cc.selectDB})
	m.Handle(Command{Name: "client", Arity: -2, Flags: []string{"noscript", "loading", "stale"}, Subcommands: []*Command{
		{Name: "client|setname", Arity: 3, Handler: clientSetName},
		{Name: "client|getname", Arity: 2, Handler: clientGetName},
		{Name: "client|id", Arity: 2, Handler: func(s *Session, _ [][]byte) Reply { return Int(s.ID) }},
		{Name: "client|setinfo", Arity: 4, Handler: clientSetInfo},
		{Name: "client|info", Arity: 2, Handler: func(s *Session, _ [][]byte) Reply { return clientInfo(s) }},
		{Name: "client|list", Arity: -2, Flags: adminFlags, Handler: cc.clientList},
		{Name: "client|kill", Arity: -3, Flags: adminFlags, Handler: cc.clientKill},
		{Name: "client|help", Arity: 2, Flags: helpFlags, Handler: helpHandler(clientHelp)},
	}})
	m.Handle(Command{Name: "command", Arity: -1, Flags: []string{"loading", "stale"}, Handler: cc.commandAll, Subcommands: []*Command{
		{Name: "command|help", Arity: 2, Handler: helpHandler(commandHelp)},
		{Name: "command|count", Arity: 2, Handler: func(*Session, [][]byte) Reply { return Int(int64(len(cc.mux.Commands()))) }},
		// Docs are optional; an empty answer tells clients there are none.
		{Name: "command|docs", Arity: -2, Handler: func(*Session, [][]byte) Reply { return ReplyFunc(func(w Writer) { w.WriteMapHeader(0) }) }},
		{Name: "command|info", Arity: -2, Handler: cc.commandInfo},
		{Name: "command|list", Arity: -2, Handler: cc.commandList},
	}})
	m.Handle(Command{Name: "config", Arity: -2, Flags: []string{"admin", "noscript", "loading", "stale"}, Subcommands: []*Command{
		{Name: "config|help", Arity: 2, Flags: helpFlags, Handler: helpHandler(configHelp)},
		{Name: "config|get", Arity: -3, Handler: cc.configGet},
		{Name: "config|set", Arity: -4, Handler: configSet},
		{Name: "config|resetstat", Arity: 2, Handler: func(*Session, [][]byte) Reply { return OK }},
	}})
}

// The flags of Redis 7.2's subcommands where they differ from their
// container's: listing and killing clients is an admin command, and HELP
// runs anywhere.
var (
	adminFlags = []string{"admin", "noscript", "loading", "stale"}
	helpFlags  = []string{"loading", "stale"}
)

type connCommands struct {
	mux *Mux
	srv Server
}

func (cc connCommands) checkPassword(user, pass []byte) bool {
	if !strings.EqualFold(string(user), "default") {
		return false
	}
	want := cc.mux.Password()
	if want == "" {
		return true // the default user has no password
	}
	return subtle.ConstantTimeCompare(pass, []byte(want)) == 1
}

// hello: HELLO [protover [AUTH username password] [SETNAME clientname]]
func (cc connCommands) hello(s *Session, args [][]byte) Reply {
	proto := s.proto
	if len(args) >= 2 {
		v, ok := ParseInt(args[1])
		if !ok {
			return ErrText("ERR Protocol version is not an integer or out of range")
		}
		if v != 2 && v != 3 {
			return ErrText("NOPROTO unsupported protocol version")
		}
		proto = int(v)
	}
	name, setName := "", false
	for i := 2; i < len(args); i++ {
		opt := strings.ToLower(string(args[i]))
		switch {
		case opt == "auth" && i+2 < len(args):
			if !cc.checkPassword(args[i+1], args[i+2]) {
				return Err(ErrWrongPass)
			}
			s.authed = true
			i += 2
		case opt == "setname" && i+1 < len(args):
			if !validClientName(args[i+1]) {
				return ErrText("ERR Client names cannot contain spaces, newlines or special characters.")
			}
			name, setName = string(args[i+1]), true
			i++
		default:
			return ErrText("ERR Syntax error in HELLO option '" + printable(args[i], 64) + "'")
		}
	}
	if !s.authed {
		return ErrText("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
	}
	s.set(func() {
		if setName {
			s.name = name
		}
		s.proto = proto
	})
	id := s.ID
	return ReplyFunc(func(w Writer) {
		w.WriteMapHeader(7)
		w.WriteBulkString("server")
		w.WriteBulkString("redis")
		w.WriteBulkString("version")
		w.WriteBulkString(RedisVersion)
		w.WriteBulkString("proto")
		w.WriteInt(proto)
		w.WriteBulkString("id")
		w.WriteInt64(id)
		w.WriteBulkString("mode")
		w.WriteBulkString("standalone")
		w.WriteBulkString("role")
		w.WriteBulkString(cc.srv.Role)
		w.WriteBulkString("modules")
		w.WriteArray(0)
	})
}

// auth: AUTH [username] password
func (cc connCommands) auth(s *Session, args [][]byte) Reply {
	if len(args) > 3 {
		return ErrText("ERR syntax error")
	}
	user, pass := []byte("default"), args[1]
	if len(args) == 3 {
		user, pass = args[1], args[2]
	}
	if cc.mux.Password() == "" && len(args) == 2 {
		return ErrText("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
	}
	if !cc.checkPassword(user, pass) {
		return Err(ErrWrongPass)
	}
	s.authed = true
	return OK
}

func (cc connCommands) quit(s *Session, args [][]byte) Reply {
	s.quit = true
	return OK
}

func (cc connCommands) ping(s *Session, args [][]byte) Reply {
	switch len(args) {
	case 1:
		return Status("PONG")
	case 2:
		return Bulk(args[1])
	}
	return ErrText(WrongArity("ping"))
}

func (cc connCommands) echo(s *Session, args [][]byte) Reply { return Bulk(args[1]) }

func (cc connCommands) selectDB(s *Session, args [][]byte) Reply {
	v, ok := ParseInt(args[1])
	if !ok {
		return Err(ErrNotInteger)
	}
	if v != 0 {
		return ErrText("ERR DB index is out of range")
	}
	return OK
}

func validClientName(b []byte) bool {
	for _, c := range b {
		if c < '!' || c > '~' {
			return false
		}
	}
	return true
}

// clientSetName: CLIENT SETNAME name.
func clientSetName(s *Session, args [][]byte) Reply {
	if !validClientName(args[2]) {
		return ErrText("ERR Client names cannot contain spaces, newlines or special characters.")
	}
	s.set(func() { s.name = string(args[2]) })
	return OK
}

// clientGetName: CLIENT GETNAME.
func clientGetName(s *Session, _ [][]byte) Reply {
	if s.name == "" {
		return Null
	}
	return BulkString(s.name)
}

// clientSetInfo: CLIENT SETINFO LIB-NAME|LIB-VER value.
func clientSetInfo(s *Session, args [][]byte) Reply {
	attr := strings.ToLower(string(args[2]))
	if attr != "lib-name" && attr != "lib-ver" {
		return ErrText("ERR Unrecognized option '" + printable(args[2], 64) + "'")
	}
	// As in Redis: CLIENT INFO must stay one line of fields split by
	// spaces.
	if !validClientName(args[3]) {
		return ErrText("ERR " + string(args[2]) + " cannot contain spaces, newlines or special characters.")
	}
	s.set(func() {
		if attr == "lib-name" {
			s.libName = string(args[3])
		} else {
			s.libVer = string(args[3])
		}
	})
	return OK
}

// commandAll: COMMAND, every command's details.
func (cc connCommands) commandAll(*Session, [][]byte) Reply {
	cmds := cc.mux.Commands()
	return ReplyFunc(func(w Writer) {
		w.WriteArray(len(cmds))
		for _, c := range cmds {
			writeCommandInfo(w, c)
		}
	})
}

// commandInfo: COMMAND INFO [name ...], by command or subcommand name
// ("client|list"); as in Redis 7, every command without names.
func (cc connCommands) commandInfo(s *Session, args [][]byte) Reply {
	names := args[2:]
	if len(names) == 0 {
		return cc.commandAll(s, args)
	}
	return ReplyFunc(func(w Writer) {
		w.WriteArray(len(names))
		for _, n := range names {
			if c := cc.mux.Lookup(n); c != nil {
				writeCommandInfo(w, c)
			} else {
				w.WriteNullReply()
			}
		}
	})
}

// commandList: COMMAND LIST [FILTERBY MODULE name | ACLCAT category |
// PATTERN pattern], the names of the commands, each followed by those of
// its subcommands ("client|list"), as Redis 7 lists them. There are no
// modules, and no command has an ACL category (see COMMAND INFO), so those
// filters list nothing; a pattern is matched without regard to case.
func (cc connCommands) commandList(_ *Session, args [][]byte) Reply {
	keep := func(string) bool { return true }
	switch {
	case len(args) == 2:
	case len(args) == 5 && strings.EqualFold(string(args[2]), "filterby"):
		switch strings.ToLower(string(args[3])) {
		case "module", "aclcat":
			keep = func(string) bool { return false }
		case "pattern":
			pattern := appendLower(nil, args[4])
			keep = func(name string) bool { return Match([]byte(name), pattern) }
		default:
			return Err(ErrSyntax)
		}
	default:
		return Err(ErrSyntax)
	}
	var names []string
	for _, c := range cc.mux.Commands() {
		if keep(c.Name) {
			names = append(names, c.Name)
		}
		for _, sub := range c.Subcommands {
			if keep(sub.Name) {
				names = append(names, sub.Name)
			}
		}
	}
	return ReplyFunc(func(w Writer) {
		w.WriteArray(len(names))
		for _, n := range names {
			w.WriteBulkString(n)
		}
	})
}

// writeCommandInfo writes c as COMMAND INFO does, its subcommands
// included.
func writeCommandInfo(w Writer, c *Command) {
	w.WriteArray(10)
	w.WriteBulkString(c.Name)
	w.WriteInt(c.Arity)
	w.WriteArray(len(c.Flags))
	for _, f := range c.Flags {
		w.WriteString(f)
	}
	w.WriteInt(c.FirstKey)
	w.WriteInt(c.LastKey)
	w.WriteInt(c.Step)
	w.WriteArray(0) // ACL categories
	w.WriteArray(0) // tips
	w.WriteArray(0) // key specs
	w.WriteArray(len(c.Subcommands))
	for _, sub := range c.Subcommands {
		writeCommandInfo(w, sub)
	}
}

// configGet: CONFIG GET pattern [pattern ...].
func (cc connCommands) configGet(_ *Session, args [][]byte) Reply {
	seen := map[string]bool{}
	var keys []string
	for _, p := range args[2:] {
		pat := bytes.ToLower(p)
		for k := range cc.srv.Config {
			if !seen[k] && Match([]byte(k), pat) {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return ReplyFunc(func(w Writer) {
		w.WriteMapHeader(len(keys))
		for _, k := range keys {
			w.WriteBulkString(k)
			w.WriteBulkString(cc.srv.Config[k])
		}
	})
}

// configSet: CONFIG SET name value [name value ...], which is not
// supported.
func configSet(_ *Session, args [][]byte) Reply {
	if len(args)%2 != 0 {
		return ErrText(WrongArity("config|set"))
	}
	return ErrText("ERR CONFIG SET is not supported: shardcounter is configured by its command-line flags")
}

var commandHelp = []string{
	"COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"(no subcommand)",
	"    Return details about all commands.",
	"COUNT",
	"    Return the total number of commands in this server.",
	"LIST",
	"    Return a list of all commands in this server.",
	"INFO [<command-name> ...]",
	"    Return details about multiple commands.",
	"    If no command names are given, details for all commands are returned.",
	"DOCS [<command-name> ...]",
	"    Return documentation details about multiple commands (none here).",
	"HELP",
	"    Print this help.",
}

var configHelp = []string{
	"CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"GET <pattern>",
	"    Return parameters matching the glob-like <pattern> and their values.",
	"SET <directive> <value>",
	"    Not supported: shardcounter is configured by its command-line flags.",
	"RESETSTAT",
	"    Accepted; there are no statistics to reset.",
	"HELP",
	"    Print this help.",
}
