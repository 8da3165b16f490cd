package resp

import (
	"errors"
	"strings"
	"testing"
)

// splitInline follows Redis' sdssplitargs; each want is what Redis 7.0
// itself made of the line.
func TestSplitInline(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string // nil: an empty command
		bad  bool     // unbalanced quotes
	}{
		{line: "INCRBY k 5", want: []string{"INCRBY", "k", "5"}},
		{line: "  PING  ", want: []string{"PING"}},
		{line: "ECHO\tx", want: []string{"ECHO", "x"}},
		{line: "\tPING", want: []string{"PING"}},
		{line: "PING\rx", want: []string{"PING", "x"}},
		{line: "\t \v\f"},
		{line: "\x00\x01"},
		{line: "ECHO a\x00b", want: []string{"ECHO", "a"}},
		{line: ""},
		{line: `ECHO "a b"`, want: []string{"ECHO", "a b"}},
		{line: `ECHO "a\x41b"`, want: []string{"ECHO", "aAb"}},
		{line: `ECHO "a\x4"`, want: []string{"ECHO", "ax4"}},
		{line: `ECHO "\n\r\t\b\a\"\\\q"`, want: []string{"ECHO", "\n\r\t\b\a\"\\q"}},
		{line: `ECHO 'a\nb'`, want: []string{"ECHO", `a\nb`}},
		{line: `ECHO 'it\'s'`, want: []string{"ECHO", "it's"}},
		{line: `ECHO ""`, want: []string{"ECHO", ""}},
		{line: `ECHO "a"` + "\t", want: []string{"ECHO", "a"}},
		{line: `ECHO a"b"`, want: []string{"ECHO", "ab"}},
		{line: `ECHO "a`, bad: true},
		{line: `ECHO 'a`, bad: true},
		{line: `ECHO "a"b`, bad: true},
		{line: `ECHO 'a'b`, bad: true},
		{line: `ECHO "a\"`, bad: true},
	} {
		got, err := splitInline([]byte(tc.line))
		if tc.bad {
			if !errors.Is(err, errUnbalancedQuotes) {
				t.Errorf("%q: %q, %v; want unbalanced quotes", tc.line, got, err)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Errorf("%q: %q, %v; want %q", tc.line, got, err, tc.want)
			continue
		}
		for i := range got {
			if string(got[i]) != tc.want[i] {
				t.Errorf("%q: %q; want %q", tc.line, got, tc.want)
			}
		}
	}
}

// A line of many one-byte words costs memory in proportion to its length:
// its arguments share one buffer. (A parser that gave each word the rest of
// the line took gigabytes for a line of 64 KiB.)
func TestSplitInlineIsLinear(t *testing.T) {
	line := []byte("EXISTS" + strings.Repeat(" a", MaxInline/2-4))
	allocs := testing.AllocsPerRun(3, func() {
		args, err := splitInline(line)
		if err != nil || len(args) != MaxInline/2-3 {
			t.Fatalf("%d args, %v", len(args), err)
		}
	})
	if allocs > 40 {
		t.Fatalf("%.0f allocations for one line", allocs)
	}
	var bytes int
	args, _ := splitInline(line)
	for _, a := range args {
		bytes += cap(a)
	}
	if bytes > len(line) {
		t.Fatalf("arguments hold %d bytes of a %d-byte line", bytes, len(line))
	}
}
