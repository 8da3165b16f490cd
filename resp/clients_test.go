package resp

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/shardcounter/shardcounter/internal/resptest"
)

// clientLines is CLIENT LIST from c, one map of fields per client.
func clientLines(t *testing.T, c *resptest.Conn, args ...string) []map[string]string {
	t.Helper()
	list, ok := c.Do(append([]string{"CLIENT", "LIST"}, args...)...).(string)
	if !ok {
		t.Fatalf("CLIENT LIST %q is not a bulk string", args)
	}
	var out []map[string]string
	for _, line := range strings.Split(strings.TrimSuffix(list, "\n"), "\n") {
		if line == "" {
			continue
		}
		fields := map[string]string{}
		for _, f := range strings.Split(line, " ") {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				t.Fatalf("CLIENT LIST line %q: field %q has no '='", line, f)
			}
			fields[k] = v
		}
		out = append(out, fields)
	}
	return out
}

// waitClosed fails unless the server closes c within 5 s.
func waitClosed(t *testing.T, c *resptest.Conn, what string) {
	t.Helper()
	c.C.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.R.ReadByte(); err != io.EOF {
		t.Fatalf("%s: read %v, want the connection closed", what, err)
	}
}

// waitClients waits until CLIENT LIST from c shows n clients.
func waitClients(t *testing.T, c *resptest.Conn, n int) []map[string]string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		lines := clientLines(t, c)
		if len(lines) == n || time.Now().After(deadline) {
			if len(lines) != n {
				t.Fatalf("CLIENT LIST shows %d clients, want %d: %v", len(lines), n, lines)
			}
			return lines
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestClientList(t *testing.T) {
	m, _ := testMux("")
	addr := serveMux(t, m)
	a, b := dialTest(t, addr), dialTest(t, addr)
	a.Expect(resptest.Status("OK"), "CLIENT", "SETNAME", "alpha")
	b.Expect(resptest.Status("OK"), "CLIENT", "SETINFO", "lib-name", "mylib")
	b.Do("HELLO", "3")
	aID, bID := a.Do("CLIENT", "ID").(int64), b.Do("CLIENT", "ID").(int64)
	b.Do("ECHO", "x")

	lines := clientLines(t, a)
	if len(lines) != 2 {
		t.Fatalf("CLIENT LIST shows %d clients, want 2: %v", len(lines), lines)
	}
	first, second := lines[0], lines[1] // in order of id
	if first["id"] != FormatInt(aID) || first["name"] != "alpha" || first["cmd"] != "client|list" || first["resp"] != "2" {
		t.Errorf("first client: %v", first)
	}
	if second["id"] != FormatInt(bID) || second["lib-name"] != "mylib" || second["cmd"] != "echo" || second["resp"] != "3" {
		t.Errorf("second client: %v", second)
	}
	for _, l := range lines {
		if l["addr"] == "" || l["laddr"] != addr || l["age"] != "0" || l["idle"] != "0" || l["flags"] != "N" || l["db"] != "0" {
			t.Errorf("client %s: %v", l["id"], l)
		}
	}
	// CLIENT INFO is the client's own line.
	if info := a.Do("CLIENT", "INFO").(string); !strings.HasPrefix(info, "id="+FormatInt(aID)+" addr="+first["addr"]+" laddr="+addr+" name=alpha ") {
		t.Errorf("CLIENT INFO %q does not match its CLIENT LIST line %v", info, first)
	}
	// In RESP3 both are verbatim strings, as in Redis.
	if info, ok := b.Do("CLIENT", "INFO").(resptest.Verbatim); !ok || info.Format != "txt" || !strings.HasPrefix(info.Text, "id="+FormatInt(bID)+" ") {
		t.Errorf("CLIENT INFO in RESP3: %#v, want a verbatim string of the client's line", info)
	}
	if list, ok := b.Do("CLIENT", "LIST").(resptest.Verbatim); !ok || strings.Count(list.Text, "\n") != 2 {
		t.Errorf("CLIENT LIST in RESP3: %#v, want a verbatim string of 2 lines", list)
	}

	if got := clientLines(t, a, "ID", FormatInt(bID), "999999", "0"); len(got) != 1 || got[0]["id"] != FormatInt(bID) {
		t.Errorf("CLIENT LIST ID %d: %v", bID, got)
	}
	// As in Redis, in the order given.
	if got := clientLines(t, a, "ID", FormatInt(bID), FormatInt(aID)); len(got) != 2 || got[0]["id"] != FormatInt(bID) || got[1]["id"] != FormatInt(aID) {
		t.Errorf("CLIENT LIST ID %d %d: %v", bID, aID, got)
	}
	if got := clientLines(t, a, "TYPE", "normal"); len(got) != 2 {
		t.Errorf("CLIENT LIST TYPE normal: %v", got)
	}
	if got := clientLines(t, a, "TYPE", "pubsub"); len(got) != 0 {
		t.Errorf("CLIENT LIST TYPE pubsub: %v", got)
	}
	a.Expect(resptest.Err("ERR Unknown client type 'frob'"), "CLIENT", "LIST", "TYPE", "frob")
	a.Expect(resptest.Err("ERR Invalid client ID"), "CLIENT", "LIST", "ID", "1", "x")
	a.Expect(resptest.Err("ERR syntax error"), "CLIENT", "LIST", "ID")
	a.Expect(resptest.Err("ERR syntax error"), "CLIENT", "LIST", "frob")
	a.Expect(resptest.Err("ERR syntax error"), "CLIENT", "LIST", "TYPE", "normal", "ID", "1")

	// cmd is the last command as Redis 7 names it: a subcommand by its full
	// name, also when refused for its arguments, and NULL when unknown.
	cmdOf := func(id int64) string {
		for _, l := range clientLines(t, a) {
			if l["id"] == FormatInt(id) {
				return l["cmd"]
			}
		}
		return "(not listed)"
	}
	b.Expect(resptest.Err("ERR wrong number of arguments for 'client|id' command"), "CLIENT", "ID", "x")
	if got := cmdOf(bID); got != "client|id" {
		t.Errorf("after a refused CLIENT ID x: cmd=%s, want client|id", got)
	}
	b.Expect(resptest.Err("ERR unknown subcommand 'frob'. Try CLIENT HELP."), "CLIENT", "frob")
	if got := cmdOf(bID); got != "NULL" {
		t.Errorf("after CLIENT frob: cmd=%s, want NULL", got)
	}

	// A client that has left is no longer listed.
	b.C.Close()
	if got := waitClients(t, a, 1); got[0]["id"] != FormatInt(aID) {
		t.Errorf("after the second client left: %v", got)
	}
}

func TestClientKill(t *testing.T) {
	m, _ := testMux("")
	addr := serveMux(t, m)
	admin := dialTest(t, addr)
	adminID := admin.Do("CLIENT", "ID").(int64)

	// By id: the count of clients closed, and the client is closed. It
	// leaves the list at once.
	victim := dialTest(t, addr)
	id := victim.Do("CLIENT", "ID").(int64)
	admin.Expect(int64(1), "CLIENT", "KILL", "ID", FormatInt(id))
	admin.Expect(int64(0), "CLIENT", "KILL", "ID", FormatInt(id))
	if got := clientLines(t, admin, "ID", FormatInt(id)); len(got) != 0 {
		t.Fatalf("a killed client still listed: %v", got)
	}
	waitClosed(t, victim, "CLIENT KILL ID")

	// By address, in the old form (OK) and the new one (a count).
	victim = dialTest(t, addr)
	victim.Do("PING")
	admin.Expect(resptest.Status("OK"), "CLIENT", "KILL", victim.C.LocalAddr().String())
	waitClosed(t, victim, "CLIENT KILL addr")
	admin.Expect(resptest.Err("ERR No such client"), "CLIENT", "KILL", "127.0.0.1:1")
	victim = dialTest(t, addr)
	victim.Do("PING")
	admin.Expect(int64(1), "CLIENT", "KILL", "ADDR", victim.C.LocalAddr().String(), "USER", "default")
	waitClosed(t, victim, "CLIENT KILL ADDR")

	// The caller is skipped unless SKIPME no.
	other := dialTest(t, addr)
	other.Do("PING")
	waitClients(t, admin, 2)
	admin.Expect(int64(1), "CLIENT", "KILL", "LADDR", addr)
	waitClosed(t, other, "CLIENT KILL LADDR")
	admin.Expect(int64(0), "CLIENT", "KILL", "ID", FormatInt(adminID))
	admin.Expect(int64(0), "CLIENT", "KILL", "TYPE", "master", "SKIPME", "no")

	// As in Redis, of several IDs the last is the one.
	first, second := dialTest(t, addr), dialTest(t, addr)
	firstID, secondID := first.Do("CLIENT", "ID").(int64), second.Do("CLIENT", "ID").(int64)
	admin.Expect(int64(1), "CLIENT", "KILL", "ID", FormatInt(firstID), "ID", FormatInt(secondID))
	waitClosed(t, second, "CLIENT KILL ID a ID b")
	first.Expect(resptest.Status("PONG"), "PING")

	for _, c := range []struct {
		want string
		args []string
	}{
		{"ERR wrong number of arguments for 'client|kill' command", nil},
		{"ERR No such client", []string{"ID"}}, // the old form, as in Redis
		{"ERR syntax error", []string{"ID", "1", "SKIPME"}},
		{"ERR client-id should be greater than 0", []string{"ID", "0", "ADDR"}}, // options are read in order
		{"ERR syntax error", []string{"MAXAGE", "10"}},                          // Redis 7.4's, not 7.2's
		{"ERR No such user 'DEFAULT'", []string{"USER", "DEFAULT"}},
		{"ERR syntax error", []string{"ID", "1", "frob", "x"}},
		{"ERR syntax error", []string{"SKIPME", "maybe"}},
		{"ERR client-id should be greater than 0", []string{"ID", "0"}},
		{"ERR client-id should be greater than 0", []string{"ID", "x"}},
		{"ERR Unknown client type 'frob'", []string{"TYPE", "frob"}},
		{"ERR No such user 'bob'", []string{"USER", "bob"}},
	} {
		admin.Expect(resptest.Err(c.want), append([]string{"CLIENT", "KILL"}, c.args...)...)
	}

	// A client that kills itself gets its reply, then is closed.
	admin.Write(resptest.Encode("CLIENT", "KILL", "ID", FormatInt(adminID), "SKIPME", "no"))
	if got := admin.Read(); got != int64(1) {
		t.Fatalf("CLIENT KILL of itself: %#v", got)
	}
	waitClosed(t, admin, "CLIENT KILL of itself")
}

func TestHelpSubcommands(t *testing.T) {
	m, _ := testMux("")
	c := dialTest(t, serveMux(t, m))
	for cmd, want := range map[string]string{"CLIENT": "KILL <ip:port>", "COMMAND": "COUNT", "CONFIG": "GET <pattern>"} {
		c.Expect(resptest.Err("ERR wrong number of arguments for '"+strings.ToLower(cmd)+"|help' command"), cmd, "HELP", "x")
		lines, ok := c.Do(cmd, "HELP").([]any)
		if !ok || len(lines) < 2 || lines[0] != resptest.Status(cmd+" <subcommand> [<arg> [value] [opt] ...]. Subcommands are:") {
			t.Fatalf("%s HELP: %#v", cmd, lines)
		}
		found := false
		for _, l := range lines {
			found = found || l == resptest.Status(want)
		}
		if !found {
			t.Errorf("%s HELP has no line %q: %#v", cmd, want, lines)
		}
	}
}
