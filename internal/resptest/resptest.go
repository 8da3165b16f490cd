// Package resptest is a raw RESP client for tests: it sends commands as
// bytes and reads RESP2 and RESP3 replies into plain Go values, so a test
// can see exactly what a server wrote, which client libraries hide.
package resptest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/tidwall/redcon"
)

// Replies come back as: Status (+), Err (-), int64 (:), string ($),
// Verbatim (=), nil (null), []any (* ~ >), Map (%, keys and values
// alternating), bool (#) and float64 (,).
type (
	Status string
	Err    string
	Map    []any
	// Verbatim is a RESP3 verbatim string, with its format ("txt") cut off.
	Verbatim struct{ Format, Text string }
)

// ReadReply reads one reply. An error reply is an Err value, not err; err
// is a transport or protocol failure.
func ReadReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("malformed reply line %q", line)
	}
	kind, body := line[0], line[1:len(line)-2]
	switch kind {
	case '+':
		return Status(body), nil
	case '-':
		return Err(body), nil
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '_':
		return nil, nil
	case '#':
		return body == "t", nil
	case ',':
		return strconv.ParseFloat(body, 64)
	case '$', '=':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, fmt.Errorf("bulk length %q: %v", body, err)
		}
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		if buf[n] != '\r' || buf[n+1] != '\n' {
			return nil, fmt.Errorf("bulk of %d bytes not followed by CRLF", n)
		}
		if kind == '=' {
			if n < 4 || buf[3] != ':' {
				return nil, fmt.Errorf("verbatim string %q has no format", buf[:n])
			}
			return Verbatim{Format: string(buf[:3]), Text: string(buf[4:n])}, nil
		}
		return string(buf[:n]), nil
	case '*', '~', '>', '%':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, fmt.Errorf("aggregate length %q: %v", body, err)
		}
		if n < 0 {
			return nil, nil
		}
		if kind == '%' {
			n *= 2
		}
		elems := make([]any, n)
		for i := range elems {
			if elems[i], err = ReadReply(r); err != nil {
				return nil, err
			}
		}
		if kind == '%' {
			return Map(elems), nil
		}
		return elems, nil
	}
	return nil, fmt.Errorf("unknown reply type in %q", line)
}

// Encode writes args as a RESP multi-bulk command.
func Encode(args ...string) []byte {
	b := redcon.AppendArray(nil, len(args))
	for _, a := range args {
		b = redcon.AppendBulkString(b, a)
	}
	return b
}

// Conn is a raw client connection. C and R are there for tests that write
// or read bytes themselves.
type Conn struct {
	t testing.TB
	C net.Conn
	R *bufio.Reader
}

// Dial connects to addr; every read and write must be done within
// deadline, and the connection closes when the test ends.
func Dial(t testing.TB, addr string, deadline time.Duration) *Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(deadline))
	t.Cleanup(func() { c.Close() })
	return &Conn{t: t, C: c, R: bufio.NewReader(c)}
}

// Write sends b as it is.
func (c *Conn) Write(b []byte) {
	c.t.Helper()
	if _, err := c.C.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

// Read reads one reply.
func (c *Conn) Read() any {
	c.t.Helper()
	v, err := ReadReply(c.R)
	if err != nil {
		c.t.Fatalf("reading reply: %v", err)
	}
	return v
}

// Do sends one command and returns its reply.
func (c *Conn) Do(args ...string) any {
	c.t.Helper()
	c.Write(Encode(args...))
	return c.Read()
}

// Expect sends one command and checks its reply.
func (c *Conn) Expect(want any, args ...string) {
	c.t.Helper()
	if got := c.Do(args...); !reflect.DeepEqual(got, want) {
		c.t.Fatalf("%q: got %#v, want %#v", args, got, want)
	}
}
