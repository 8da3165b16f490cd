package resp

import (
	"strings"
	"testing"

	"github.com/tidwall/redcon"
)

// buildInfo is the reply to INFO args, with two sections, in protocol proto.
func buildInfo(proto int, args ...string) string {
	a := [][]byte{[]byte("INFO")}
	for _, s := range args {
		a = append(a, []byte(s))
	}
	in := NewInfo(a)
	in.Section("Server", func(w *InfoSection) { w.Field("redis_version", "7.2.0") })
	in.Section("Memory", func(w *InfoSection) {
		w.Field("used_memory_rss", 42)
		w.Printf("x:%d,y=%s", 1, "z")
	})
	var out []byte
	in.Reply().WriteTo(Writer{Conn: &bufConn{out: &out}, Proto: proto})
	return string(out)
}

func TestInfoSections(t *testing.T) {
	build := func(args ...string) string { return buildInfo(2, args...) }
	all := "$72\r\n# Server\r\nredis_version:7.2.0\r\n\r\n# Memory\r\nused_memory_rss:42\r\nx:1,y=z\r\n\r\n"
	for _, args := range [][]string{nil, {"all"}, {"DEFAULT"}, {"everything"}, {"server", "MEMORY"}} {
		if got := build(args...); got != all {
			t.Errorf("INFO %q = %q, want %q", args, got, all)
		}
	}
	if got := build("Memory"); got != "$39\r\n# Memory\r\nused_memory_rss:42\r\nx:1,y=z\r\n\r\n" {
		t.Errorf("INFO Memory = %q", got)
	}
	if got := build("nosuch"); got != "$0\r\n\r\n" {
		t.Errorf("INFO nosuch = %q", got)
	}
	if strings.Contains(build("server"), "Memory") {
		t.Error("INFO server has the memory section")
	}
	// RESP3: a verbatim string of format txt, as Redis sends it.
	if got := buildInfo(3, "Memory"); got != "=43\r\ntxt:# Memory\r\nused_memory_rss:42\r\nx:1,y=z\r\n\r\n" {
		t.Errorf("INFO Memory in RESP3 = %q", got)
	}
}

// bufConn is a redcon.Conn that keeps what is written to it.
type bufConn struct {
	redcon.Conn
	out *[]byte
}

func (c *bufConn) WriteBulk(b []byte)       { *c.out = redcon.AppendBulk(*c.out, b) }
func (c *bufConn) WriteBulkString(s string) { *c.out = redcon.AppendBulkString(*c.out, s) }
func (c *bufConn) WriteRaw(b []byte)        { *c.out = append(*c.out, b...) }
