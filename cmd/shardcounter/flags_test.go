package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseShardFlags(t *testing.T) {
	var stderr bytes.Buffer
	cfg, err := parseShardFlags([]string{"--id", "s2", "--listen", "127.0.0.1:7002", "--sync",
		"--cache-entries", "1000", "--idle-timeout", "30s"}, &stderr)
	if err != nil {
		t.Fatalf("%v; stderr: %s", err, stderr.String())
	}
	if cfg.ID != "s2" || cfg.Listen != "127.0.0.1:7002" || !cfg.Sync || cfg.CacheEntries != 1000 ||
		cfg.IdleTimeout != 30*time.Second || cfg.DataDir != filepath.Join("data", "s2") {
		t.Errorf("parsed %+v", cfg)
	}
}

func TestParseCoordinatorFlags(t *testing.T) {
	var stderr bytes.Buffer
	cfg, err := parseCoordinatorFlags([]string{"--shards", "s1=127.0.0.1:7001,s2=127.0.0.1:7002",
		"--spread", "2", "--http", "", "--write-timeout", "5s"}, &stderr)
	if err != nil {
		t.Fatalf("%v; stderr: %s", err, stderr.String())
	}
	if len(cfg.Shards) != 2 || cfg.Shards[1].ID != "s2" || cfg.Shards[1].Addr != "127.0.0.1:7002" ||
		cfg.Spread != 2 || cfg.HTTP != "" || cfg.WriteTimeout != 5*time.Second {
		t.Errorf("parsed %+v", cfg)
	}
}

func TestParseLocalFlags(t *testing.T) {
	var stderr bytes.Buffer
	cfg, err := parseLocalFlags([]string{"--shards", "5", "--data", "/tmp/x", "--requirepass", "pw"}, &stderr)
	if err != nil {
		t.Fatalf("%v; stderr: %s", err, stderr.String())
	}
	if cfg.Shards != 5 || cfg.DataDir != "/tmp/x" || cfg.Password != "pw" || cfg.Listen != "127.0.0.1:6379" {
		t.Errorf("parsed %+v", cfg)
	}
}

func TestBadFlags(t *testing.T) {
	parsers := map[string]func([]string, *bytes.Buffer) error{
		"shard": func(a []string, w *bytes.Buffer) error { _, err := parseShardFlags(a, w); return err },
		"coordinator": func(a []string, w *bytes.Buffer) error {
			_, err := parseCoordinatorFlags(a, w)
			return err
		},
		"local": func(a []string, w *bytes.Buffer) error { _, err := parseLocalFlags(a, w); return err },
	}
	cases := []struct {
		cmd  string
		args []string
		msg  string // expected in stderr
	}{
		{"shard", []string{"--id", "s1", "--nope"}, "flag provided but not defined: -nope"},
		{"shard", []string{}, "--id is required"},
		{"shard", []string{"--id", "s1", "--cache-entries", "x"}, "invalid value"},
		{"shard", []string{"--id", "s1", "--cache-entries", "67108865"}, "CacheEntries 67108865 must be in 1..67108864"},
		{"shard", []string{"--id", "s1", "--cache-entries", "0"}, "CacheEntries 0 must be in 1..67108864"},
		{"shard", []string{"--id", "s1", "extra"}, `unexpected argument "extra"`},
		{"coordinator", []string{}, "--shards is required"},
		{"coordinator", []string{"--shards", "s1"}, "want id=host:port"},
		{"coordinator", []string{"--shards", "s1=a:1", "--spread", "2"}, "Spread 2"},
		{"local", []string{"--shards", "0"}, "Shards 0"},
	}
	for _, c := range cases {
		var stderr bytes.Buffer
		err := parsers[c.cmd](c.args, &stderr)
		if !errors.Is(err, errUsage) {
			t.Errorf("%s %q: error %v, want a usage error", c.cmd, c.args, err)
		}
		if out := stderr.String(); !strings.Contains(out, c.msg) || !strings.Contains(out, "Usage: shardcounter "+c.cmd) {
			t.Errorf("%s %q: stderr lacks %q or the usage:\n%s", c.cmd, c.args, c.msg, out)
		}
	}
	for cmd, parse := range parsers {
		var stderr bytes.Buffer
		if err := parse([]string{"-h"}, &stderr); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s -h: %v, want flag.ErrHelp", cmd, err)
		}
	}
}

func TestRunExitCodes(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"help"}, 0},
		{[]string{"version"}, 0},
		{[]string{"--version"}, 0},
		{[]string{"frobnicate"}, 2},
		{[]string{"shard", "--help"}, 0},
		{[]string{"shard", "--bogus"}, 2},
		{[]string{"local", "--shards", "-1"}, 2},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), c.args, &stdout, &stderr); code != c.code {
			t.Errorf("run %q: exit %d, want %d; stderr:\n%s", c.args, code, c.code, stderr.String())
		}
	}
}

// Passwords come from the environment when their flag is not given, so
// that they stay out of the process list; a flag wins, and the usage never
// prints them.
func TestPasswordsFromTheEnvironment(t *testing.T) {
	t.Setenv(envRequirePass, "env-client-secret")
	t.Setenv(envShardPass, "env-shard-secret")
	var stderr bytes.Buffer
	cfg, err := parseCoordinatorFlags([]string{"--shards", "s1=127.0.0.1:7001"}, &stderr)
	if err != nil {
		t.Fatalf("%v; stderr: %s", err, stderr.String())
	}
	if cfg.Password != "env-client-secret" || cfg.ShardPassword != "env-shard-secret" {
		t.Errorf("from the environment: requirepass %q, shard-pass %q", cfg.Password, cfg.ShardPassword)
	}
	cfg, err = parseCoordinatorFlags([]string{"--shards", "s1=127.0.0.1:7001", "--requirepass", "flag-secret"}, &stderr)
	if err != nil || cfg.Password != "flag-secret" || cfg.ShardPassword != "env-shard-secret" {
		t.Errorf("flag over environment: %q, %q, %v", cfg.Password, cfg.ShardPassword, err)
	}
	shardCfg, err := parseShardFlags([]string{"--id", "s1", "--data", t.TempDir()}, &stderr)
	if err != nil || shardCfg.Password != "env-client-secret" {
		t.Errorf("shard requirepass from the environment: %q, %v", shardCfg.Password, err)
	}
	stderr.Reset()
	if _, err := parseCoordinatorFlags([]string{"-h"}, &stderr); err == nil {
		t.Fatal("-h parsed")
	}
	if u := stderr.String(); strings.Contains(u, "secret") || !strings.Contains(u, "$"+envShardPass) {
		t.Errorf("usage shows a password, or not where it comes from:\n%s", u)
	}
}
