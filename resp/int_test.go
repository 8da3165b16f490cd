package resp

import (
	"math"
	"strconv"
	"testing"
)

func TestParseInt(t *testing.T) {
	good := map[string]int64{
		"0": 0, "1": 1, "-1": -1, "42": 42,
		"9223372036854775807":  math.MaxInt64,
		"-9223372036854775808": math.MinInt64,
	}
	for in, want := range good {
		got, ok := ParseInt([]byte(in))
		if !ok || got != want {
			t.Errorf("ParseInt(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	bad := []string{"", "-", "+1", " 1", "1 ", "01", "-0", "00", "1.5", "abc",
		"9223372036854775808", "-9223372036854775809", "99999999999999999999",
		"123456789012345678901", "1e3", "0x10", "\x00"}
	for _, in := range bad {
		if v, ok := ParseInt([]byte(in)); ok {
			t.Errorf("ParseInt(%q) = %d, want failure", in, v)
		}
	}
}

func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"0", "-1", "9223372036854775807", "-9223372036854775808", "01", "+5", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseInt([]byte(s))
		want, err := strconv.ParseInt(s, 10, 64)
		canonical := err == nil && strconv.FormatInt(want, 10) == s
		if ok != canonical {
			t.Fatalf("ParseInt(%q) ok=%v, strconv canonical=%v", s, ok, canonical)
		}
		if ok && got != want {
			t.Fatalf("ParseInt(%q) = %d, want %d", s, got, want)
		}
	})
}

func TestParseUint(t *testing.T) {
	if v, ok := ParseUint([]byte("18446744073709551615")); !ok || v != math.MaxUint64 {
		t.Fatalf("max uint64: %d %v", v, ok)
	}
	for _, in := range []string{"", "-1", "18446744073709551616", "01", "a"} {
		if _, ok := ParseUint([]byte(in)); ok {
			t.Errorf("ParseUint(%q) accepted", in)
		}
	}
}

func TestAddInt(t *testing.T) {
	if _, ok := AddInt(math.MaxInt64, 1); ok {
		t.Error("MaxInt64+1 did not overflow")
	}
	if _, ok := AddInt(math.MinInt64, -1); ok {
		t.Error("MinInt64-1 did not overflow")
	}
	if s, ok := AddInt(math.MaxInt64, math.MinInt64); !ok || s != -1 {
		t.Errorf("Max+Min = %d, %v", s, ok)
	}
}

func TestIncrDelta(t *testing.T) {
	args := func(s ...string) [][]byte {
		out := make([][]byte, len(s))
		for i, a := range s {
			out[i] = []byte(a)
		}
		return out
	}
	for _, c := range []struct {
		in   [][]byte
		want int64
		err  error
	}{
		{args("INCR", "k"), 1, nil},
		{args("decr", "k"), -1, nil},
		{args("INCRBY", "k", "-5"), -5, nil},
		{args("DECRBY", "k", "-5"), 5, nil},
		{args("DECRBY", "k", "-9223372036854775808"), 0, ErrDecrOverflow},
		{args("INCRBY", "k", "1.5"), 0, ErrNotInteger},
	} {
		got, err := IncrDelta(c.in)
		if got != c.want || err != c.err {
			t.Errorf("IncrDelta(%q) = %d, %v; want %d, %v", c.in, got, err, c.want, c.err)
		}
	}
	if got := ToReply(ErrDecrOverflow); got != "ERR decrement would overflow" {
		t.Errorf("reply text %q", got)
	}
}

func TestSum(t *testing.T) {
	for _, c := range []struct {
		terms []int64
		want  int64
		fits  bool
	}{
		{nil, 0, true},
		{[]int64{math.MaxInt64, 1, -1}, math.MaxInt64, true},
		{[]int64{math.MinInt64, -1, 1}, math.MinInt64, true},
		{[]int64{math.MaxInt64, math.MaxInt64, math.MinInt64, math.MinInt64, 2}, 0, true},
		{[]int64{math.MaxInt64, 1}, 0, false},
		{[]int64{math.MinInt64, -1}, 0, false},
		{[]int64{math.MinInt64, math.MinInt64}, 0, false},
		{[]int64{-5, 3}, -2, true},
	} {
		var s Sum
		for _, v := range c.terms {
			s.Add(v)
		}
		got, fits := s.Int64()
		if fits != c.fits || (fits && got != c.want) {
			t.Errorf("sum of %d = %d, %v; want %d, %v", c.terms, got, fits, c.want, c.fits)
		}
	}
}
