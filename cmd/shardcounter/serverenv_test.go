package main

import (
	"slices"
	"testing"
)

func TestQuietSysmonEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		want []string // nil: left as it is
	}{
		{"no GODEBUG", []string{"PATH=/bin"}, []string{"PATH=/bin", "GODEBUG=" + quietSysmon}},
		{"empty GODEBUG", []string{"GODEBUG=", "HOME=/"}, []string{"GODEBUG=" + quietSysmon, "HOME=/"}},
		{"other settings kept", []string{"GODEBUG=gctrace=1,madvdontneed=1"}, []string{"GODEBUG=gctrace=1,madvdontneed=1," + quietSysmon}},
		{"a key that only ends in schedtrace", []string{"GODEBUG=xschedtrace=1"}, []string{"GODEBUG=xschedtrace=1," + quietSysmon}},
		{"only the first GODEBUG counts", []string{"GODEBUG=gctrace=1", "GODEBUG=schedtrace=0"}, []string{"GODEBUG=gctrace=1," + quietSysmon, "GODEBUG=schedtrace=0"}},
		{"turned off", []string{"GODEBUG=schedtrace=0"}, nil},
		{"already set", []string{"A=1", "GODEBUG=gctrace=1," + quietSysmon}, nil},
	} {
		checkEnv(t, "quietSysmonEnv", quietSysmonEnv, tc.name, tc.env, tc.want)
	}
}

// checkEnv checks f(env) against want (nil: env left as it is), and that f
// did not change env itself.
func checkEnv(t *testing.T, fname string, f func([]string) ([]string, bool), name string, env, want []string) {
	t.Helper()
	in := slices.Clone(env)
	got, changed := f(in)
	if !slices.Equal(in, env) {
		t.Errorf("%s: %s changed its argument to %q", name, fname, in)
	}
	if want == nil {
		want = env
		if changed {
			t.Errorf("%s: %s(%q) reports a change", name, fname, env)
		}
	} else if !changed {
		t.Errorf("%s: %s(%q) reports no change", name, fname, env)
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: %s(%q) = %q, want %q", name, fname, env, got, want)
	}
}

func TestServerEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		want []string // nil: left as it is
	}{
		{"nothing set", []string{"PATH=/bin"},
			[]string{"PATH=/bin", "GODEBUG=" + quietSysmon, "MALLOC_ARENA_MAX=2", "MALLOC_MMAP_THRESHOLD_=131072"}},
		{"an operator's arena count is kept", []string{"MALLOC_ARENA_MAX=8"},
			[]string{"MALLOC_ARENA_MAX=8", "GODEBUG=" + quietSysmon, "MALLOC_MMAP_THRESHOLD_=131072"}},
		{"sysmon turned off, malloc still set", []string{"GODEBUG=schedtrace=0"},
			[]string{"GODEBUG=schedtrace=0", "MALLOC_ARENA_MAX=2", "MALLOC_MMAP_THRESHOLD_=131072"}},
		{"a name that only starts the same", []string{"MALLOC_ARENA_MAX_X=1", "GODEBUG=" + quietSysmon, "MALLOC_MMAP_THRESHOLD_=1"},
			[]string{"MALLOC_ARENA_MAX_X=1", "GODEBUG=" + quietSysmon, "MALLOC_MMAP_THRESHOLD_=1", "MALLOC_ARENA_MAX=2"}},
		{"all set", []string{"GODEBUG=" + quietSysmon, "MALLOC_ARENA_MAX=4", "MALLOC_MMAP_THRESHOLD_=65536"}, nil},
	} {
		checkEnv(t, "serverEnv", serverEnv, tc.name, tc.env, tc.want)
	}
	// After the re-execution nothing changes: no second one.
	once, _ := serverEnv([]string{"PATH=/bin"})
	if again, changed := serverEnv(once); changed || !slices.Equal(again, once) {
		t.Errorf("serverEnv of its own result = %q, %v", again, changed)
	}
}
