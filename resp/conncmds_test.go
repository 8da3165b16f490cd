package resp

import (
	"reflect"
	"strings"
	"testing"
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
	arr, ok := c.do("HELLO").([]any)
	if !ok {
		t.Fatal("HELLO without version did not reply with an array")
	}
	helloFields(t, arr, 2)

	c.expect(replyErr("NOPROTO unsupported protocol version"), "HELLO", "4")
	c.expect(replyErr("NOPROTO unsupported protocol version"), "HELLO", "1")
	c.expect(replyErr("ERR Protocol version is not an integer or out of range"), "HELLO", "three")
	c.expect(replyErr("ERR Syntax error in HELLO option 'FOO'"), "HELLO", "3", "FOO")
	// A failed HELLO leaves the protocol alone: still RESP2.
	c.expect([]any{"save", ""}, "CONFIG", "GET", "save")

	m3, ok := c.do("HELLO", "3").(replyMap)
	if !ok {
		t.Fatal("HELLO 3 did not reply with a RESP3 map")
	}
	id := helloFields(t, []any(m3), 3)
	c.expect(id, "CLIENT", "ID")
	c.expect(nil, "CLIENT", "GETNAME")
	c.expect(replyMap{}, "COMMAND", "DOCS")

	// Back to RESP2.
	arr, ok = c.do("HELLO", "2").([]any)
	if !ok {
		t.Fatal("HELLO 2 did not reply with a RESP2 array")
	}
	if helloFields(t, arr, 2) != id {
		t.Fatal("HELLO 2 changed the connection id")
	}
	c.expect([]any{}, "COMMAND", "DOCS")

	// HELLO ... SETNAME.
	c2 := dialTest(t, addr)
	if _, ok := c2.do("HELLO", "3", "SETNAME", "worker-1").(replyMap); !ok {
		t.Fatal("HELLO 3 SETNAME")
	}
	c2.expect("worker-1", "CLIENT", "GETNAME")
	c2.expect(replyErr("ERR Client names cannot contain spaces, newlines or special characters."), "HELLO", "3", "SETNAME", "a b")
	c2.expect("worker-1", "CLIENT", "GETNAME")
	if id2 := c2.do("CLIENT", "ID").(int64); id2 == id {
		t.Fatalf("two connections share id %d", id)
	}
}

