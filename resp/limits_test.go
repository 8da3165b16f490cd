package resp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/redcon"

	"github.com/shardcounter/shardcounter/internal/resptest"
)

// A bulk length near the int64 maximum is refused at its header, before
// the server buffers anything for it.
func TestFramerRefusesHugeBulkLength(t *testing.T) {
	in := "*2\r\n$4\r\nINCR\r\n$9223372036854775807\r\nabc"
	var f framer
	f.maxBulk = DefaultMaxBulkBytes
	var tooLarge ErrBulkTooLarge
	if err := f.feed([]byte(in)); !errors.As(err, &tooLarge) {
		t.Fatalf("framer let bulk length 2^63-1 through: %v", err)
	}
}

func TestFramerRefuses(t *testing.T) {
	const maxBulk = 1000
	for _, c := range []struct {
		in   string
		want string // "" for no refusal
	}{
		{"*1\r\n$1000\r\n", ""},
		{"*1\r\n$1001\r\n", "invalid bulk length 1001: larger than 1000 bytes"},
		{"*1\r\n$+1001\r\n", "Protocol error: invalid bulk length"},
		{"*1\r\n$0001001\r\n", "Protocol error: invalid bulk length"},
		{"*1\r\n$9223372036854775807\r\n", "invalid bulk length 9223372036854775807"},
		{"*1\r\n$99999999999999999999999999999\r\n", "invalid bulk length 999999999999999999999999:"},
		{"*1048576\r\n", ""},
		{"*1048577\r\n", "invalid multibulk length 1048577: more than 1048576 arguments"},
		{"*9223372036854775807\r\n", "invalid multibulk length"},
		// The framer follows pipelines: the second command is refused.
		{"*1\r\n$4\r\nPING\r\nPING\r\n*2\r\n$3\r\nGET\r\n$5000\r\n", "invalid bulk length 5000"},
		// Inline lines are skipped whole, whatever they hold.
		{"GET $99999999999\r\n*1\r\n$4\r\nPING\r\n", ""},
		// What redcon refuses is refused here, in its words.
		// A count of 0 or less is an empty command, skipped as Redis
		// does; the framer goes on after it.
		{"*0\r\n*-1\r\n*-9223372036854775808\r\n", ""},
		{"*0\r\n*1\r\n$5000\r\n", "invalid bulk length 5000"},
		{"*-1\r\n*1\r\n$5000\r\n", "invalid bulk length 5000"},
		{"*-9223372036854775809\r\n", "Protocol error: invalid multibulk length"},
		{"*-\r\n", "Protocol error: invalid multibulk length"},
		{"*-1x\r\n", "Protocol error: invalid multibulk length"},
		{"*-0000000000000000000000001\r\n", "Protocol error: invalid multibulk length"},
		// Redis refuses what is not written as it writes integers.
		{"*-0\r\n", "Protocol error: invalid multibulk length"},
		{"*+0\r\n", "Protocol error: invalid multibulk length"},
		{"*00\r\n", "Protocol error: invalid multibulk length"},
		{"*-01\r\n", "Protocol error: invalid multibulk length"},
		{"*1x\r\n", "Protocol error: invalid multibulk length"},
		{"*1\n$99999999999\r\n", "Protocol error: invalid multibulk length"},
		{"*1\r\n$-1\r\n$99999999999\r\n", "Protocol error: invalid bulk length"},
		{"*1\r\n$1x\r\n$99999999999\r\n", "Protocol error: invalid bulk length"},
		{"*1\r\n$1\r2\r\n", "Protocol error: invalid bulk length"},
		{"*1\r\n$1\r\nab\r\n", "Protocol error: invalid bulk length"},
		{"*1\r\n$1\r\na\r\r", "Protocol error: invalid bulk length"},
		{"*1\r\nx99999999999\r\n", "Protocol error: expected '$', got 'x'"},
		{"*+1\r\n", "Protocol error: invalid multibulk length"},
		{"*01\r\n", "Protocol error: invalid multibulk length"},
		{"*1\r\n$-0\r\n\r\n", "Protocol error: invalid bulk length"},
		{"*1\r\n$+4\r\nPING\r\n", "Protocol error: invalid bulk length"},
		{"*1\r\n$04\r\nPING\r\n", "Protocol error: invalid bulk length"},
		{"*1\r\n$00\r\n\r\n", "Protocol error: invalid bulk length"},
		{"*1\r\n$0\r\n\r\n", ""},
	} {
		// Every split of the input into two reads gives the same answer.
		for cut := 0; cut <= len(c.in); cut++ {
			f := framer{maxBulk: maxBulk}
			err := f.feed([]byte(c.in[:cut]))
			if err == nil {
				err = f.feed([]byte(c.in[cut:]))
			}
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("%q (cut at %d): refused with %v", c.in, cut, err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("%q (cut at %d): %v, want an error containing %q", c.in, cut, err, c.want)
			}
		}
	}
}

