package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/shardcounter/shardcounter/coordinator"
	"github.com/shardcounter/shardcounter/shard"
)

// The systemd units in deploy/systemd run this binary: check that their
// command lines parse with the example environment files, and lint them
// with systemd-analyze verify where it is available.

const deployDir = "../../deploy/systemd"

var units = []struct {
	file, env, instance string
}{
	{"shardcounter-shard@.service", "shard.env.example", "s1"},
	{"shardcounter-coordinator.service", "coordinator.env.example", ""},
}

// readEnvFile reads KEY=VALUE lines as systemd's EnvironmentFile does
// (without its quoting, which the examples do not use).
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: malformed line %q", path, line)
		}
		env[k] = v
	}
	return env
}

// execStart returns the unit's ExecStart, split into words as systemd
// does: %i is the instance, ${VAR} is one word, $VAR splits on spaces.
func execStart(t *testing.T, unit string, env map[string]string, instance string) []string {
	t.Helper()
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "ExecStart="); ok {
			line = v
		}
	}
	if line == "" {
		t.Fatalf("%s has no ExecStart", unit)
	}
	line = strings.ReplaceAll(line, "%i", instance)
	var words []string
	whole := regexp.MustCompile(`^\$\{(\w+)\}$`)
	split := regexp.MustCompile(`^\$(\w+)$`)
	for _, w := range strings.Fields(line) {
		switch {
		case whole.MatchString(w):
			name := whole.FindStringSubmatch(w)[1]
			v, ok := env[name]
			if !ok {
				t.Fatalf("%s uses ${%s}, which the example env file lacks", unit, name)
			}
			words = append(words, v)
		case split.MatchString(w):
			name := split.FindStringSubmatch(w)[1]
			v, ok := env[name]
			if !ok {
				t.Fatalf("%s uses $%s, which the example env file lacks", unit, name)
			}
			words = append(words, strings.Fields(v)...)
		case strings.Contains(w, "$"):
			t.Fatalf("%s: variable inside a word (%q) is not supported by this check", unit, w)
		default:
			words = append(words, w)
		}
	}
	return words
}

// The example env files give the passwords as environment variables, which
// systemd passes to the process, and none on the command line.
func TestSystemdUnitsParse(t *testing.T) {
	for _, u := range units {
		env := readEnvFile(t, filepath.Join(deployDir, u.env))
		for _, k := range []string{envRequirePass, envShardPass} {
			t.Setenv(k, env[k])
		}
		args := execStart(t, filepath.Join(deployDir, u.file), env, u.instance)
		if len(args) < 2 || args[0] != "/usr/local/bin/shardcounter" {
			t.Fatalf("%s: ExecStart %q", u.file, args)
		}
		if line := strings.Join(args, " "); strings.Contains(line, "secret") {
			t.Errorf("%s: a password on the command line: %q", u.file, line)
		}
		var stderr bytes.Buffer
		var err error
		var passwords []string
		switch args[1] {
		case "shard":
			var cfg shard.Config
			cfg, err = parseShardFlags(args[2:], &stderr)
			passwords = []string{cfg.Password}
		case "coordinator":
			var cfg coordinator.Config
			cfg, err = parseCoordinatorFlags(args[2:], &stderr)
			passwords = []string{cfg.Password, cfg.ShardPassword}
		default:
			t.Fatalf("%s runs %q", u.file, args[1])
		}
		if err != nil {
			t.Errorf("%s: %q does not parse: %v\n%s", u.file, args, err, stderr.String())
		}
		for _, p := range passwords {
			if !strings.HasPrefix(p, "change-me-") {
				t.Errorf("%s with %s: a password is %q, not the example's", u.file, u.env, p)
			}
		}
	}
}

func TestSystemdUnitsVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed: unit lint skipped")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// verify checks that ExecStart's program exists: point it at this test
	// binary instead of /usr/local/bin/shardcounter.
	dir := t.TempDir()
	var paths []string
	for _, u := range units {
		b, err := os.ReadFile(filepath.Join(deployDir, u.file))
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte("/usr/local/bin/shardcounter"), []byte(self))
		p := filepath.Join(dir, u.file)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		if u.instance != "" {
			inst := filepath.Join(dir, strings.Replace(u.file, "@", "@"+u.instance, 1))
			if err := os.Symlink(p, inst); err != nil {
				t.Fatal(err)
			}
			paths = append(paths, inst)
		}
	}
	cmd := exec.Command(analyze, append([]string{"verify"}, paths...)...)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_COLOR=0")
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
