package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardcounter/shardcounter/shard"
)

// runCheckpoint runs `shardcounter checkpoint`: it asks a running shard
// for a RocksDB checkpoint (SC.CHECKPOINT) in a directory on the shard's
// machine.
func runCheckpoint(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var addr, id, dir, password string
	var timeout time.Duration
	fs := newFlagSet("checkpoint", "--shard host:port --dir DIR [flags]",
		"Asks a running shard to write a RocksDB checkpoint of its database into DIR, an\n"+
			"absolute path on the shard's machine that does not exist yet. The checkpoint is\n"+
			"consistent and holds every write acknowledged before it; on the same filesystem\n"+
			"as the data directory it hard-links the data files. To restore, stop the shard\n"+
			"and start it with --data DIR (or a copy of it).", stderr)
	fs.StringVar(&addr, "shard", "127.0.0.1:7001", "the shard's RESP `address`")
	fs.StringVar(&dir, "dir", "", "checkpoint `directory` on the shard's machine: absolute, must not exist (required)")
	fs.StringVar(&id, "id", "", "the shard's `id`; default: what the shard reports")
	passwordVar(fs, &password, "password", envPassword, "the shard's `password` (its --requirepass)")
	fs.DurationVar(&timeout, "timeout", time.Minute, "give up after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if dir == "" {
		return badUsage(fs, errors.New("--dir is required"))
	}
	if !filepath.IsAbs(dir) {
		return badUsage(fs, fmt.Errorf("--dir %q must be an absolute path (on the shard's machine)", dir))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: addr, Password: password, MaxRetries: -1,
		DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout, DisableIdentity: true})
	defer c.Close()
	if id == "" {
		info, err := c.Info(ctx, "server").Result()
		if err != nil {
			return fmt.Errorf("shard %s: %w", addr, err)
		}
		if id = infoField(info, "shard_id"); id == "" {
			return fmt.Errorf("shard %s: INFO has no shard_id: is this a shardcounter shard?", addr)
		}
	}
	args = shard.CheckpointCmd{Shard: id, Dir: dir}.Args()
	cmd := make([]any, len(args))
	for i, a := range args {
		cmd[i] = a
	}
	if err := c.Do(ctx, cmd...).Err(); err != nil {
		return fmt.Errorf("shard %s at %s: %w", id, addr, err)
	}
	fmt.Fprintf(stdout, "checkpoint of shard %s written to %s on the shard's machine\n", id, dir)
	return nil
}

// infoField returns the value of "name:value" in an INFO reply, or "".
func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), name+":"); ok {
			return v
		}
	}
	return ""
}
