package resp

import (
	"strconv"

	"github.com/tidwall/redcon"
)

// Writer writes replies to one connection in the protocol version the
// client chose with HELLO (2 or 3).
type Writer struct {
	redcon.Conn
	Proto int
}

// WriteMapHeader starts a map of n pairs: a RESP3 map, or in RESP2 a flat
// array of 2n elements.
func (w Writer) WriteMapHeader(n int) {
	if w.Proto == 3 {
		w.WriteRaw(appendHeader(make([]byte, 0, 16), '%', n))
		return
	}
	w.WriteArray(2 * n)
}

// WriteNullReply writes the null of the client's protocol.
func (w Writer) WriteNullReply() {
	if w.Proto == 3 {
		w.WriteRaw([]byte("_\r\n"))
		return
	}
	w.WriteNull()
}

// WriteErr writes err as a Redis error reply (see ToReply).
func (w Writer) WriteErr(err error) { w.WriteError(ToReply(err)) }

// appendHeader appends the header of an aggregate or string of n to b.
func appendHeader(b []byte, kind byte, n int) []byte {
	b = append(b, kind)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '\r', '\n')
}

// Reply is the answer to one command. A ready reply writes itself at once;
// a pending reply (see Future) blocks in WriteTo until its answer is there.
type Reply interface {
	WriteTo(w Writer)
}

// ReplyFunc adapts a function to Reply.
type ReplyFunc func(w Writer)

// WriteTo calls f.
func (f ReplyFunc) WriteTo(w Writer) { f(w) }

type intReply int64

func (r intReply) WriteTo(w Writer) { w.WriteInt64(int64(r)) }

// Int is an integer reply.
func Int(v int64) Reply { return intReply(v) }

type statusReply string

func (r statusReply) WriteTo(w Writer) { w.WriteString(string(r)) }

// Status is a simple-string reply such as OK.
func Status(s string) Reply { return statusReply(s) }

// OK is the +OK reply.
var OK Reply = statusReply("OK")

type bulkReply []byte

func (r bulkReply) WriteTo(w Writer) { w.WriteBulk(r) }

// Bulk is a bulk-string reply.
func Bulk(b []byte) Reply { return bulkReply(b) }

// BulkString is a bulk-string reply.
func BulkString(s string) Reply { return bulkReply(s) }

// BulkInt is an integer written as a bulk string, as Redis' GET does.
func BulkInt(v int64) Reply { return bulkReply(strconv.AppendInt(nil, v, 10)) }

type verbatimReply string

// WriteTo writes a RESP3 verbatim string of format "txt", or in RESP2 a
// bulk string.
func (r verbatimReply) WriteTo(w Writer) {
	if w.Proto != 3 {
		w.WriteBulkString(string(r))
		return
	}
	b := appendHeader(make([]byte, 0, 32+len(r)), '=', len("txt:")+len(r))
	b = append(b, "txt:"...)
	b = append(b, r...)
	w.WriteRaw(append(b, '\r', '\n'))
}

// Verbatim is text for people to read, as Redis replies to INFO and CLIENT
// LIST: a verbatim string in RESP3, which clients show as it is, and a
// bulk string in RESP2.
func Verbatim(text string) Reply { return verbatimReply(text) }

type nullReply struct{}

func (nullReply) WriteTo(w Writer) { w.WriteNullReply() }

// Null is the null reply.
var Null Reply = nullReply{}

type errReply struct{ err error }

func (r errReply) WriteTo(w Writer) { w.WriteErr(r.err) }

// Err is an error reply; see ToReply for its text.
func Err(err error) Reply { return errReply{err} }

type rawErrReply string

func (r rawErrReply) WriteTo(w Writer) { w.WriteError(string(r)) }

// ErrText is an error reply with exactly this text, prefix included.
func ErrText(msg string) Reply { return rawErrReply(msg) }

// Future is a reply that is not known yet. The zero value is not usable:
// make one with NewFuture. Resolve it exactly once.
type Future struct {
	done  chan struct{}
	reply Reply
	// Errors, when set, is incremented if the reply is an error.
	Errors interface{ Inc() }
}

// NewFuture returns an unresolved Future.
func NewFuture() *Future { return &Future{done: make(chan struct{})} }

// Resolve sets the reply and wakes the writer.
func (f *Future) Resolve(r Reply) {
	f.reply = r
	close(f.done)
}

// Wait blocks until the future is resolved and returns its reply.
func (f *Future) Wait() Reply {
	<-f.done
	return f.reply
}

// WriteTo waits for the reply and writes it.
func (f *Future) WriteTo(w Writer) {
	r := f.Wait()
	if f.Errors != nil && IsError(r) {
		f.Errors.Inc()
	}
	r.WriteTo(w)
}

func (errReply) isError()    {}
func (rawErrReply) isError() {}

// IsError reports whether r is an error reply.
func IsError(r Reply) bool {
	_, ok := r.(interface{ isError() })
	return ok
}
