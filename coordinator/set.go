package coordinator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/shardcounter/shardcounter/resp"
)

// allShards runs f on every shard in parallel and returns their errors,
// joined. It fails at once, naming the shard, if any shard is down: a reset
// that missed a shard would leave its stale partial in the total.
func (s *Server) allShards(f func(sc *shardConn) error) error {
	_, err := s.resetStep(func(sc *shardConn) (bool, error) { return false, f(sc) })
	return err
}

// resetStep runs one step of a reset (SET, DEL, FLUSH) on every shard, as
// allShards does. f reports whether its shard took its part or may have:
// touched is whether any shard did.
func (s *Server) resetStep(f func(sc *shardConn) (touched bool, err error)) (touched bool, err error) {
	for _, sc := range s.shards {
		if !sc.up.Load() {
			return false, sc.unavailable()
		}
	}
	errs := make([]error, len(s.shards))
	touches := make([]bool, len(s.shards))
	var wg sync.WaitGroup
	for i, sc := range s.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			touches[i], errs[i] = f(sc)
		}()
	}
	wg.Wait()
	for _, t := range touches {
		touched = touched || t
	}
	return touched, errors.Join(errs...)
}

// tookPart is whether a reset command that returned err may have changed
// its shard: it did, or it was sent and no answer came, or the shard's write
// failed. A refusal (an error reply) or a send that never left changed
// nothing.
func tookPart(err error) bool {
	return err == nil || errors.Is(err, resp.ErrAmbiguous) ||
		(errors.Is(err, resp.ErrShardUnavailable) && !notSent(err))
}

// resetFailed is the reply to a SET, DEL or FLUSH that failed with err.
// When some shard took its part, or may have (touched), the counters may
// now be neither as they were nor as asked, so the error must not read as
// "nothing happened": it is ErrAmbiguous. Each of these commands may be
// repeated to finish the reset.
func resetFailed(cmd string, touched bool, err error) resp.Reply {
	if touched {
		err = fmt.Errorf("%w: %s may have reset some shards and not others; repeat it: %v", resp.ErrAmbiguous, cmd, err)
	}
	return resp.Err(err)
}

// set answers SET key value: the counter becomes value, held by its owner
// shard; every other shard's partial is deleted. Only integer values and no
// options: a counter has no expiry. Not atomic against concurrent
// increments of the same counter (see docs/ARCHITECTURE.md).
func (s *Server) set(_ *resp.Session, args [][]byte) resp.Reply {
	if len(args) > 3 {
		return resp.ErrText("ERR SET options (" + strings.ToUpper(string(args[3])) + ") are not supported: counters have no expiry or conditions")
	}
	v, ok := resp.ParseInt(args[2])
	if !ok {
		return resp.Err(resp.ErrNotInteger)
	}
	key := args[1]
	var target *shardConn
	for _, i := range s.ring.Prefs(key) {
		if s.shards[i].up.Load() {
			target = s.shards[i]
			break
		}
	}
	if target == nil {
		// Every shard was down a moment ago; nothing was changed.
		return resp.Err(s.shards[s.ring.Owner(key)].unavailable())
	}
	touched, err := s.resetStep(func(sc *shardConn) (bool, error) {
		if sc == target {
			return false, nil
		}
		_, err := sc.do(s.ctx, resp.KeysCmd{Name: resp.CmdDel, Shard: sc.name(), Keys: [][]byte{key}}.Args())
		return tookPart(err), err
	})
	if err == nil {
		_, err = target.do(s.ctx, resp.SetCmd{Shard: target.name(), Key: key, Value: v}.Args())
		touched = touched || tookPart(err)
	}
	s.router.split.Remove(string(key))
	if err != nil {
		return resetFailed("SET", touched, err)
	}
	if target.idx != s.ring.Owner(key) {
		s.router.splitState(key).set(target.idx, v)
	} else {
		s.router.ownerSeen.put(key, v)
	}
	return resp.OK
}

// del answers DEL and UNLINK: the number of keys that existed on any shard.
func (s *Server) del(_ *resp.Session, args [][]byte) resp.Reply {
	keys := args[1:]
	// Find which keys exist, so a key held by two shards counts once.
	found := make([]bool, len(keys))
	var mu sync.Mutex
	err := s.allShards(func(sc *shardConn) error {
		_, here, err := sc.partials(s.ctx, keys)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for i, f := range here {
			found[i] = found[i] || f
		}
		return nil
	})
	touched := false
	if err == nil {
		touched, err = s.resetStep(func(sc *shardConn) (bool, error) {
			here := false
			for _, chunk := range keyChunks(keys, sc.cmdBytes) {
				_, err := sc.do(s.ctx, resp.KeysCmd{Name: resp.CmdDel, Shard: sc.name(), Keys: chunk}.Args())
				here = here || tookPart(err)
				if err != nil {
					return here, err
				}
			}
			return here, nil
		})
	}
	for _, k := range keys {
		s.router.split.Remove(string(k))
	}
	if err != nil {
		return resetFailed(strings.ToUpper(string(args[0])), touched, err)
	}
	// A key named twice is deleted once, as in Redis.
	var n int64
	counted := make(map[string]bool, len(keys))
	for i, f := range found {
		if f && !counted[string(keys[i])] {
			counted[string(keys[i])] = true
			n++
		}
	}
	return resp.Int(n)
}

// flush answers FLUSHALL and FLUSHDB [ASYNC|SYNC]: every shard deletes every
// counter.
func (s *Server) flush(_ *resp.Session, args [][]byte) resp.Reply {
	if len(args) > 2 {
		return resp.Err(resp.ErrSyntax)
	}
	if len(args) == 2 {
		if m := strings.ToLower(string(args[1])); m != "async" && m != "sync" {
			return resp.Err(resp.ErrSyntax)
		}
	}
	touched, err := s.resetStep(func(sc *shardConn) (bool, error) {
		_, err := sc.do(context.Background(), resp.ShardCmd{Name: resp.CmdFlush, Shard: sc.name()}.Args())
		return tookPart(err), err
	})
	s.router.split.Purge()
	if err != nil {
		return resetFailed(strings.ToUpper(string(args[0])), touched, err)
	}
	return resp.OK
}
