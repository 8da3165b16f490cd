package resp

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"strings"
	"testing"

	"github.com/tidwall/redcon"
)

// chunkReader hands out its bytes a few at a time, as a socket may.
type chunkReader struct {
	b   []byte
	rng *rand.Rand
	max int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(r.b), r.rng.Intn(r.max)+1)
	copy(p, r.b[:n])
	r.b = r.b[n:]
	return n, nil
}

// readAllCommands reads every command of rd until EOF or an error.
func readAllCommands(rd *cmdReader) ([]redcon.Command, error) {
	var all []redcon.Command
	for {
		cmds, err := rd.next(nil)
		if err != nil {
			return all, err
		}
		all = append(all, cmds...)
	}
}

// randomStream is a pipeline of n commands: multibulk ones with binary
// arguments (CR, LF, '*' and '$' inside), inline ones with quotes, and
// empty ones, which redcon refuses: plain is the stream without those.
func randomStream(rng *rand.Rand, n int) (stream, plain []byte) {
	for range n {
		switch rng.Intn(7) {
		case 6:
			// Empty: CR and tab are whitespace in an inline line, as in
			// Redis (redcon reads a command "\r" here).
			stream = append(stream, "\r \t\n"...)
		case 0:
			stream = append(stream, `INCRBY "my key" 5`+"\r\n"...)
			plain = append(plain, `INCRBY "my key" 5`+"\r\n"...)
		case 1:
			stream = append(stream, "*0\r\n   \r\n*-1\r\n"...)
		default:
			args := make([][]byte, rng.Intn(5)+1)
			for i := range args {
				args[i] = make([]byte, rng.Intn(300))
				rng.Read(args[i])
			}
			stream = appendCommand(stream, args)
			plain = appendCommand(plain, args)
		}
	}
	return stream, plain
}

func TestCmdReaderAgreesWithRedcon(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for iter := range 500 {
		stream, plain := randomStream(rng, rng.Intn(20)+1)
		want, err := readAllRedcon(plain)
		if err != nil {
			t.Fatalf("redcon refuses the test stream: %v", err)
		}
		chunk := []int{1, 7, 64, 5000}[iter%4]
		got, err := readAllCommands(&cmdReader{rd: &chunkReader{b: stream, rng: rng, max: chunk}})
		if err != io.EOF {
			t.Fatalf("reading in chunks of up to %d: %v", chunk, err)
		}
		if len(got) != len(want) {
			t.Fatalf("chunks of up to %d: %d commands, redcon reads %d", chunk, len(got), len(want))
		}
		for i := range want {
			if !equalArgs(got[i].Args, want[i].Args) {
				t.Fatalf("command %d: %q, redcon reads %q", i, got[i].Args, want[i].Args)
			}
			if !bytes.Equal(got[i].Raw, want[i].Raw) {
				t.Fatalf("command %d: raw %q, redcon's %q", i, got[i].Raw, want[i].Raw)
			}
		}
	}
}

// redcon's reader, the one the server used before, reads the stream whole.
func readAllRedcon(stream []byte) ([]redcon.Command, error) {
	rd := redcon.NewReader(bytes.NewReader(stream))
	var all []redcon.Command
	for {
		cmds, err := rd.ReadCommands()
		if err == io.EOF {
			return all, nil
		}
		if err != nil {
			return nil, err
		}
		all = append(all, cmds...)
	}
}

