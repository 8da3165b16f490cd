package resp

import (
	"bytes"
	"net"
	"strconv"
	"sync"
)

// DefaultMaxRequestBytes is the default bound on one request (a command with
// all its arguments) and on what a client may send before the server has
// answered anything: 4 MiB. Counter keys and integers are small; a bigger
// request is a broken or hostile client.
const DefaultMaxRequestBytes = 4 << 20

// DefaultMaxBulkBytes is the default bound on one bulk string (a key or an
// argument): 1 MiB.
const DefaultMaxBulkBytes = 1 << 20

// MaxMultibulkLen bounds the arguments of one command, as in Redis
// (1024*1024).
const MaxMultibulkLen = 1 << 20

// Limits bounds what one client connection may send.
type Limits struct {
	// MaxRequestBytes bounds one request, and what a client may send
	// before the server has written anything back: the query buffer,
	// including an unanswered pipeline.
	MaxRequestBytes int
	// MaxBulkBytes bounds one bulk string. A longer one is refused at its
	// length header, before its bytes are read. The bound in effect is
	// the smaller of MaxBulkBytes and MaxRequestBytes.
	MaxBulkBytes int
}

// LimitListener wraps ln so that a connection is closed, after a clear error
// reply, when a client sends more than maxBytes without the server having
// replied, or a bulk string longer than maxBytes. See NewLimitListener.
func LimitListener(ln net.Listener, maxBytes int) net.Listener {
	return NewLimitListener(ln, Limits{MaxRequestBytes: maxBytes, MaxBulkBytes: maxBytes})
}

// NewLimitListener wraps ln so that each connection is held to lim. A
// connection over a limit gets one error reply and is closed; the server
// never parses the offending bytes.
//
// That bounds the memory one connection can pin with an endless bulk
// string, an unterminated line or a huge unanswered pipeline: the server's
// reader (see ConnServer) buffers whatever a command needs, and relies on
// this bound.
func NewLimitListener(ln net.Listener, lim Limits) net.Listener {
	if lim.MaxBulkBytes <= 0 || lim.MaxBulkBytes > lim.MaxRequestBytes {
		lim.MaxBulkBytes = lim.MaxRequestBytes
	}
	return &limitListener{Listener: ln, lim: lim}
}

type limitListener struct {
	net.Listener
	lim Limits
}

func (l *limitListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &limitConn{Conn: c, max: l.lim.MaxRequestBytes, frame: framer{maxBulk: l.lim.MaxBulkBytes}}, nil
}

type limitConn struct {
	net.Conn
	max     int
	mu      sync.Mutex
	unread  int    // bytes read since the last write
	frame   framer // only touched by Read
	held    []byte // the start of a count, not yet given to the caller
	refusal error  // for the next Read: what came before it is served first
}

// ErrRequestTooLarge is the error a connection gets before it is closed for
// sending more than the request limit.
type ErrRequestTooLarge struct{ Limit int }

func (e ErrRequestTooLarge) Error() string {
	return "Protocol error: request larger than " + strconv.Itoa(e.Limit) + " bytes"
}

// ErrBulkTooLarge is the error a connection gets before it is closed for
// announcing a bulk string longer than the bulk limit. Length is the length
// as sent, cut to 24 characters.
type ErrBulkTooLarge struct {
	Length string
	Limit  int
}

func (e ErrBulkTooLarge) Error() string {
	return "Protocol error: invalid bulk length " + e.Length + ": larger than " + strconv.Itoa(e.Limit) + " bytes"
}

// ErrMultibulkTooLong is the error a connection gets before it is closed for
// announcing a command of more than MaxMultibulkLen arguments.
type ErrMultibulkTooLong struct{ Length string }

func (e ErrMultibulkTooLong) Error() string {
	return "Protocol error: invalid multibulk length " + e.Length + ": more than " + strconv.Itoa(MaxMultibulkLen) + " arguments"
}

// ErrMalformed is the error a connection gets before it is closed for a
// multibulk command that is not RESP. Msg says what, in Redis' words.
type ErrMalformed struct{ Msg string }

func (e ErrMalformed) Error() string { return "Protocol error: " + e.Msg }

