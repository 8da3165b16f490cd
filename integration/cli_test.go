package integration

import (
	"fmt"
	"os"
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

// TestServersQuietSysmon: a server command runs with GODEBUG's schedtrace
// set, which keeps the Go runtime's monitor thread out of its deep sleep,
// and with glibc's malloc held to two arenas (cmd/shardcounter/serverenv.go);
// it keeps the other GODEBUG settings, and a GODEBUG that names schedtrace
// or a malloc setting of the operator's is left as it is.
func TestServersQuietSysmon(t *testing.T) {
	getenv := func(p *proc, name string) string {
		t.Helper()
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p.cmd.Process.Pid))
		if err != nil {
			t.Fatalf("read the environment of %s: %v", p.name, err)
		}
		for _, kv := range strings.Split(string(b), "\x00") {
			if v, ok := strings.CutPrefix(kv, name+"="); ok {
				return v
			}
		}
		return ""
	}
	t.Setenv("GODEBUG", "madvdontneed=1")
	addr := freeAddr(t)
	p := startProc(t, "shard", "shard", "--id", "s1", "--listen", addr, "--data", t.TempDir())
	waitReady(t, p, addr)
	if got, want := getenv(p, "GODEBUG"), "madvdontneed=1,schedtrace=2147483647"; got != want {
		t.Errorf("shard runs with GODEBUG=%q, want %q", got, want)
	}
	if got := getenv(p, "MALLOC_ARENA_MAX"); got != "2" {
		t.Errorf("shard runs with MALLOC_ARENA_MAX=%q, want 2", got)
	}

	t.Setenv("GODEBUG", "schedtrace=0")
	t.Setenv("MALLOC_ARENA_MAX", "4")
	addr = freeAddr(t)
	p = startProc(t, "shard2", "shard", "--id", "s2", "--listen", addr, "--data", t.TempDir())
	waitReady(t, p, addr)
	if got := getenv(p, "GODEBUG"); got != "schedtrace=0" {
		t.Errorf("shard started with GODEBUG=schedtrace=0 runs with GODEBUG=%q", got)
	}
	if got := getenv(p, "MALLOC_ARENA_MAX"); got != "4" {
		t.Errorf("shard started with MALLOC_ARENA_MAX=4 runs with MALLOC_ARENA_MAX=%q", got)
	}
	if got := getenv(p, "MALLOC_MMAP_THRESHOLD_"); got != "131072" {
		t.Errorf("shard runs with MALLOC_MMAP_THRESHOLD_=%q, want 131072", got)
	}
}
