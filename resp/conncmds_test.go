package resp

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/shardcounter/shardcounter/internal/resptest"
)

// helloFields checks a HELLO reply: 7 pairs in Redis' order.
func helloFields(t *testing.T, got []any, proto int64) int64 {
	t.Helper()
	if len(got) != 14 {
		t.Fatalf("HELLO reply has %d elements, want 14: %#v", len(got), got)
	}
	id, ok := got[7].(int64)
	if !ok || id <= 0 {
		t.Fatalf("HELLO id %#v", got[7])
	}
	want := []any{"server", "redis", "version", RedisVersion, "proto", proto, "id", id,
		"mode", "standalone", "role", "master", "modules", []any{}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("HELLO reply\n got %#v\nwant %#v", got, want)
	}
	return id
}

func TestHello(t *testing.T) {
	m, _ := testMux("")
	addr := serveMux(t, m)
	c := dialTest(t, addr)

	// HELLO without a version answers in the current protocol, RESP2.
	arr, ok := c.Do("HELLO").([]any)
	if !ok {
		t.Fatal("HELLO without version did not reply with an array")
	}
	helloFields(t, arr, 2)

	c.Expect(resptest.Err("NOPROTO unsupported protocol version"), "HELLO", "4")
	c.Expect(resptest.Err("NOPROTO unsupported protocol version"), "HELLO", "1")
	c.Expect(resptest.Err("ERR Protocol version is not an integer or out of range"), "HELLO", "three")
	c.Expect(resptest.Err("ERR Syntax error in HELLO option 'FOO'"), "HELLO", "3", "FOO")
	// A failed HELLO leaves the protocol alone: still RESP2.
	c.Expect([]any{"save", ""}, "CONFIG", "GET", "save")

	m3, ok := c.Do("HELLO", "3").(resptest.Map)
	if !ok {
		t.Fatal("HELLO 3 did not reply with a RESP3 map")
	}
	id := helloFields(t, []any(m3), 3)
	c.Expect(id, "CLIENT", "ID")
	c.Expect(nil, "CLIENT", "GETNAME")
	c.Expect(resptest.Map{}, "COMMAND", "DOCS")

	// Back to RESP2.
	arr, ok = c.Do("HELLO", "2").([]any)
	if !ok {
		t.Fatal("HELLO 2 did not reply with a RESP2 array")
	}
	if helloFields(t, arr, 2) != id {
		t.Fatal("HELLO 2 changed the connection id")
	}
	c.Expect([]any{}, "COMMAND", "DOCS")

	// HELLO ... SETNAME.
	c2 := dialTest(t, addr)
	if _, ok := c2.Do("HELLO", "3", "SETNAME", "worker-1").(resptest.Map); !ok {
		t.Fatal("HELLO 3 SETNAME")
	}
	c2.Expect("worker-1", "CLIENT", "GETNAME")
	c2.Expect(resptest.Err("ERR Client names cannot contain spaces, newlines or special characters."), "HELLO", "3", "SETNAME", "a b")
	c2.Expect("worker-1", "CLIENT", "GETNAME")
	if id2 := c2.Do("CLIENT", "ID").(int64); id2 == id {
		t.Fatalf("two connections share id %d", id)
	}
}

