package shard

import (
	"math/rand/v2"
	"testing"

	"github.com/tidwall/match"
)

// globMatch answers as tidwall/match, which SC.SCAN used before, on every
// pattern small enough for that one to finish.
func TestGlobMatchAgreesWithMatch(t *testing.T) {
	for _, c := range []struct {
		key, pattern string
		want         bool
	}{
		{"", "", true},
		{"", "*", true},
		{"a", "", false},
		{"user:1:name", "user:*:name", true},
		{"user:1:names", "user:*:name", false},
		{"a*b", `a\*b`, true},
		{"axb", `a\*b`, false},
		{"ab", `ab\`, false},
		{"héllo", "h?llo", true},
		{"aaa", "*a*a*a*", true},
		{"aa", "*a*a*a*", false},
	} {
		if got := globMatch(c.key, c.pattern); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", c.key, c.pattern, got, c.want)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	pick := func(alphabet []string, n int) string {
		s := ""
		for range rng.IntN(n + 1) {
			s += alphabet[rng.IntN(len(alphabet))]
		}
		return s
	}
	for range 200_000 {
		key := pick([]string{"a", "b", "*", "é"}, 8)
		pattern := pick([]string{"a", "b", "*", "?", `\`, "é"}, 7)
		if got, want := globMatch(key, pattern), match.Match(key, pattern); got != want {
			t.Fatalf("globMatch(%q, %q) = %v, tidwall/match says %v", key, pattern, got, want)
		}
	}
}
