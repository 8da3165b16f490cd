package resp

import (
	"bytes"
	"slices"
	"testing"
	"time"
)

// The strings and, for each pattern, the ones that Redis 7.0's KEYS
// returned for it from a database holding all of them.
var globStrings = []string{"a", "b", "c", "ab", "abc", "a*b", "[x", "x]", "a\\b", "A", "^a", "-", "key:1", "key:22", "key:x", "]", "\\", "a?", "aXb", "hello", "hallo", "hxllo", "hllo", "heeeello"}

var globCases = []struct {
	pattern string
	matches []string
}{
	{"a*", []string{"a", "a*b", "a?", "aXb", "a\\b", "ab", "abc"}},
	{"a?", []string{"a?", "ab"}},
	{"[abc]", []string{"a", "b", "c"}},
	{"[^a]", []string{"-", "A", "\\", "]", "b", "c"}},
	{"[!a]", []string{"a"}},
	{"[a-c]", []string{"a", "b", "c"}},
	{"[c-a]", []string{"a", "b", "c"}},
	{"\\*", []string{}},
	{"a\\*b", []string{"a*b"}},
	{"a*b", []string{"a*b", "aXb", "a\\b", "ab"}},
	{"[x", []string{}},
	{"[[]x", []string{"[x"}},
	{"*]", []string{"]", "x]"}},
	{"[a", []string{"a"}},
	{"?", []string{"-", "A", "\\", "]", "a", "b", "c"}},
	{"[]", []string{}},
	{"[^]", []string{"-", "A", "\\", "]", "a", "b", "c"}},
	{"*a*", []string{"^a", "a", "a*b", "a?", "aXb", "a\\b", "ab", "abc", "hallo"}},
	{"a\\\\b", []string{"a\\b"}},
	{"[A-Z]", []string{"A"}},
	{"[\\-]", []string{"-"}},
	{"\\\\", []string{"\\"}},
	{"a\\", []string{}},
	{"key:[0-9]", []string{"key:1"}},
	{"key:[0-9]*", []string{"key:1", "key:22"}},
	{"key:[^0-9]", []string{"key:x"}},
	{"h?llo", []string{"hallo", "hello", "hxllo"}},
	{"h*llo", []string{"hallo", "heeeello", "hello", "hllo", "hxllo"}},
	{"h[ae]llo", []string{"hallo", "hello"}},
	{"h[^e]llo", []string{"hallo", "hxllo"}},
	{"h[a-b]llo", []string{"hallo"}},
	{"[]]", []string{}},
	{"[\\]]", []string{"]"}},
	{"*\\?", []string{"a?"}},
	{"a[", []string{}},
	{"[", []string{}},
	{"\\", []string{"\\"}},
	{"**", []string{"-", "A", "[x", "\\", "]", "^a", "a", "a*b", "a?", "aXb", "a\\b", "ab", "abc", "b", "c", "hallo", "heeeello", "hello", "hllo", "hxllo", "key:1", "key:22", "key:x", "x]"}},
	{"a**b", []string{"a*b", "aXb", "a\\b", "ab"}},
	{"[a-]", []string{"]", "a"}},
	{"[-a]", []string{"-", "a"}},
	{"h\\[ae]llo", []string{}},
	{"*[", []string{}},
	{"[*]*", []string{}},
}

func TestMatchAsRedis(t *testing.T) {
	for _, c := range globCases {
		var got []string
		for _, s := range globStrings {
			if Match([]byte(s), []byte(c.pattern)) {
				got = append(got, s)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, c.matches) && !(len(got) == 0 && len(c.matches) == 0) {
			t.Errorf("pattern %q matches %q, Redis: %q", c.pattern, got, c.matches)
		}
	}
	if Match(nil, []byte("*")) || !Match(nil, nil) || Match([]byte("a"), nil) {
		t.Error("an empty key or pattern does not match as in Redis")
	}
}

// A pattern of many stars that never matches must not take exponential
// time: patterns come from any client.
func TestMatchManyStars(t *testing.T) {
	s := bytes.Repeat([]byte("a"), 10000)
	p := append(bytes.Repeat([]byte("a*"), 30), 'b')
	start := time.Now()
	if Match(s, p) {
		t.Fatal("matched")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v", d)
	}
}
