package integration

import (
	"strings"
	"testing"
)

// TestHelpAndBadFlags: every subcommand has --help (exit 0); a bad command
// line gives a clear message on stderr and exit code 2.
func TestHelpAndBadFlags(t *testing.T) {
	for _, sub := range []string{"shard", "coordinator", "local"} {
		for _, h := range []string{"--help", "-h"} {
			code, stdout, stderr := runBin(t, sub, h)
			out := stdout + stderr
			if code != 0 {
				t.Errorf("shardcounter %s %s: exit %d, want 0\n%s", sub, h, code, out)
			}
			if !strings.Contains(out, "Usage") || !strings.Contains(out, "-listen") {
				t.Errorf("shardcounter %s %s does not print its usage and flags:\n%s", sub, h, out)
			}
			// Defaults bind to loopback.
			if strings.Contains(out, "0.0.0.0") || !strings.Contains(out, "127.0.0.1") {
				t.Errorf("shardcounter %s %s: defaults should bind to 127.0.0.1:\n%s", sub, h, out)
			}
		}
	}
	if code, stdout, stderr := runBin(t, "--help"); code != 0 || !strings.Contains(stdout+stderr, "coordinator") {
		t.Errorf("shardcounter --help: exit %d\n%s%s", code, stdout, stderr)
	}

	for _, tc := range []struct {
		args []string
		want string // in stderr
	}{
		{[]string{"shard", "--bogus"}, "bogus"},
		{[]string{"coordinator", "--bogus"}, "bogus"},
		{[]string{"local", "--bogus"}, "bogus"},
		{[]string{"shard"}, "--id"},
		{[]string{"coordinator", "--listen", "127.0.0.1:0"}, "--shards"},
		{[]string{"coordinator", "--shards", "s1"}, "s1"},
		{[]string{"coordinator", "--shards", "s1=127.0.0.1:1,s1=127.0.0.1:2"}, "s1"},
		{[]string{"coordinator", "--shards", "s1=127.0.0.1:1", "--spread", "2"}, "pread"},
		{[]string{"local", "--shards", "0"}, "hards"},
		{[]string{"shard", "--id", "s1", "extra"}, "extra"},
		{[]string{"nosuchcommand"}, "nosuchcommand"},
		{nil, "Usage"},
	} {
		code, stdout, stderr := runBin(t, tc.args...)
		if code != 2 {
			t.Errorf("shardcounter %v: exit %d, want 2\nstdout: %s\nstderr: %s", tc.args, code, stdout, stderr)
		}
		if !strings.Contains(stderr, tc.want) {
			t.Errorf("shardcounter %v: stderr does not mention %q:\n%s", tc.args, tc.want, stderr)
		}
	}
}