func TestHelloAuth(t *testing.T) {
	m, _ := testMux("s3cret")
	addr := serveMux(t, m)
	c := dialTest(t, addr)
	got := c.Do("HELLO", "3")
	if e, ok := got.(resptest.Err); !ok || !strings.HasPrefix(string(e), "NOAUTH HELLO must be called with the client already authenticated") {
		t.Fatalf("HELLO 3 before AUTH: %#v", got)
	}
	c.Expect(resptest.Err("WRONGPASS invalid username-password pair or user is disabled."), "HELLO", "3", "AUTH", "default", "wrong")
	c.Expect(resptest.Err("WRONGPASS invalid username-password pair or user is disabled."), "HELLO", "3", "AUTH", "alice", "s3cret")
	c.Expect(resptest.Err("NOAUTH Authentication required."), "PING")
	m3, ok := c.Do("HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "me").(resptest.Map)
	if !ok {
		t.Fatalf("HELLO 3 AUTH default <pass>: %#v", m3)
	}
	helloFields(t, []any(m3), 3)
	c.Expect(resptest.Status("PONG"), "PING")
	c.Expect("me", "CLIENT", "GETNAME")

	// HELLO 2 AUTH works too and keeps RESP2.
	c2 := dialTest(t, addr)
	arr, ok := c2.Do("HELLO", "2", "auth", "DEFAULT", "s3cret").([]any)
	if !ok {
		t.Fatal("HELLO 2 AUTH")
	}
	helloFields(t, arr, 2)
	c2.Expect(resptest.Status("PONG"), "PING")
}

func TestClientCommands(t *testing.T) {
	m, _ := testMux("")
	c := dialTest(t, serveMux(t, m))
	id, ok := c.Do("CLIENT", "ID").(int64)
	if !ok || id <= 0 {
		t.Fatalf("CLIENT ID: %v", id)
	}
	c.Expect(nil, "CLIENT", "GETNAME")
	c.Expect(resptest.Status("OK"), "CLIENT", "SETNAME", "alpha")
	c.Expect("alpha", "client", "getname")
	c.Expect(resptest.Err("ERR Client names cannot contain spaces, newlines or special characters."), "CLIENT", "SETNAME", "al pha")
	c.Expect("alpha", "CLIENT", "GETNAME")
	c.Expect(resptest.Status("OK"), "CLIENT", "SETINFO", "LIB-NAME", "go-redis(,go1.26)")
	c.Expect(resptest.Status("OK"), "CLIENT", "SETINFO", "lib-ver", "9.23.0")
	c.Expect(resptest.Err("ERR Unrecognized option 'color'"), "CLIENT", "SETINFO", "color", "red")
	c.Expect(resptest.Err("ERR wrong number of arguments for 'client|setinfo' command"), "CLIENT", "SETINFO", "lib-name")
	c.Expect(resptest.Err("ERR wrong number of arguments for 'client|setname' command"), "CLIENT", "SETNAME")
	c.Expect(resptest.Err("ERR unknown subcommand 'FROB'. Try CLIENT HELP."), "CLIENT", "FROB")
	info, ok := c.Do("CLIENT", "INFO").(string)
	if !ok {
		t.Fatal("CLIENT INFO is not a bulk string")
	}
	for _, want := range []string{"id=" + FormatInt(id) + " ", " name=alpha ", " resp=2 ", " lib-name=go-redis(,go1.26) ", " lib-ver=9.23.0"} {
		if !strings.Contains(info, want) {
			t.Errorf("CLIENT INFO %q lacks %q", info, want)
		}
	}
}

// CLIENT SETINFO refuses what would break CLIENT INFO's one line of
// space-separated fields, as Redis' validateClientAttr does.
func TestClientSetinfoRefusesSpacesAndNewlines(t *testing.T) {
	m, _ := testMux("")
	c := dialTest(t, serveMux(t, m))
	c.Expect(resptest.Status("OK"), "CLIENT", "SETINFO", "lib-name", "good")
	c.Expect(resptest.Err("ERR lib-name cannot contain spaces, newlines or special characters."), "CLIENT", "SETINFO", "lib-name", "bad name")
	c.Expect(resptest.Err("ERR LIB-VER cannot contain spaces, newlines or special characters."), "CLIENT", "SETINFO", "LIB-VER", "1\nid=0")
	info, ok := c.Do("CLIENT", "INFO").(string)
	if !ok {
		t.Fatal("CLIENT INFO is not a bulk string")
	}
	if !strings.HasSuffix(info, " lib-name=good lib-ver=\n") || strings.Count(info, "\n") != 1 {
		t.Errorf("CLIENT INFO after refused SETINFOs: %q", info)
	}
}

func TestSelectPingEcho(t *testing.T) {
	m, _ := testMux("")
	c := dialTest(t, serveMux(t, m))
	c.Expect(resptest.Status("OK"), "SELECT", "0")
	c.Expect(resptest.Err("ERR DB index is out of range"), "SELECT", "1")
	c.Expect(resptest.Err("ERR DB index is out of range"), "SELECT", "-1")
	c.Expect(resptest.Err("ERR value is not an integer or out of range"), "SELECT", "zero")
	c.Expect(resptest.Status("PONG"), "PING")
	c.Expect("hello world", "PING", "hello world")
	c.Expect("bin\x00\r\nary", "ECHO", "bin\x00\r\nary")
	c.Expect("", "ECHO", "")
}

func TestCommandIntrospection(t *testing.T) {
	m, _ := testMux("")
	c := dialTest(t, serveMux(t, m))
	n, ok := c.Do("COMMAND", "COUNT").(int64)
	if !ok || n != int64(len(m.Commands())) || n < 10 {
		t.Fatalf("COMMAND COUNT %d, %d registered", n, len(m.Commands()))
	}
	all, ok := c.Do("COMMAND").([]any)
	if !ok || int64(len(all)) != n {
		t.Fatalf("COMMAND returned %d entries, COUNT says %d", len(all), n)
	}
	byName := map[string][]any{}
	for _, e := range all {
		info, ok := e.([]any)
		if !ok || len(info) != 10 {
			t.Fatalf("COMMAND entry %#v: want a 10-element array", e)
		}
		byName[info[0].(string)] = info
	}
	for _, name := range []string{"hello", "auth", "ping", "echo", "select", "client", "command", "config", "quit", "late"} {
		if byName[name] == nil {
			t.Errorf("COMMAND lacks %q", name)
		}
	}
	if late := byName["late"]; late[1] != int64(3) {
		t.Errorf("COMMAND late arity %#v", late[1])
	}
	if echo := byName["echo"]; !reflect.DeepEqual(echo[2], []any{resptest.Status("fast")}) {
		t.Errorf("COMMAND echo flags %#v", echo[2])
	}
	c.Expect([]any{}, "COMMAND", "DOCS")
	c.Expect([]any{}, "COMMAND", "DOCS", "get")
	infos, ok := c.Do("COMMAND", "INFO", "LATE", "nosuch").([]any)
	if !ok || len(infos) != 2 || infos[1] != nil || !reflect.DeepEqual(infos[0], byName["late"]) {
		t.Fatalf("COMMAND INFO late nosuch: %#v", infos)
	}
	// COMMAND LIST names the subcommands too, after their command; COUNT
	// counts commands only, as in Redis 7.
	list, ok := c.Do("COMMAND", "LIST").([]any)
	if !ok || int64(len(list)) <= n || !slices.Contains(list, any("client|list")) || !slices.Contains(list, any("late")) {
		t.Fatalf("COMMAND LIST: %#v", list)
	}
	if i := slices.Index(list, any("client")); i < 0 || list[i+1] != "client|setname" {
		t.Errorf("COMMAND LIST: client is not followed by its subcommands: %#v", list)
	}
	// FILTERBY, as in Redis 7: a pattern matches full names without regard
	// to case; there are no modules and no ACL categories.
	c.Expect([]any{"client|list"}, "COMMAND", "LIST", "FILTERBY", "PATTERN", "CLIENT|L*")
	c.Expect([]any{}, "COMMAND", "LIST", "FILTERBY", "PATTERN", "zz*")
	c.Expect([]any{}, "COMMAND", "LIST", "filterby", "module", "x")
	c.Expect([]any{}, "COMMAND", "LIST", "FILTERBY", "ACLCAT", "string")
	for _, bad := range [][]string{{"x"}, {"FILTERBY"}, {"FILTERBY", "PATTERN"}, {"FILTERBY", "NAME", "x"}, {"FILTERBY", "PATTERN", "x", "y"}} {
		c.Expect(resptest.Err("ERR syntax error"), append([]string{"COMMAND", "LIST"}, bad...)...)
	}
	c.Expect(resptest.Err("ERR unknown subcommand 'NOPE'. Try COMMAND HELP."), "COMMAND", "NOPE")
	// Containers list their subcommands, each with its own arity, and
	// COMMAND INFO finds one by its full name, as in Redis 7.
	subs, _ := byName["client"][9].([]any)
	var list7 []any
	for _, sub := range subs {
		if info, ok := sub.([]any); ok && info[0] == "client|list" {
			list7 = info
		}
	}
	if len(subs) < 8 || list7 == nil || list7[1] != int64(-2) || !slices.Contains(list7[2].([]any), any(resptest.Status("admin"))) {
		t.Errorf("COMMAND client subcommands: %#v", subs)
	}
	if infos, ok := c.Do("COMMAND", "INFO", "CLIENT|LIST", "client|nosuch").([]any); !ok || len(infos) != 2 || !reflect.DeepEqual(infos[0], list7) || infos[1] != nil {
		t.Errorf("COMMAND INFO client|list client|nosuch: %#v", infos)
	}
	// A subcommand's full name is not a command.
	c.Expect(resptest.Err("ERR unknown command 'client|list', with args beginning with: "), "client|list")
	// As in Redis 7: INFO with no names is every command, and the
	// subcommands that take no argument refuse one.
	if infos, ok := c.Do("COMMAND", "INFO").([]any); !ok || int64(len(infos)) != n {
		t.Fatalf("COMMAND INFO with no names: %d entries, want %d", len(infos), n)
	}
	c.Expect(resptest.Err("ERR wrong number of arguments for 'command|count' command"), "COMMAND", "COUNT", "x")
	c.Expect(resptest.Err("ERR wrong number of arguments for 'client|info' command"), "CLIENT", "INFO", "x")
	c.Expect(resptest.Err("ERR wrong number of arguments for 'config|resetstat' command"), "CONFIG", "RESETSTAT", "x")
}

func TestConfigGet(t *testing.T) {
	m, _ := testMux("")
	c := dialTest(t, serveMux(t, m))
	// redis-benchmark reads exactly these two and wants two-element arrays.
	c.Expect([]any{"save", ""}, "CONFIG", "GET", "save")
	c.Expect([]any{"appendonly", "yes"}, "CONFIG", "GET", "appendonly")
	c.Expect([]any{"appendonly", "yes"}, "config", "get", "APPENDONLY")
	c.Expect([]any{"appendonly", "yes", "save", ""}, "CONFIG", "GET", "save", "appendonly")
	c.Expect([]any{"appendonly", "yes", "databases", "1", "save", ""}, "CONFIG", "GET", "*")
	c.Expect([]any{}, "CONFIG", "GET", "maxmemory-policy")
	// Patterns are Redis globs, character classes included.
	c.Expect([]any{"save", ""}, "CONFIG", "GET", "[s]ave")
	c.Expect([]any{"databases", "1", "save", ""}, "CONFIG", "GET", "[d-s]a*")
	c.Expect(resptest.Err("ERR wrong number of arguments for 'config|get' command"), "CONFIG", "GET")
	c.Expect(resptest.Err("ERR wrong number of arguments for 'config' command"), "CONFIG")
	c.Expect(resptest.Status("OK"), "CONFIG", "RESETSTAT")
	got := c.Do("CONFIG", "SET", "save", "")
	if e, ok := got.(resptest.Err); !ok || !strings.HasPrefix(string(e), "ERR CONFIG SET is not supported") {
		t.Fatalf("CONFIG SET: %#v", got)
	}
}
