package resp

import (
	"errors"
	"strings"
)

// Sentinel errors. Each maps to one Redis error prefix (see codes below), so
// an error returned by a shard comes back out of the coordinator's client as
// the same sentinel: check them with errors.Is.
var (
	// ErrNotInteger is returned when a value or delta is not a canonical
	// base-10 int64.
	ErrNotInteger = errors.New("value is not an integer or out of range")
	// ErrOverflow is returned when an increment would take a partial or a
	// total outside the int64 range. Nothing is applied.
	ErrOverflow = errors.New("increment or decrement would overflow")
	// ErrSyntax is returned for a malformed option list.
	ErrSyntax = errors.New("syntax error")
	// ErrWrongShard is returned by a shard when a command names another shard
	// id than the one stored in its data directory.
	ErrWrongShard = errors.New("wrong shard")
	// ErrShardReplaced is returned when a shard answers from another data
	// directory than the one that held its partials (a wiped disk, a new
	// machine under the same id): its partials are missing, so reads must
	// not count it until an operator accepts the loss (SHARDACCEPT). The
	// command was not applied.
	ErrShardReplaced = errors.New("shard data directory replaced")
	// ErrRequestExpired is returned by a shard for a request id older than its
	// deduplication window: it can no longer tell whether it was applied.
	ErrRequestExpired = errors.New("request id expired")
	// ErrShuttingDown is returned by a shard that is closing. The command was
	// certainly not applied, so it is safe to retry anywhere.
	ErrShuttingDown = errors.New("shard is shutting down")
	// ErrStorage is returned when the shard could not read from RocksDB (a
	// partial, a request record) before writing. The command was not
	// applied. A failed write itself is ErrAmbiguous.
	ErrStorage = errors.New("storage error")
	// ErrNoAuth is returned for a command sent before AUTH on a server that
	// requires a password.
	ErrNoAuth = errors.New("Authentication required.")
	// ErrWrongPass is returned by AUTH and HELLO ... AUTH for bad credentials.
	ErrWrongPass = errors.New("invalid username-password pair or user is disabled.")
	// ErrShardUnavailable is returned when a shard that is needed for an
	// answer is down or does not answer in time.
	ErrShardUnavailable = errors.New("shard unavailable")
	// ErrNoShardAvailable is returned when every shard a write could go to is
	// down. The write was not applied.
	ErrNoShardAvailable = errors.New("no shard available")
	// ErrAmbiguous is returned when a write was sent to a shard and no reply
	// came back before the deadline, or the shard's RocksDB write failed: it
	// may or may not have been applied.
	ErrAmbiguous = errors.New("write outcome unknown")
)

// codes maps each sentinel to its Redis error prefix. For ERR codes the
// sentinel's text is the whole message, as Redis writes it.
var codes = []struct {
	prefix string
	err    error
}{
	{"ERR", ErrNotInteger},
	{"ERR", ErrOverflow},
	{"ERR", ErrDecrOverflow},
	{"ERR", ErrSyntax},
	{"WRONGSHARD", ErrWrongShard},
	{"REPLACED", ErrShardReplaced},
	{"EXPIRED", ErrRequestExpired},
	{"TRYAGAIN", ErrShuttingDown},
	{"IOERR", ErrStorage},
	{"NOAUTH", ErrNoAuth},
	{"WRONGPASS", ErrWrongPass},
	{"SHARDDOWN", ErrShardUnavailable},
	{"TRYAGAIN", ErrNoShardAvailable},
	{"UNKNOWN", ErrAmbiguous},
}

// ReplyError is an error that travelled as a RESP error reply. Msg is the
// whole reply text; Unwrap gives the matching sentinel, if any.
type ReplyError struct {
	Msg      string
	sentinel error
}

func (e *ReplyError) Error() string { return e.Msg }
func (e *ReplyError) Unwrap() error { return e.sentinel }

// FromReply turns a RESP error reply back into an error that matches the
// sentinel it was made from.
func FromReply(msg string) error {
	prefix, rest, _ := strings.Cut(msg, " ")
	var byPrefix error
	for _, c := range codes {
		if c.prefix != prefix {
			continue
		}
		if strings.HasPrefix(rest, c.err.Error()) {
			return &ReplyError{Msg: msg, sentinel: c.err}
		}
		if byPrefix == nil && prefix != "ERR" {
			byPrefix = c.err
		}
	}
	return &ReplyError{Msg: msg, sentinel: byPrefix}
}

// ToReply is the RESP error text for err: the sentinel's prefix and the
// error's text, or an "ERR" reply for anything else. A ReplyError passes
// through unchanged.
func ToReply(err error) string {
	var re *ReplyError
	if errors.As(err, &re) {
		return re.Msg
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			if c.prefix == "ERR" {
				return "ERR " + c.err.Error()
			}
			return c.prefix + " " + err.Error()
		}
	}
	return "ERR " + err.Error()
}
