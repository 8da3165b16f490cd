package shard

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/shardcounter/shardcounter/resp"
)

// CmdCheckpoint is the admin command that writes a RocksDB checkpoint of
// the shard: SC.CHECKPOINT shard dir -> +OK.
//
// A checkpoint is a consistent, openable copy of the database as of one
// moment, with every acknowledged write before it. It is made on the
// shard's own machine: SST files are hard-linked when dir is on the same
// filesystem as the data directory (so it is fast and takes little space at
// first) and copied otherwise. To restore, stop the shard and start it with
// --data pointing at the checkpoint (or a copy of it): the shard id is part
// of the checkpoint.
const CmdCheckpoint = "SC.CHECKPOINT"

// CheckpointCmd asks a shard for a checkpoint in Dir, an absolute path on
// the shard's machine that does not exist yet.
type CheckpointCmd struct {
	Shard string
	Dir   string
}

// Args is the command as a client (shardcounter checkpoint) sends it.
func (c CheckpointCmd) Args() []string { return []string{CmdCheckpoint, c.Shard, c.Dir} }

// ParseCheckpoint parses SC.CHECKPOINT as the shard receives it.
func ParseCheckpoint(args [][]byte) (CheckpointCmd, error) {
	if len(args) != 3 {
		return CheckpointCmd{}, fmt.Errorf("%w: %s takes shard dir", resp.ErrSyntax, CmdCheckpoint)
	}
	c := CheckpointCmd{Shard: string(args[1]), Dir: string(args[2])}
	if !filepath.IsAbs(c.Dir) {
		return CheckpointCmd{}, fmt.Errorf("%w: checkpoint directory %q must be an absolute path", resp.ErrSyntax, c.Dir)
	}
	return c, nil
}

// scCheckpoint: SC.CHECKPOINT shard dir -> +OK once the checkpoint is
// complete in dir.
func (s *Server) scCheckpoint(_ *resp.Session, args [][]byte) resp.Reply {
	c, err := ParseCheckpoint(args)
	if err != nil {
		return resp.Err(err)
	}
	if err := s.checkShard(c.Shard); err != nil {
		return resp.Err(err)
	}
	if err := s.Checkpoint(c.Dir); err != nil {
		return resp.ErrText("ERR " + strings.NewReplacer("\r", " ", "\n", " ").Replace(err.Error()))
	}
	return resp.OK
}

// Checkpoint writes a RocksDB checkpoint of the shard into dir, which must
// not exist yet; its parent directories are created. It may run while the
// shard serves: the checkpoint holds every write acknowledged before it
// started (RocksDB flushes the memtable first).
func (s *Server) Checkpoint(dir string) error {
	dir = filepath.Clean(dir)
	if _, err := os.Lstat(dir); err == nil {
		return fmt.Errorf("checkpoint: %s already exists: choose a new directory", dir)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o750); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		return fmt.Errorf("checkpoint: %w", resp.ErrShuttingDown)
	}
	if err := s.st.checkpoint(dir); err != nil {
		return fmt.Errorf("checkpoint into %s: %w", dir, err)
	}
	s.log.Info("checkpoint written", "dir", dir)
	return nil
}
