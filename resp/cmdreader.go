package resp

import (
	"bytes"
	"io"

	"github.com/tidwall/redcon"
)

// cmdReader reads the commands of a RESP request stream, all the complete
// ones that a read brought at a time: multibulk commands
// ("*<n>\r\n" and n times "$<len>\r\n<bytes>\r\n") and inline ones (a line
// of words, as telnet sends, split as Redis splits them: see splitInline).
//
// It reads into a buffer of its own, and copies the commands it returns out
// of it, all of one read in one allocation, with their arguments in
// another: a handler may keep an argument as long as it likes, and the
// buffer is free for the next read at once.
//
// Malformed commands get redcon's words, which are Redis'. Behind
// NewLimitListener they never reach it: the framer refuses them first.
type cmdReader struct {
	rd         io.Reader
	buf        []byte
	start, end int // the bytes read and not yet returned

	// Scratch of next, kept between reads.
	marks []int     // the bounds of each multibulk argument, from start
	found []command // the commands found
}

// command is one command found by scan: a multibulk one as bounds into
// the buffer and marks, an inline one parsed already.
type command struct {
	from, to int // its bytes, from start
	arg, n   int // its first argument's pair in marks, and how many
	inline   bool
	parsed   redcon.Command
	empty    bool // "*0", or a line of spaces: skipped without a reply
}

const (
	readBufBytes = 4 << 10
	// A buffer that grew past this for a large command goes back to
	// readBufBytes once it is empty, so an idle connection keeps little.
	keptBufBytes = 64 << 10
	// Likewise the scratch of a read that brought more commands than
	// this (a big buffer full of tiny ones) is let go once they are
	// taken: a read of 4 KiB, the usual buffer, brings fewer.
	keptCommands = 256
	keptMarks    = 8 * keptCommands
)

// next appends to dst the complete commands the reader has, reading from
// the connection until there is at least one. It returns the commands that
// come before a malformed one, and the error at the next call.
func (r *cmdReader) next(dst []redcon.Command) ([]redcon.Command, error) {
	for {
		used, err := r.scan()
		if len(r.found) > 0 {
			return r.take(dst, used), nil
		}
		r.start += used // empty commands and lines
		if err != nil {
			return nil, refusal{err}
		}
		if err := r.fill(); err != nil {
			return nil, err
		}
	}
}

// refusal is a malformed command the reader found, which the server
// answers before it closes the connection. (Behind NewLimitListener the
// framer refuses first; its replies are written already.)
type refusal struct{ err error }

func (r refusal) Error() string { return r.err.Error() }
func (r refusal) Unwrap() error { return r.err }

// scan finds the complete commands in buf[start:end] and reports how many
// bytes they take, with what ends the scan early: a malformed command.
func (r *cmdReader) scan() (used int, err error) {
	r.found, r.marks = r.found[:0], r.marks[:0]
	p := r.buf[r.start:r.end]
	for used < len(p) {
		var n int
		var c command
		if p[used] == '*' {
			c, n, err = r.scanMultibulk(p, used)
		} else {
			c, n, err = scanInline(p, used)
		}
		if err != nil || n == 0 {
			return used, err
		}
		if !c.empty {
			r.found = append(r.found, c)
		}
		used += n
	}
	return used, nil
}

// scanMultibulk reads the multibulk command at p[at:]: its length in bytes,
// 0 if it is not all there yet. Only a complete command leaves its
// arguments in marks.
func (r *cmdReader) scanMultibulk(p []byte, at int) (c command, n int, err error) {
	c = command{from: at, arg: len(r.marks) / 2}
	n, err = r.multibulk(p, &c)
	if n == 0 || err != nil {
		r.marks = r.marks[:2*c.arg]
	}
	return c, n, err
}