// maxHeld bounds the start of a multibulk count that Read holds back from
// its caller when a read ends inside it: whether it starts a command or is
// an empty one to drop shows only at its end.
const maxHeld = 32

func (c *limitConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if c.refusal != nil {
			return 0, c.refuse(c.refusal)
		}
		// A read that held only empty commands, or the start of a count,
		// gives the caller nothing: read on.
		if n, err := c.read(p); n > 0 || err != nil {
			return n, err
		}
	}
}

// read reads from the connection into p after the bytes held from the
// last read, and returns what of it goes to the caller: the bytes before a
// refused header, without the empty commands, and without the start of a
// count that the read ended in.
func (c *limitConn) read(p []byte) (int, error) {
	h := 0
	if len(p) > maxHeld {
		h = copy(p, c.held)
		c.held = c.held[:0]
	} else if len(c.held) > 0 {
		// No room to hold anything back: what was held goes as it is
		// (the server itself refuses an empty command).
		h = copy(p, c.held)
		c.held = c.held[h:]
		return h, nil
	}
	base := c.frame.pos - int64(h) // the stream offset of p[0]
	n, err := c.Conn.Read(p[h:])
	c.mu.Lock()
	c.unread += n
	over := c.unread > c.max
	c.mu.Unlock()
	if over {
		return 0, c.refuse(ErrRequestTooLarge{Limit: c.max})
	}
	end := h + n
	if ferr := c.frame.feed(p[h:end]); ferr != nil {
		if c.frame.cut == 0 {
			return 0, c.refuse(ferr)
		}
		// As in Redis, the commands before the offending one are answered
		// first: the server gets the bytes before its header now, and the
		// refusal at its next Read, after it has written those replies.
		c.refusal = ferr
		end, err = h+c.frame.cut, nil
	} else if c.frame.state == frameCount && err == nil && len(p) > maxHeld {
		if at := int(c.frame.start - base); at >= 0 && end-at <= maxHeld {
			c.held = append(c.held[:0], p[at:end]...)
			end = at
		}
	}
	return c.frame.dropEmpty(p, base, end), err
}

// refuse writes err as an error reply, closes the connection and returns
// err.
func (c *limitConn) refuse(err error) error {
	c.Conn.Write([]byte("-ERR " + err.Error() + "\r\n"))
	c.Conn.Close()
	return err
}