// TestFramerQuickPathAgrees: the whole-command fast path (quickCommand)
// answers as the byte-by-byte state machine does. Random pipelines,
// some with a byte changed to one that matters in RESP, go to one framer
// whole (whole commands take the fast path) and to another a byte at a
// time (never the fast path); both must refuse with the same error or end
// in the same state.
func TestFramerQuickPathAgrees(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	special := []byte("*$\r\n-+0123456789x")
	for iter := 0; iter < 20000; iter++ {
		var b []byte
		for n := rng.Intn(4) + 1; n > 0; n-- {
			args := make([][]byte, rng.Intn(3)+1)
			for i := range args {
				args[i] = make([]byte, rng.Intn(12))
				rng.Read(args[i])
			}
			b = appendCommand(b, args)
		}
		for n := rng.Intn(3); n > 0; n-- {
			b[rng.Intn(len(b))] = special[rng.Intn(len(special))]
		}
		whole, bytewise := framer{maxBulk: 8}, framer{maxBulk: 8}
		errWhole := whole.feed(b)
		var errBytes error
		for i := range b {
			if errBytes = bytewise.feed(b[i : i+1]); errBytes != nil {
				break
			}
		}
		if fmt.Sprint(errWhole) != fmt.Sprint(errBytes) {
			t.Fatalf("%q: whole %v, a byte at a time %v", b, errWhole, errBytes)
		}
		if errWhole == nil && (whole.state != bytewise.state || whole.args != bytewise.args || whole.skip != bytewise.skip) {
			t.Fatalf("%q: whole ends in state %d (args %d, skip %d), a byte at a time in %d (%d, %d)",
				b, whole.state, whole.args, whole.skip, bytewise.state, bytewise.args, bytewise.skip)
		}
	}
}

// chunkConn is a net.Conn whose reads return its data in random pieces of
// 1 to 40 bytes, or, without rng, as much as the caller's buffer takes.
type chunkConn struct {
	net.Conn
	data []byte
	rng  *rand.Rand
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	k := len(c.data)
	if c.rng != nil {
		k = min(k, c.rng.Intn(40)+1)
	}
	n := copy(p, c.data[:k])
	c.data = c.data[n:]
	return n, nil
}

// TestLimitConnDropsEmptyCommands: on random pipelines of commands and
// empty ones ("*0", "*-1"), read in random pieces, the server reads the
// stream without the empty commands, byte for byte, whatever its buffer.
func TestLimitConnDropsEmptyCommands(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	empties := []string{"*0\r\n", "*-1\r\n", "*-12\r\n", "*-9223372036854775808\r\n"}
	for iter := 0; iter < 2000; iter++ {
		var in, want []byte
		for n := rng.Intn(8) + 1; n > 0; n-- {
			switch rng.Intn(3) {
			case 0:
				e := empties[rng.Intn(len(empties))]
				in = append(in, e...)
			case 1:
				in = append(in, "PING\r\n"...)
				want = append(want, "PING\r\n"...)
			default:
				args := [][]byte{[]byte("ECHO"), make([]byte, rng.Intn(50))}
				rng.Read(args[1])
				in = appendCommand(in, args)
				want = appendCommand(want, args)
			}
		}
		c := &limitConn{Conn: &chunkConn{data: in, rng: rng}, max: 1 << 20, frame: framer{maxBulk: 1 << 20}}
		buf := make([]byte, maxHeld+1+rng.Intn(100))
		var got []byte
		for {
			n, err := c.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%q: %v", in, err)
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%q read as %q, want %q", in, got, want)
		}
	}
}