func equalArgs(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// The commands a read returns are the handler's: later reads, and
// appends to one argument, leave them as they were.
func TestCmdReaderCommandsOutliveTheBuffer(t *testing.T) {
	var stream []byte
	for i := range 200 {
		stream = appendCommand(stream, [][]byte{[]byte("INCRBY"), []byte("counter:" + string(rune('a'+i%26))), []byte("1")})
	}
	rd := &cmdReader{rd: &chunkReader{b: stream, rng: rand.New(rand.NewSource(2)), max: 100}}
	first, err := rd.next(nil)
	if err != nil {
		t.Fatal(err)
	}
	key := append([]byte(nil), first[0].Args[1]...)
	rest, err := readAllCommands(rd)
	if err != io.EOF {
		t.Fatal(err)
	}
	if len(first)+len(rest) != 200 {
		t.Fatalf("%d commands, want 200", len(first)+len(rest))
	}
	_ = append(first[0].Args[1], "XXXXXXXX"...)
	if !bytes.Equal(first[0].Args[1], key) || !bytes.Equal(first[0].Args[2], []byte("1")) {
		t.Fatalf("first command changed to %q", first[0].Args)
	}
	if len(first) > 1 && !bytes.Equal(first[1].Args[0], []byte("INCRBY")) {
		t.Fatalf("an append to one argument overwrote the next command: %q", first[1].Args)
	}
}

// An inline line may hold MaxInline bytes before its CRLF or its LF.
func TestCmdReaderInlineLimit(t *testing.T) {
	line := "ECHO " + strings.Repeat("x", MaxInline-5)
	for _, end := range []string{"\r\n", "\n"} {
		rd := &cmdReader{rd: strings.NewReader(line + end)}
		if cmds, err := rd.next(nil); err != nil || len(cmds) != 1 || len(cmds[0].Args[1]) != MaxInline-5 {
			t.Fatalf("a %d-byte line ended by %q: %d commands, %v", len(line), end, len(cmds), err)
		}
		rd = &cmdReader{rd: strings.NewReader(line + "x" + end)}
		if _, err := rd.next(nil); !errors.Is(err, errTooBigInline) {
			t.Fatalf("a %d-byte line ended by %q: %v, want too big", len(line)+1, end, err)
		}
	}
}

func TestCmdReaderMalformed(t *testing.T) {
	ping := "*1\r\n$4\r\nPING\r\n"
	for _, tc := range []struct{ in, msg string }{
		{ping + "*x\r\n", "invalid multibulk length"},
		{ping + "*1\n", "invalid multibulk length"},
		{ping + "*2000000\r\n", "invalid multibulk length"},
		{ping + "*1\r\n+4\r\nPING\r\n", "expected '$', got '+'"},
		{ping + "*1\r\n$x\r\n", "invalid bulk length"},
		{ping + "*1\r\n$-1\r\n", "invalid bulk length"},
		{ping + "*1\r\n$4\r\nPINGPONG\r\n", "invalid bulk length"},
		// Lengths are read as Redis reads them.
		{ping + "*+1\r\n$4\r\nPING\r\n", "invalid multibulk length"},
		{ping + "*01\r\n$4\r\nPING\r\n", "invalid multibulk length"},
		{ping + "*-0\r\n", "invalid multibulk length"},
		{ping + "*1\r\n$+4\r\nPING\r\n", "invalid bulk length"},
		{ping + "*1\r\n$04\r\nPING\r\n", "invalid bulk length"},
		{ping + "*1\r\n$-0\r\n\r\n", "invalid bulk length"},
		{ping + `ECHO "hi` + "\r\n", "unbalanced quotes in request"},
		{ping + "ECHO " + strings.Repeat("a ", MaxInline/2) + "\r\n", "too big inline request"},
		{ping + "ECHO " + strings.Repeat("a ", MaxInline/2), "too big inline request"},
	} {
		rd := &cmdReader{rd: bytes.NewReader([]byte(tc.in))}
		cmds, err := rd.next(nil)
		if err != nil || len(cmds) != 1 || string(cmds[0].Args[0]) != "PING" {
			t.Fatalf("%q: the command before the malformed one: %q, %v", tc.in, cmds, err)
		}
		_, err = rd.next(nil)
		var m ErrMalformed
		if !errors.As(err, &m) || m.Msg != tc.msg {
			t.Fatalf("%q: got %v, want %q", tc.in, err, tc.msg)
		}
	}
}

// A length too large for the buffer waits for more bytes: no index
// overflows.
func TestCmdReaderHugeLengths(t *testing.T) {
	for _, in := range []string{"*1\r\n$9223372036854775807\r\nab", "*9223372036854775807\r\n"} {
		rd := &cmdReader{rd: bytes.NewReader([]byte(in))}
		if cmds, err := rd.next(nil); err == nil {
			t.Fatalf("%q: got %q", in, cmds)
		}
	}
}

func TestCmdReaderSkipsEmptyCommands(t *testing.T) {
	rd := &cmdReader{rd: bytes.NewReader([]byte("*0\r\n*-1\r\n  \r\n\r\n*1\r\n$4\r\nPING\r\n"))}
	cmds, err := readAllCommands(rd)
	if err != io.EOF || len(cmds) != 1 || string(cmds[0].Args[0]) != "PING" {
		t.Fatalf("got %q, %v; want PING alone", cmds, err)
	}
}

// A buffer grown for one big command is let go once it is read, so an
// idle connection keeps little.
func TestCmdReaderShrinksAfterBigCommand(t *testing.T) {
	big := appendCommand(nil, [][]byte{[]byte("ECHO"), bytes.Repeat([]byte("x"), 1<<20)})
	rd := &cmdReader{rd: io.MultiReader(bytes.NewReader(big), bytes.NewReader([]byte("*1\r\n$4\r\nPING\r\n")))}
	if cmds, err := rd.next(nil); err != nil || len(cmds[0].Args[1]) != 1<<20 {
		t.Fatalf("big command: %v", err)
	}
	if cmds, err := rd.next(nil); err != nil || string(cmds[0].Args[0]) != "PING" {
		t.Fatalf("next command: %q, %v", cmds, err)
	}
	if len(rd.buf) > keptBufBytes {
		t.Fatalf("buffer of %d bytes kept after the big command", len(rd.buf))
	}
}

// The scratch of a read that brought many small commands (here a buffer
// grown for a big one, then filled with them) is let go once they are
// taken, as the buffer is.
func TestCmdReaderLetsGoOfBigScratch(t *testing.T) {
	stream := appendCommand(nil, [][]byte{[]byte("ECHO"), bytes.Repeat([]byte("x"), 1<<20)})
	tiny := appendCommand(nil, bytes.Fields([]byte("A B C D E F G H I")))
	for range 20000 {
		stream = append(stream, tiny...)
	}
	rd := &cmdReader{rd: bytes.NewReader(stream)}
	most := 0
	for total := 0; total < 20001; {
		cmds, err := rd.next(nil)
		if err != nil {
			t.Fatalf("after %d commands: %v", total, err)
		}
		total += len(cmds)
		most = max(most, len(cmds))
		if cap(rd.found) > keptCommands || cap(rd.marks) > keptMarks {
			t.Fatalf("a read of %d commands left scratch for %d commands and %d marks", len(cmds), cap(rd.found), cap(rd.marks))
		}
	}
	if most <= keptCommands {
		t.Fatalf("the largest read brought %d commands: the test did not make the scratch grow", most)
	}
}