func (r *cmdReader) multibulk(p []byte, c *command) (int, error) {
	at := c.from
	count, i, ok := readLength(p, at+1)
	switch {
	case i == 0:
		return 0, nil
	case !ok || count > MaxMultibulkLen:
		return 0, ErrMalformed{Msg: "invalid multibulk length"}
	case count <= 0:
		// "*0" and "*-1": an empty command, skipped without a reply.
		c.empty = true
		return i - at, nil
	}
	c.n = count
	for range count {
		if i >= len(p) {
			return 0, nil
		}
		if p[i] != '$' {
			return 0, ErrMalformed{Msg: "expected '$', got '" + string(p[i]) + "'"}
		}
		size, next, ok := readLength(p, i+1)
		if next == 0 {
			return 0, nil
		}
		if !ok || size < 0 {
			return 0, ErrMalformed{Msg: "invalid bulk length"}
		}
		if size > len(p)-next-2 {
			return 0, nil
		}
		if p[next+size] != '\r' || p[next+size+1] != '\n' {
			return 0, ErrMalformed{Msg: "invalid bulk length"}
		}
		r.marks = append(r.marks, next, next+size)
		i = next + size + 2
	}
	c.to = i
	return i - at, nil
}

// readLength reads the integer of a "<n>\r\n" header at p[at:], as Redis
// reads it (see ParseInt). next is just past its CRLF, or 0 when the line
// is not all there; ok is false when it is not such an integer or its line
// ends in a bare '\n'.
func readLength(p []byte, at int) (n, next int, ok bool) {
	nl := bytes.IndexByte(p[at:], '\n')
	if nl < 0 {
		return 0, 0, false
	}
	end := at + nl
	next = end + 1
	if end == at || p[end-1] != '\r' {
		return 0, next, false
	}
	v, ok := ParseInt(p[at : end-1])
	return int(v), next, ok
}

// scanInline reads the inline command at p[at:] up to its '\n'. A line of
// whitespace alone is an empty command. A line of more than MaxInline
// bytes before its CRLF is refused, and so is one that has sent that many
// with no '\n' yet. (Redis refuses only the latter: a longer line that
// arrives whole in one read passes there.)
func scanInline(p []byte, at int) (command, int, error) {
	nl := bytes.IndexByte(p[at:], '\n')
	if nl < 0 {
		if len(p)-at > MaxInline {
			return command{}, 0, errTooBigInline
		}
		return command{}, 0, nil
	}
	line := p[at : at+nl+1]
	words := bytes.TrimSuffix(line[:nl], []byte{'\r'})
	if len(words) > MaxInline {
		return command{}, 0, errTooBigInline
	}
	args, err := splitInline(words)
	if err != nil {
		return command{}, 0, err
	}
	if len(args) == 0 {
		return command{empty: true}, len(line), nil
	}
	// Raw is the command as multibulk, as redcon gives it for inline ones.
	raw := redcon.AppendArray(make([]byte, 0, len(line)+16*len(args)), len(args))
	for _, a := range args {
		raw = redcon.AppendBulk(raw, a)
	}
	return command{inline: true, parsed: redcon.Command{Raw: raw, Args: args}}, len(line), nil
}

// take appends the commands found to dst, copied out of the buffer, and
// consumes their used bytes.
func (r *cmdReader) take(dst []redcon.Command, used int) []redcon.Command {
	raw := make([]byte, used)
	copy(raw, r.buf[r.start:r.start+used])
	args := make([][]byte, len(r.marks)/2)
	for i := range args {
		from, to := r.marks[2*i], r.marks[2*i+1]
		args[i] = raw[from:to:to]
	}
	for _, c := range r.found {
		if c.inline {
			dst = append(dst, c.parsed)
			continue
		}
		dst = append(dst, redcon.Command{Raw: raw[c.from:c.to:c.to], Args: args[c.arg : c.arg+c.n : c.arg+c.n]})
	}
	r.start += used
	if cap(r.found) > keptCommands {
		r.found = nil
	}
	if cap(r.marks) > keptMarks {
		r.marks = nil
	}
	return dst
}

// fill reads more of the stream into the buffer, making room first.
func (r *cmdReader) fill() error {
	if r.start == r.end {
		r.start, r.end = 0, 0
		if len(r.buf) > keptBufBytes {
			r.buf = nil
		}
	}
	switch {
	case r.buf == nil:
		r.buf = make([]byte, readBufBytes)
	case r.end == len(r.buf) && r.start > 0:
		r.end = copy(r.buf, r.buf[r.start:r.end])
		r.start = 0
	case r.end == len(r.buf):
		r.buf = append(r.buf, make([]byte, len(r.buf))...)
	}
	n, err := r.rd.Read(r.buf[r.end:])
	r.end += n
	if n > 0 {
		return nil // an error comes back at the next read
	}
	return err
}
