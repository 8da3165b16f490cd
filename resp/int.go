package resp

import (
	"errors"
	"math"
	"math/bits"
	"strconv"
)

// maxInt64Digits is the length of "-9223372036854775808".
const maxInt64Digits = 20

// ParseInt parses b as a base-10 int64 the way Redis' string2ll does: an
// optional '-', then digits without leading zeros, no spaces, no '+'. It
// allocates nothing. ok is false for anything else, including values that
// do not fit in an int64.
func ParseInt(b []byte) (v int64, ok bool) {
	if len(b) == 0 || len(b) > maxInt64Digits {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := false
	i := 0
	if b[0] == '-' {
		neg = true
		i = 1
		if len(b) == 1 {
			return 0, false
		}
	}
	if b[i] < '1' || b[i] > '9' {
		return 0, false
	}
	// Accumulate as a negative number: its range is one larger.
	var n int64
	const minDiv10 = -9223372036854775808 / 10
	for ; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n < minDiv10 {
			return 0, false
		}
		n *= 10
		if n < -9223372036854775808+d {
			return 0, false
		}
		n -= d
	}
	if neg {
		return n, true
	}
	if n == -9223372036854775808 {
		return 0, false
	}
	return -n, true
}

// ParseUint parses b as a base-10 uint64 with the same strictness as ParseInt.
func ParseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 || (len(b) > 1 && b[0] == '0') {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (^uint64(0)-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// AddInt returns a+b, or ok=false when the sum does not fit in an int64.
func AddInt(a, b int64) (sum int64, ok bool) {
	sum = a + b
	if (b > 0 && sum < a) || (b < 0 && sum > a) {
		return 0, false
	}
	return sum, true
}

// Sum adds int64s in 128 bits, so that the total is exact whenever it fits
// in an int64, whatever the order of the terms: MaxInt64, 1 and -1 add up
// to MaxInt64. The zero value is an empty sum.
type Sum struct {
	hi int64
	lo uint64
}

// Add adds v.
func (s *Sum) Add(v int64) {
	var carry uint64
	s.lo, carry = bits.Add64(s.lo, uint64(v), 0)
	s.hi += int64(carry) + v>>63 // v>>63 is v's sign extended: 0 or -1
}

// Int64 is the sum, or ok=false when it does not fit in an int64.
func (s Sum) Int64() (v int64, ok bool) {
	v = int64(s.lo)
	return v, s.hi == v>>63
}

// FormatInt is strconv.FormatInt in base 10, here so callers need one import.
func FormatInt(v int64) string { return strconv.FormatInt(v, 10) }

// AppendInt appends the base-10 form of v to dst.
func AppendInt(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) }

// ErrDecrOverflow is returned for DECRBY key -9223372036854775808: its
// negation does not fit in an int64.
var ErrDecrOverflow = errors.New("decrement would overflow")

// IncrDelta is the delta of INCR, INCRBY, DECR or DECRBY (args[0] names
// which), as Redis computes it: 1 without an argument, negated for DECR.
func IncrDelta(args [][]byte) (int64, error) {
	delta := int64(1)
	if len(args) == 3 {
		d, ok := ParseInt(args[2])
		if !ok {
			return 0, ErrNotInteger
		}
		delta = d
	}
	if args[0][0]|0x20 == 'd' { // DECR, DECRBY
		if delta == math.MinInt64 {
			return 0, ErrDecrOverflow
		}
		delta = -delta
	}
	return delta, nil
}
