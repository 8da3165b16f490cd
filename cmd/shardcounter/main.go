// Command shardcounter runs the parts of a shardcounter cluster: a shard, a
// coordinator, or a whole cluster in one process (local).
//
// Each subcommand lives in its own file: it parses its flags into its
// package's Config, starts the server, and shuts it down gracefully on
// SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/shardcounter/shardcounter/coordinator"
)

// shutdownTimeout bounds a graceful shutdown.
const shutdownTimeout = 10 * time.Second

const usage = `shardcounter is a Redis-protocol compatible, distributed sharded counter.

Usage:
  shardcounter <command> [flags]

Commands:
  shard        run one shard: a RESP server keeping its partials in RocksDB
  coordinator  run a coordinator: the RESP and HTTP front end to the shards
  local        run a whole cluster in this process: N shards and a coordinator
  status       print a coordinator's shards (exit 1 when one is down)
  checkpoint   ask a running shard for a RocksDB checkpoint (a backup)
  version      print the version
  help         print this list

Run 'shardcounter <command> -h' for the flags of a command.
`

func main() {
	if len(os.Args) > 1 && servesUntilStopped(os.Args[1]) {
		if err := reexecServerEnv(); err != nil {
			fmt.Fprintf(os.Stderr, "shardcounter: running on without GODEBUG=%s and %s: %v\n", quietSysmon, strings.Join(mallocEnv, " "), err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, a second one ends the process at once.
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command named by args[0] until ctx is done, and returns the
// exit code: 0, 1 when the command failed, 2 for a bad command line.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	var err error
	switch args[0] {
	case "shard":
		err = runShard(ctx, args[1:], stderr, log)
	case "coordinator":
		err = runCoordinator(ctx, args[1:], stderr, log)
	case "local":
		err = runLocal(ctx, args[1:], stdout, stderr, log)
	case "status":
		err = runStatus(ctx, args[1:], stdout, stderr)
	case "checkpoint":
		err = runCheckpoint(ctx, args[1:], stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "shardcounter", coordinator.Version)
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "shardcounter: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(stderr, "shardcounter: %v\n", err)
		return 1
	}
}

// servesUntilStopped reports whether command runs a server (see serverenv.go).
func servesUntilStopped(command string) bool {
	switch command {
	case "shard", "coordinator", "local":
		return true
	}
	return false
}

// server is what a command runs.
type server interface {
	Start() error
	Shutdown(ctx context.Context) error
}

// serve starts srv, calls started (if not nil), waits until ctx is done,
// and shuts srv down within shutdownTimeout. If Start fails, srv is shut
// down as well, to release what it opened.
func serve(ctx context.Context, srv server, log *slog.Logger, started func()) error {
	log.Info("shardcounter starting", "version", coordinator.Version)
	if err := srv.Start(); err != nil {
		return errors.Join(err, shutdown(srv))
	}
	if started != nil {
		started()
	}
	<-ctx.Done()
	log.Info("shutting down", "timeout", shutdownTimeout.String())
	return shutdown(srv)
}

func shutdown(srv server) error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	return srv.Shutdown(ctx)
}