func TestHelloAuth(t *testing.T) {
	m, _ := testMux("s3cret")
	addr := serveMux(t, m)
	c := dialTest(t, addr)
	got := c.do("HELLO", "3")
	if e, ok := got.(replyErr); !ok || !strings.HasPrefix(string(e), "NOAUTH HELLO must be called with the client already authenticated") {
		t.Fatalf("HELLO 3 before AUTH: %#v", got)
	}
	c.expect(replyErr("WRONGPASS invalid username-password pair or user is disabled."), "HELLO", "3", "AUTH", "default", "wrong")
	c.expect(replyErr("WRONGPASS invalid username-password pair or user is disabled."), "HELLO", "3", "AUTH", "alice", "s3cret")
	c.expect(replyErr("NOAUTH Authentication required."), "PING")
	m3, ok := c.do("HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "me").(replyMap)
	if !ok {
		t.Fatalf("HELLO 3 AUTH default <pass>: %#v", m3)
	}
	helloFields(t, []any(m3), 3)
	c.expect(status("PONG"), "PING")
	c.expect("me", "CLIENT", "GETNAME")

	// HELLO 2 AUTH works too and keeps RESP2.
	c2 := dialTest(t, addr)
	arr, ok := c2.do("HELLO", "2", "auth", "DEFAULT", "s3cret").([]any)
	if !ok {
		t.Fatal("HELLO 2 AUTH")
	}
	helloFields(t, arr, 2)
	c2.expect(status("PONG"), "PING")
}

func TestClientCommands(t *testing.T) {
	m, _ := testMux("")
	c := dialTest(t, serveMux(t, m))
	id, ok := c.do("CLIENT", "ID").(int64)
	if !ok || id <= 0 {
		t.Fatalf("CLIENT ID: %v", id)
	}
	c.expect(nil, "CLIENT", "GETNAME")
	c.expect(status("OK"), "CLIENT", "SETNAME", "alpha")
	c.expect("alpha", "client", "getname")
	c.expect(replyErr("ERR Client names cannot contain spaces, newlines or special characters."), "CLIENT", "SETNAME", "al pha")
	c.expect("alpha", "CLIENT", "GETNAME")
	c.expect(status("OK"), "CLIENT", "SETINFO", "LIB-NAME", "go-redis(,go1.26)")
	c.expect(status("OK"), "CLIENT", "SETINFO", "lib-ver", "9.23.0")
	c.expect(replyErr("ERR Unrecognized option 'color'"), "CLIENT", "SETINFO", "color", "red")
	c.expect(replyErr("ERR wrong number of arguments for 'client|setinfo' command"), "CLIENT", "SETINFO", "lib-name")
	c.expect(replyErr("ERR wrong number of arguments for 'client|setname' command"), "CLIENT", "SETNAME")
	c.expect(replyErr("ERR unknown subcommand 'FROB'. Try CLIENT HELP."), "CLIENT", "FROB")
	info, ok := c.do("CLIENT", "INFO").(string)
	if !ok {
		t.Fatal("CLIENT INFO is not a bulk string")
	}
	for _, want := range []string{"id=" + FormatInt(id) + " ", " name=alpha ", " resp=2 ", " lib-name=go-redis(,go1.26) ", " lib-ver=9.23.0"} {
		if !strings.Contains(info, want) {
			t.Errorf("CLIENT INFO %q lacks %q", info, want)
		}
	}
}

func TestSelectPingEcho(t *testing.T) {
	m, _ := testMux("")
	c := dialTest(t, serveMux(t, m))
	c.expect(status("OK"), "SELECT", "0")
	c.expect(replyErr("ERR DB index is out of range"), "SELECT", "1")
	c.expect(replyErr("ERR DB index is out of range"), "SELECT", "-1")
	c.expect(replyErr("ERR value is not an integer or out of range"), "SELECT", "zero")
	c.expect(status("PONG"), "PING")
	c.expect("hello world", "PING", "hello world")
	c.expect("bin\x00\r\nary", "ECHO", "bin\x00\r\nary")
	c.expect("", "ECHO", "")
}

func TestCommandIntrospection(t *testing.T) {
	m, _ := testMux("")
	c := dialTest(t, serveMux(t, m))
	n, ok := c.do("COMMAND", "COUNT").(int64)
	if !ok || n != int64(len(m.Commands())) || n < 10 {
		t.Fatalf("COMMAND COUNT %d, %d registered", n, len(m.Commands()))
	}
	all, ok := c.do("COMMAND").([]any)
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
	if echo := byName["echo"]; !reflect.DeepEqual(echo[2], []any{status("fast")}) {
		t.Errorf("COMMAND echo flags %#v", echo[2])
	}
	c.expect([]any{}, "COMMAND", "DOCS")
	c.expect([]any{}, "COMMAND", "DOCS", "get")
	infos, ok := c.do("COMMAND", "INFO", "LATE", "nosuch").([]any)
	if !ok || len(infos) != 2 || infos[1] != nil || !reflect.DeepEqual(infos[0], byName["late"]) {
		t.Fatalf("COMMAND INFO late nosuch: %#v", infos)
	}
	list, ok := c.do("COMMAND", "LIST").([]any)
	if !ok || int64(len(list)) != n {
		t.Fatalf("COMMAND LIST: %#v", list)
	}
	c.expect(replyErr("ERR unknown subcommand 'NOPE'. Try COMMAND HELP."), "COMMAND", "NOPE")
}

func TestConfigGet(t *testing.T) {
	m, _ := testMux("")
	c := dialTest(t, serveMux(t, m))
	// redis-benchmark reads exactly these two and wants two-element arrays.
	c.expect([]any{"save", ""}, "CONFIG", "GET", "save")
	c.expect([]any{"appendonly", "yes"}, "CONFIG", "GET", "appendonly")
	c.expect([]any{"appendonly", "yes"}, "config", "get", "APPENDONLY")
	c.expect([]any{"appendonly", "yes", "save", ""}, "CONFIG", "GET", "save", "appendonly")
	c.expect([]any{"appendonly", "yes", "databases", "1", "save", ""}, "CONFIG", "GET", "*")
	c.expect([]any{}, "CONFIG", "GET", "maxmemory-policy")
	c.expect(replyErr("ERR wrong number of arguments for 'config|get' command"), "CONFIG", "GET")
	c.expect(replyErr("ERR wrong number of arguments for 'config' command"), "CONFIG")
	c.expect(status("OK"), "CONFIG", "RESETSTAT")
	got := c.do("CONFIG", "SET", "save", "")
	if e, ok := got.(replyErr); !ok || !strings.HasPrefix(string(e), "ERR CONFIG SET is not supported") {
		t.Fatalf("CONFIG SET: %#v", got)
	}
}
