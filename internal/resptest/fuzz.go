package resptest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SendAll connects to addr, writes data, closes its side for writing and
// reads every reply until the server closes the connection. It fails the
// test when that does not happen within limit.
func SendAll(t testing.TB, addr string, data []byte, limit time.Duration) []byte {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(limit))
	go func() {
		c.Write(data)
		c.(*net.TCPConn).CloseWrite()
	}()
	out, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("no end of replies within %s; got %q", limit, out)
	}
	return out
}

// StillServes fails the test unless a new connection to addr answers PING;
// after says what was sent before.
func StillServes(t testing.TB, addr string, after []byte) {
	t.Helper()
	p, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("server gone after %q: %v", after, err)
	}
	defer p.Close()
	p.SetDeadline(time.Now().Add(5 * time.Second))
	p.Write([]byte("*1\r\n$4\r\nPING\r\n"))
	if line, err := bufio.NewReader(p).ReadString('\n'); line != "+PONG\r\n" {
		t.Fatalf("PING after %q: %q, %v", after, line, err)
	}
}

// CountReplies counts the top-level RESP2/RESP3 replies in b and fails on
// anything malformed or cut short.
func CountReplies(b []byte) (int, error) {
	r := bufio.NewReader(bytes.NewReader(b))
	n := 0
	for {
		if _, err := r.Peek(1); err == io.EOF {
			return n, nil
		}
		if err := skipReply(r, 0); err != nil {
			return n, err
		}
		n++
	}
}

// skipReply reads one RESP2/RESP3 reply and fails on anything malformed.
func skipReply(r *bufio.Reader, depth int) error {
	if depth > 16 {
		return errors.New("replies nested too deep")
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return errors.New("malformed reply line " + strconv.Quote(line))
	}
	body := line[1 : len(line)-2]
	if strings.ContainsRune(body, '\r') {
		return errors.New("CR inside reply line " + strconv.Quote(line))
	}
	switch line[0] {
	case '+', '-', '_', '#', ',', '(':
		return nil
	case ':':
		_, err := strconv.ParseInt(body, 10, 64)
		return err
	case '$', '=', '!', '*', '%', '~', '>':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 {
			return errors.New("bad length in " + strconv.Quote(line))
		}
		switch line[0] {
		case '$', '=', '!':
			if n < 0 {
				return nil
			}
			buf := make([]byte, n+2)
			if _, err := io.ReadFull(r, buf); err != nil {
				return err
			}
			if buf[n] != '\r' || buf[n+1] != '\n' {
				return errors.New("bulk reply not ended by CRLF")
			}
			return nil
		case '%':
			n *= 2
		}
		for i := 0; i < n; i++ {
			if err := skipReply(r, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return errors.New("unknown reply type in " + strconv.Quote(line))
}