func (c *limitConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.unread = 0
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// framer follows the RESP request stream as the server's reader parses it
// (multibulk "*<n>\r\n" followed by n "$<len>\r\n<bytes>\r\n", or an
// inline line; see cmdReader) and refuses a bulk length over maxBulk or a
// multibulk count over MaxMultibulkLen at its header. Lengths are read as
// Redis reads them: decimal digits, without a '+' or a leading zero.
//
// It also refuses, in Redis' words, what the reader would refuse in a
// multibulk command: a malformed count or length, a negative length, a
// missing '$', a bulk string not followed by CRLF. The commands before it
// in the same read are answered first, as Redis does. (Malformed inline
// commands are left to the reader.)
//
// A count of 0 or less ("*0", "*-1") is an empty command, which Redis skips
// without a reply: the framer lists it (empty), and limitConn takes it out
// of what the server reads.
type framer struct {
	maxBulk int
	state   uint8
	args    int // bulk strings still to come in the current command
	skip    int // bytes of the current bulk, with its CRLF, still to come

	// The length header being read.
	hdr    [24]byte // its first bytes, for the error message
	hlen   int
	neg    bool
	digits int
	val    int64
	big    bool // val went past 1<<40: over any limit
	bad    bool // not a number at all
	lastCR bool
	cut    int // see feed

	// Stream offsets: of the first byte of the next feed, and of the
	// current header's '*' or '$'.
	pos, start int64
	// empty lists the empty commands ("*0\r\n") of the last feed, as
	// stream offsets.
	empty []span
}

// maxEmptyKept bounds the spans a framer keeps between reads.
const maxEmptyKept = 64

// span is the stream offsets [from, to).
type span struct{ from, to int64 }

const (
	frameStart    = iota // at the start of a command
	frameInline          // in an inline command, up to '\n'
	frameCount           // in "*<n>\r\n"
	frameBulkHead        // expecting '$'
	frameBulkLen         // in "$<len>\r\n"
	frameBulk            // in a bulk's bytes and CRLF
)

// feed follows p and returns an error for a length over the limits or a
// malformed command; then f.cut is how many bytes of p came before the
// offending header or byte (0 when it began in an earlier p).
func (f *framer) feed(p []byte) error {
	n := len(p)
	f.cut = 0
	if cap(f.empty) > maxEmptyKept {
		f.empty = nil // one read of many empty commands keeps nothing
	}
	f.empty = f.empty[:0]
	base := f.pos
	f.pos += int64(n)
	for len(p) > 0 {
		switch f.state {
		case frameStart:
			if p[0] == '*' {
				if k := f.quickCommand(p); k > 0 {
					p = p[k:]
					continue
				}
				f.startHeader(frameCount, n-len(p), base)
				p = p[1:]
			} else {
				f.state = frameInline
			}
		case frameInline:
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				return nil
			}
			p = p[i+1:]
			f.state = frameStart
		case frameBulkHead:
			if p[0] != '$' {
				f.cut = n - len(p)
				got := p[0]
				if got == '\r' || got == '\n' {
					got = ' ' // as Redis does: a reply line holds no CR or LF
				}
				return ErrMalformed{Msg: "expected '$', got '" + string(got) + "'"}
			}
			f.startHeader(frameBulkLen, n-len(p), base)
			p = p[1:]
		case frameCount, frameBulkLen:
			if f.hlen == 0 {
				// The common case: the whole header is here, plain digits.
				if k := f.quickHeader(p); k > 0 {
					p = p[k:]
					if err := f.endHeader(base + int64(n-len(p))); err != nil {
						return err
					}
					continue
				}
			}
			for len(p) > 0 {
				c := p[0]
				p = p[1:]
				if c == '\n' {
					if err := f.endHeader(base + int64(n-len(p))); err != nil {
						return err
					}
					break
				}
				f.headerByte(c)
			}
		case frameBulk:
			if f.skip <= 2 {
				// The CRLF after the bytes.
				if p[0] != "\r\n"[2-f.skip] {
					f.cut = n - len(p)
					return ErrMalformed{Msg: "invalid bulk length"}
				}
				f.skip--
				p = p[1:]
			} else {
				k := min(f.skip-2, len(p))
				f.skip -= k
				p = p[k:]
			}
			if f.skip == 0 {
				f.args--
				if f.args == 0 {
					f.state = frameStart
				} else {
					f.state = frameBulkHead
				}
			}
		}
	}
	return nil
}

// quickCommand is the common case: p begins with a whole multibulk command
// whose headers are plain digits, with a count and lengths within the
// limits. It returns the command's length, or 0 for anything else, which
// the state machine then follows byte by byte (and refuses, where it must).
func (f *framer) quickCommand(p []byte) int {
	count, i := quickLength(p, 1)
	if count <= 0 || count > MaxMultibulkLen {
		return 0
	}
	for ; count > 0; count-- {
		if i >= len(p) || p[i] != '$' {
			return 0
		}
		size, j := quickLength(p, i+1)
		if size < 0 || size > f.maxBulk {
			return 0
		}
		i = j + size + 2
		if i > len(p) || p[i-2] != '\r' || p[i-1] != '\n' {
			return 0
		}
	}
	return i
}

// quickLength reads 1 to 12 digits, without a leading zero, and a CRLF at
// p[i:], and returns their value and the offset after the CRLF; -1 when
// p[i:] does not begin so.
func quickLength(p []byte, i int) (v, next int) {
	start := i
	for ; i < len(p) && '0' <= p[i] && p[i] <= '9'; i++ {
		if i-start == 12 {
			return -1, 0
		}
		v = v*10 + int(p[i]-'0')
	}
	if i == start || i+1 >= len(p) || p[i] != '\r' || p[i+1] != '\n' || (p[start] == '0' && i-start > 1) {
		return -1, 0
	}
	return v, i + 2
}

// startHeader begins a length header at offset at of the bytes being fed,
// which begin at stream offset base.
func (f *framer) startHeader(state uint8, at int, base int64) {
	f.state, f.cut, f.start = state, at, base+int64(at)
	f.hlen, f.neg, f.digits, f.val, f.big, f.bad, f.lastCR = 0, false, 0, 0, false, false, false
}

