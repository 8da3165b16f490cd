package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestSecurityFlags: the limit, protected-mode and TLS flags reach the
// configs, and bad values are usage errors.
func TestSecurityFlags(t *testing.T) {
	var stderr bytes.Buffer
	cfg, err := parseCoordinatorFlags([]string{"--shards", "s1=127.0.0.1:7001", "--maxclients", "50", "--max-bulk-bytes", "512",
		"--protected-mode", "no", "--tls-cert", "c.pem", "--tls-key", "k.pem"}, &stderr)
	if err != nil {
		t.Fatalf("%v; stderr: %s", err, stderr.String())
	}
	if cfg.MaxClients != 50 || cfg.MaxBulkBytes != 512 || cfg.ProtectedMode || cfg.TLSCert != "c.pem" || cfg.TLSKey != "k.pem" {
		t.Errorf("parsed %+v", cfg)
	}
	cfg, err = parseCoordinatorFlags([]string{"--shards", "s1=127.0.0.1:7001"}, &stderr)
	if err != nil || !cfg.ProtectedMode || cfg.MaxClients != 10000 || cfg.MaxBulkBytes != 1<<20 {
		t.Errorf("defaults: %+v, %v", cfg, err)
	}
	scfg, err := parseShardFlags([]string{"--id", "s1", "--protected-mode=false", "--maxclients", "7", "--max-bulk-bytes", "100"}, &stderr)
	if err != nil || scfg.ProtectedMode || scfg.MaxClients != 7 || scfg.MaxBulkBytes != 100 {
		t.Errorf("shard: %+v, %v", scfg, err)
	}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--shards", "s1=a:1", "--protected-mode", "maybe"}, `want yes or no, not "maybe"`},
		{[]string{"--shards", "s1=a:1", "--tls-cert", "c.pem"}, "TLSCert and TLSKey must be given together"},
		{[]string{"--shards", "s1=a:1", "--maxclients", "0"}, "MaxClients 0 must be at least 1"},
		{[]string{"--shards", "s1=a:1", "--max-bulk-bytes", "0"}, "MaxBulkBytes 0 must be at least 1"},
	} {
		stderr.Reset()
		if _, err := parseCoordinatorFlags(c.args, &stderr); !errors.Is(err, errUsage) || !strings.Contains(stderr.String(), c.msg) {
			t.Errorf("%q: %v; stderr lacks %q:\n%s", c.args, err, c.msg, stderr.String())
		}
	}
}
