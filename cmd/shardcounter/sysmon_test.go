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
