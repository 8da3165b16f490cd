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
		got, changed := quietSysmonEnv(tc.env)
		if tc.want == nil {
			if changed || !slices.Equal(got, tc.env) {
				t.Errorf("%s: quietSysmonEnv(%q) = %q, %v; want it left as it is", tc.name, tc.env, got, changed)
			}
			continue
		}
		if !changed || !slices.Equal(got, tc.want) {
			t.Errorf("%s: quietSysmonEnv(%q) = %q, %v; want %q, true", tc.name, tc.env, got, changed, tc.want)
		}
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
		in := slices.Clone(tc.env)
		got, changed := serverEnv(in)
		if !slices.Equal(in, tc.env) {
			t.Errorf("%s: serverEnv changed its argument to %q", tc.name, in)
		}
		if tc.want == nil {
			if changed || !slices.Equal(got, tc.env) {
				t.Errorf("%s: serverEnv(%q) = %q, %v; want it left as it is", tc.name, tc.env, got, changed)
			}
			continue
		}
		if !changed || !slices.Equal(got, tc.want) {
			t.Errorf("%s: serverEnv(%q) = %q, %v; want %q, true", tc.name, tc.env, got, changed, tc.want)
		}
	}
	// After the re-execution nothing changes: no second one.
	once, _ := serverEnv([]string{"PATH=/bin"})
	if again, changed := serverEnv(once); changed || !slices.Equal(again, once) {
		t.Errorf("serverEnv of its own result = %q, %v", again, changed)
	}
}