// shown is the length header as sent, for an error message.
func (f *framer) shown() string {
	return string(bytes.TrimSuffix(f.hdr[:f.hlen], []byte{'\r'}))
}

// quickHeader takes a whole header at the start of p, 1 to 12 digits and a
// CRLF (see quickLength), and returns its length with the CRLF; 0 for
// anything else, which is left to headerByte.
func (f *framer) quickHeader(p []byte) int {
	v, next := quickLength(p, 0)
	if v < 0 {
		return 0
	}
	f.hlen = copy(f.hdr[:], p[:next-1])
	f.val, f.digits, f.lastCR = int64(v), next-2, true
	return next
}

func (f *framer) headerByte(c byte) {
	if f.hlen < len(f.hdr) {
		f.hdr[f.hlen] = c
		f.hlen++
	}
	if f.lastCR {
		f.bad = true // a '\r' inside the number
	}
	f.lastCR = c == '\r'
	switch {
	case c == '\r':
	case (c == '+' || c == '-') && f.digits == 0 && f.hlen == 1:
		f.neg = c == '-'
	case '0' <= c && c <= '9':
		f.digits++
		if !f.big {
			f.val = f.val*10 + int64(c-'0')
			f.big = f.val > 1<<40
		}
	default:
		f.bad = true
	}
}

// endHeader handles the '\n' that ends a length header; end is the stream
// offset after it.
func (f *framer) endHeader(end int64) error {
	malformed := f.bad || !f.lastCR || f.digits == 0
	if f.state == frameCount {
		if !malformed && (f.neg || f.val == 0) && f.hlen < len(f.hdr) {
			// Redis skips a count of 0 or less, written as it writes
			// integers: "0", or '-' and digits without leading zeros,
			// within int64. "-0", "+0" and "00" it refuses.
			if _, ok := ParseInt([]byte(f.shown())); ok {
				if k := len(f.empty) - 1; k >= 0 && f.empty[k].to == f.start {
					f.empty[k].to = end // empty commands in a row are one span
				} else {
					f.empty = append(f.empty, span{f.start, end})
				}
				f.state = frameStart
				return nil
			}
		}
		if malformed || f.neg || f.val == 0 || !f.canonical() {
			return ErrMalformed{Msg: "invalid multibulk length"}
		}
		if f.big || f.val > MaxMultibulkLen {
			return ErrMultibulkTooLong{Length: f.shown()}
		}
		f.args = int(f.val)
		f.state = frameBulkHead
		return nil
	}
	if malformed || f.neg || !f.canonical() {
		return ErrMalformed{Msg: "invalid bulk length"}
	}
	if f.big || f.val > int64(f.maxBulk) {
		return ErrBulkTooLarge{Length: f.shown(), Limit: f.maxBulk}
	}
	f.skip = int(f.val) + 2
	f.state = frameBulk
	return nil
}

// canonical reports whether the header's number is written as Redis writes
// integers, the only way it reads them (string2ll): no '+', and no leading
// zero but in "0" itself. (A '-' is refused, or taken as an empty
// command, by the caller.)
func (f *framer) canonical() bool {
	h := f.hdr[:f.hlen]
	if len(h) > 0 && (h[0] == '+' || h[0] == '-') {
		if h[0] == '+' {
			return false
		}
		h = h[1:]
	}
	return f.digits <= 1 || len(h) == 0 || h[0] != '0'
}

// dropEmpty moves the bytes of p[:end] (p begins at stream offset base)
// over the empty commands of the last feed, and returns how many are left.
// An empty command whose start went to the caller in an earlier read (its
// count longer than maxHeld) stays: the server refuses it.
func (f *framer) dropEmpty(p []byte, base int64, end int) int {
	out, from := 0, 0
	for _, e := range f.empty {
		i, j := int(e.from-base), int(e.to-base)
		if i < from || i >= end {
			continue
		}
		out += copy(p[out:], p[from:i])
		from = j
	}
	if from == 0 {
		return end
	}
	return out + copy(p[out:], p[from:end])
}