// TestEmptyCommandsKeepNoMemory: a read full of empty commands leaves the
// framer one span for those in a row, and no more than maxEmptyKept spans
// of room once the next read comes, also when inline lines separate them.
func TestEmptyCommandsKeepNoMemory(t *testing.T) {
	for _, c := range []struct {
		unit, want string
		spans      int
	}{
		{"*0\r\n", "", 1},
		{"*-1\r\n\n", strings.Repeat("\n", 1<<16), 1 << 16},
	} {
		in := []byte(strings.Repeat(c.unit, 1<<16) + "PING\r\n")
		lc := &limitConn{Conn: &chunkConn{data: in}, max: 1 << 20, frame: framer{maxBulk: 1 << 20}}
		buf := make([]byte, len(in))
		n, err := lc.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(buf[:n]); got != c.want+"PING\r\n" {
			t.Fatalf("%q x 65536: read %d bytes, want %d", c.unit, n, len(c.want)+6)
		}
		if len(lc.frame.empty) != c.spans {
			t.Errorf("%q x 65536: %d spans, want %d", c.unit, len(lc.frame.empty), c.spans)
		}
		lc.frame.feed([]byte("PING\r\n"))
		if cap(lc.frame.empty) > maxEmptyKept {
			t.Errorf("%q x 65536: the next read keeps room for %d spans, want at most %d", c.unit, cap(lc.frame.empty), maxEmptyKept)
		}
	}
}

// TestFramerFollowsValidStreams: on random valid pipelines of multibulk and
// inline commands, fed in random pieces, the framer refuses nothing and
// ends at the start of a command, as redcon does.
func TestFramerFollowsValidStreams(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for iter := 0; iter < 2000; iter++ {
		var b []byte
		ncmds := 0
		for n := rng.Intn(8) + 1; n > 0; n-- {
			if rng.Intn(4) == 0 {
				b = append(b, "INCRBY key 5\r\n"...)
				ncmds++
				continue
			}
			nargs := rng.Intn(5) + 1
			args := make([][]byte, nargs)
			for i := range args {
				args[i] = make([]byte, rng.Intn(300))
				rng.Read(args[i]) // binary, with CR, LF, '*' and '$' inside
			}
			b = appendCommand(b, args)
			ncmds++
		}
		f := framer{maxBulk: 300}
		for rest := b; len(rest) > 0; {
			n := min(len(rest), rng.Intn(40)+1)
			if err := f.feed(rest[:n]); err != nil {
				t.Fatalf("valid stream refused: %v\n%q", err, b)
			}
			rest = rest[n:]
		}
		if f.state != frameStart {
			t.Fatalf("framer ends in state %d after a valid stream", f.state)
		}
		rd := redcon.NewReader(bytes.NewReader(b))
		got := 0
		for {
			cmds, err := rd.ReadCommands()
			if err != nil {
				if err != io.EOF {
					t.Fatalf("redcon refuses the test stream: %v", err)
				}
				break
			}
			got += len(cmds)
		}
		if got != ncmds {
			t.Fatalf("redcon parsed %d commands, want %d", got, ncmds)
		}
	}
}

