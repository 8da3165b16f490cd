package coordinator

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/shardcounter/shardcounter/resp"
)

// allShards runs f on every shard in parallel and returns the first error.
// It fails at once, naming the shard, if any shard is down: a reset that
// missed a shard would leave its stale partial in the total.
func (s *Server) allShards(f func(sc *shardConn) error) error {
	for _, sc := range s.shards {
		if !sc.up.Load() {
			return sc.unavailable()
		}
	}
	errs := make([]error, len(s.shards))
	var wg sync.WaitGroup
	for i, sc := range s.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(sc)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
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
	err := s.allShards(func(sc *shardConn) error {
		if sc == target {
			return nil
		}
		_, err := sc.do(s.ctx, resp.KeysCmd{Name: resp.CmdDel, Shard: sc.name(), Keys: [][]byte{key}}.Args())
		return err
	})
	if err == nil {
		_, err = target.do(s.ctx, resp.SetCmd{Shard: target.name(), Key: key, Value: v}.Args())
	}
	s.router.split.Remove(string(key))
	if err != nil {
		return resp.Err(err)
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
	if err == nil {
		err = s.allShards(func(sc *shardConn) error {
			for _, chunk := range keyChunks(keys, sc.cmdBytes) {
				if _, err := sc.do(s.ctx, resp.KeysCmd{Name: resp.CmdDel, Shard: sc.name(), Keys: chunk}.Args()); err != nil {
					return err
				}
			}
			return nil
		})
	}
	for _, k := range keys {
		s.router.split.Remove(string(k))
	}
	if err != nil {
		return resp.Err(err)
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
	err := s.allShards(func(sc *shardConn) error {
		_, err := sc.do(context.Background(), resp.ShardCmd{Name: resp.CmdFlush, Shard: sc.name()}.Args())
		return err
	})
	s.router.split.Purge()
	if err != nil {
		return resp.Err(err)
	}
	return resp.OK
}
