package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// errUsage marks a bad command line. The problem and the usage have been
// printed already.
var errUsage = errors.New("bad command line")

// newFlagSet returns the flag set of a command. Its usage, printed to
// stderr, is synopsis, about, and the flags.
func newFlagSet(name, synopsis, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("shardcounter "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: shardcounter %s %s\n\n%s\n\nFlags:\n", name, synopsis, about)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args with fs and rejects positional arguments. It
// returns flag.ErrHelp for -h or --help, and an error wrapping errUsage for
// a bad command line; in both cases the usage has been printed.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		// The flag package has printed the problem and the usage.
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return badUsage(fs, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	return nil
}

// badUsage prints err and fs's usage, and returns err wrapped in errUsage.
func badUsage(fs *flag.FlagSet, err error) error {
	fmt.Fprintf(fs.Output(), "%s: %v\n", fs.Name(), err)
	fs.Usage()
	return fmt.Errorf("%w: %w", errUsage, err)
}

// yesNo is a boolean flag that takes a value, as Redis' options do:
// "--protected-mode no" (also yes/no, true/false, 1/0, with or without '=').
type yesNo struct{ v *bool }

func (f yesNo) String() string {
	if f.v == nil {
		return ""
	}
	if *f.v {
		return "yes"
	}
	return "no"
}

func (f yesNo) Set(s string) error {
	switch s {
	case "yes", "true", "1":
		*f.v = true
	case "no", "false", "0":
		*f.v = false
	default:
		return fmt.Errorf("want yes or no, not %q", s)
	}
	return nil
}

// The environment variables that password flags fall back on.
const (
	envRequirePass = "SHARDCOUNTER_REQUIREPASS" // --requirepass of shard, coordinator and local
	envShardPass   = "SHARDCOUNTER_SHARD_PASS"  // --shard-pass of a coordinator
	envPassword    = "SHARDCOUNTER_PASSWORD"    // --password of status and checkpoint
)

// passwordVar defines a password flag that, when not given, takes the
// value of the environment variable env: every user can read a process's
// arguments (ps, /proc/PID/cmdline), but only its owner its environment.
// The usage never shows the value.
func passwordVar(fs *flag.FlagSet, p *string, name, env, usage string) {
	*p = os.Getenv(env)
	fs.Var(secretFlag{p}, name, usage+" (default: $"+env+")")
}

// secretFlag is a string flag whose value is not printed as its default.
type secretFlag struct{ v *string }

func (f secretFlag) String() string { return "" }

func (f secretFlag) Set(s string) error {
	*f.v = s
	return nil
}