func appendCommand(b []byte, args [][]byte) []byte {
	b = fmt.Appendf(b, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n", len(a))
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}

// serveLimited serves a Mux with the connection commands behind the limit
// listener and the guard, and returns the address.
func serveLimited(t *testing.T, lim Limits, g Guard) (string, *GuardedListener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gl := GuardListener(NewLimitListener(ln, lim), g)
	m := NewMux("")
	RegisterConnCommands(m, Server{Version: "test", Role: "master"})
	srv := muxServer(m)
	done := make(chan struct{})
	go func() { srv.Serve(gl); close(done) }()
	t.Cleanup(func() {
		gl.Close()
		srv.Close()
		<-done
	})
	return ln.Addr().String(), gl
}

// TestLimitListenerRefusesHugeBulk: the request that would crash redcon
// gets a clear error and a closed connection; the server goes on serving.
func TestLimitListenerRefusesHugeBulk(t *testing.T) {
	addr, _ := serveLimited(t, Limits{MaxRequestBytes: 1 << 20, MaxBulkBytes: 1000}, Guard{})
	for _, c := range []struct{ in, want string }{
		{"*2\r\n$4\r\nECHO\r\n$9223372036854775807\r\nabc", "-ERR Protocol error: invalid bulk length 9223372036854775807: larger than 1000 bytes\r\n"},
		{"*2\r\n$4\r\nECHO\r\n$1001\r\n", "-ERR Protocol error: invalid bulk length 1001: larger than 1000 bytes\r\n"},
		{"*9223372036854775807\r\n", "-ERR Protocol error: invalid multibulk length 9223372036854775807: more than 1048576 arguments\r\n"},
		// The commands before the refused one are answered first, as in
		// Redis; the refused one is answered with the error.
		{"*1\r\n$4\r\nPING\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$1001\r\nxyz", "+PONG\r\n+PONG\r\n-ERR Protocol error: invalid bulk length 1001: larger than 1000 bytes\r\n"},
		{"PING\r\n*9223372036854775807\r\n", "+PONG\r\n-ERR Protocol error: invalid multibulk length 9223372036854775807: more than 1048576 arguments\r\n"},
		// So are the commands before a malformed one, which redcon would
		// drop unanswered.
		{"PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPINGxx", "+PONG\r\n+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"},
		{"PING\r\n*2\r\n$4\r\nECHO\r\n:1\r\n", "+PONG\r\n-ERR Protocol error: expected '$', got ':'\r\n"},
		{"PING\r\n*x\r\n", "+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n"},
		{"PING\r\n*1\r\n$-2\r\n", "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"},
	} {
		tc := dialTest(t, addr)
		tc.Write([]byte(c.in))
		all, err := readAll(tc.C)
		if string(all) != c.want {
			t.Fatalf("%q: got %q (%v), want %q and a closed connection", c.in, all, err, c.want)
		}
		other := dialTest(t, addr)
		other.Expect(resptest.Status("PONG"), "PING")
	}
	// Up to the limit is fine.
	tc := dialTest(t, addr)
	tc.Expect(strings.Repeat("x", 1000), "ECHO", strings.Repeat("x", 1000))
}

// TestLimitListenerSkipsEmptyCommands: "*0" and "*-1" get no reply and
// leave the connection open, as in Redis, also when they come a byte at a
// time.
func TestLimitListenerSkipsEmptyCommands(t *testing.T) {
	addr, _ := serveLimited(t, Limits{MaxRequestBytes: 1 << 20, MaxBulkBytes: 1000}, Guard{})
	tc := dialTest(t, addr)
	tc.Write([]byte("*0\r\nPING\r\n*-1\r\n*1\r\n$4\r\nPING\r\n*0\r\n"))
	for i := 0; i < 2; i++ {
		if got := tc.Read(); got != resptest.Status("PONG") {
			t.Fatalf("reply %d: %#v, want PONG", i, got)
		}
	}
	for _, b := range []byte("*-1\r\n*0\r\n*1\r\n$4\r\nPING\r\n") {
		tc.Write([]byte{b})
		time.Sleep(time.Millisecond)
	}
	if got := tc.Read(); got != resptest.Status("PONG") {
		t.Fatalf("after a byte at a time: %#v, want PONG", got)
	}
	tc.Expect(resptest.Status("PONG"), "PING")
}

// readAll reads until the peer closes or 5s pass.
func readAll(c net.Conn) ([]byte, error) {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var buf bytes.Buffer
	_, err := buf.ReadFrom(c)
	return buf.Bytes(), err
}

func TestLimitListenerRequestLimit(t *testing.T) {
	addr, _ := serveLimited(t, Limits{MaxRequestBytes: 2048, MaxBulkBytes: 1 << 20}, Guard{})
	tc := dialTest(t, addr)
	// An unterminated inline line of 3000 bytes.
	tc.Write([]byte(strings.Repeat("a", 3000)))
	all, _ := readAll(tc.C)
	if want := "-ERR Protocol error: request larger than 2048 bytes\r\n"; string(all) != want {
		t.Fatalf("got %q, want %q", all, want)
	}
	// The bulk limit in effect is the request limit.
	tc = dialTest(t, addr)
	tc.Write([]byte("*2\r\n$4\r\nECHO\r\n$2049\r\n"))
	all, _ = readAll(tc.C)
	if !strings.Contains(string(all), "invalid bulk length 2049: larger than 2048 bytes") {
		t.Fatalf("got %q, want the bulk length refused at the request limit", all)
	}
}

// BenchmarkFramer measures what following the stream costs per command of
// a pipeline of INCRBYs, as a coordinator receives them.
func BenchmarkFramer(b *testing.B) {
	var stream []byte
	for i := 0; i < 1000; i++ {
		stream = appendCommand(stream, [][]byte{[]byte("INCRBY"), []byte("counter:000123456"), []byte("1")})
	}
	b.SetBytes(int64(len(stream)) / 1000)
	b.ResetTimer()
	for i := 0; i < b.N; i += 1000 {
		f := framer{maxBulk: DefaultMaxBulkBytes}
		for rest := stream; len(rest) > 0; {
			n := min(len(rest), 16<<10)
			if err := f.feed(rest[:n]); err != nil {
				b.Fatal(err)
			}
			rest = rest[n:]
		}
	}
}
