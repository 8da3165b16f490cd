package shard

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/shardcounter/shardcounter/resp"
)

// do sends args and returns the reply as go-redis reads it.
func do(ctx context.Context, c *redis.Client, args ...string) (any, error) {
	anyArgs := make([]any, len(args))
	for i, a := range args {
		anyArgs[i] = a
	}
	return c.Do(ctx, anyArgs...).Result()
}

func mincr(ctx context.Context, c *redis.Client, key string, delta int64, seq uint64) (any, error) {
	return do(ctx, c, resp.IncrMultiCmd{Shard: "s1", ID: resp.RequestID{Coord: 7, Seq: seq},
		Items: []resp.IncrItem{{Key: []byte(key), Delta: delta, Lo: min(0, delta), Hi: max(0, delta)}}}.Args()...)
}

// cover sends SC.COVER for key with the epoch SC.EPOCH gives it now.
func cover(ctx context.Context, c *redis.Client, key string, from, to int64) (any, error) {
	e, err := epoch(ctx, c, key)
	if err != nil {
		return nil, err
	}
	return coverAt(ctx, c, key, e, from, to)
}

func coverAt(ctx context.Context, c *redis.Client, key string, epoch, from, to int64) (any, error) {
	return do(ctx, c, resp.CoverCmd{Shard: "s1", Items: []resp.CoverItem{{Key: []byte(key), Epoch: epoch, From: from, To: to}}}.Args()...)
}

func epoch(ctx context.Context, c *redis.Client, key string) (int64, error) {
	got, err := do(ctx, c, "SC.EPOCH", "s1", key)
	if err != nil {
		return 0, err
	}
	if e, ok := got.([]any); ok && len(e) == 1 {
		if v, ok := e[0].(int64); ok {
			return v, nil
		}
	}
	return 0, fmt.Errorf("SC.EPOCH %s: %#v", key, got)
}

func want(t *testing.T, what string, got any, err error, w any) {
	t.Helper()
	if err != nil || !reflect.DeepEqual(got, w) {
		t.Fatalf("%s: %#v, %v; want %#v", what, got, err, w)
	}
}

// wantOverflow checks a one-item reply whose item is the overflow error.
func wantOverflow(t *testing.T, what string, got any, err error) {
	t.Helper()
	items, ok := got.([]any)
	if err != nil || !ok || len(items) != 1 {
		t.Fatalf("%s: %#v, %v; want one item", what, got, err)
	}
	if e, ok := items[0].(error); !ok || !errors.Is(resp.FromReply(e.Error()), resp.ErrOverflow) {
		t.Fatalf("%s: %#v, want an overflow error", what, items[0])
	}
}

// TestCoverFoldsOthersIntoReplies checks SC.COVER: the covered part is
// set only from the value it names, comes back with every later
// increment's reply and in SC.GET, changes nothing that plain GET (the
// count, what the shard adds to the total) says, survives a restart, is
// cleared by SC.SET, and never lets the reply's basis leave int64.
func TestCoverFoldsOthersIntoReplies(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, c := startShard(t, "s1", dir)

	got, err := mincr(ctx, c, "k", 5, 1)
	want(t, "first increment", got, err, []any{int64(5)})
	got, err = cover(ctx, c, "k", 0, 7)
	want(t, "cover 0 -> 7", got, err, []any{int64(7)})
	got, err = do(ctx, c, "SC.GET", "s1", "k")
	want(t, "SC.GET after cover", got, err, []any{[]any{int64(5), int64(7)}})
	got, err = do(ctx, c, "GET", "k")
	want(t, "plain GET after cover", got, err, "5")
	got, err = mincr(ctx, c, "k", 1, 2)
	want(t, "increment after cover", got, err, []any{[]any{int64(6), int64(7)}})

	// A cover from a value the partial no longer has is not applied.
	got, err = cover(ctx, c, "k", 0, 9)
	want(t, "stale cover", got, err, []any{int64(7)})
	// Applying one twice is applying it once.
	got, err = cover(ctx, c, "k", 7, 3)
	want(t, "cover 7 -> 3", got, err, []any{int64(3)})
	got, err = cover(ctx, c, "k", 7, 3)
	want(t, "cover 7 -> 3 again", got, err, []any{int64(3)})

	// A retry of an increment gets its first reply, covered part and all.
	got, err = mincr(ctx, c, "k", 1, 2)
	want(t, "retried increment", got, err, []any{[]any{int64(6), int64(7)}})

	// A key the shard does not hold yet can be covered: the others hold
	// all of it.
	got, err = cover(ctx, c, "n", 0, 4)
	want(t, "cover a new key", got, err, []any{int64(4)})
	got, err = do(ctx, c, "SC.GET", "s1", "n", "none")
	want(t, "SC.GET of the new key", got, err, []any{[]any{int64(0), int64(4)}, nil})
	got, err = cover(ctx, c, "none", 0, 0)
	want(t, "cover of nothing by nothing", got, err, []any{int64(0)})
	got, err = do(ctx, c, "SC.GET", "s1", "none")
	want(t, "SC.GET of a key covered by nothing", got, err, []any{nil})

	// The basis (count + covered) never leaves int64: neither by a cover...
	got, err = cover(ctx, c, "k", 3, math.MaxInt64)
	wantOverflow(t, "overflowing cover", got, err)
	got, err = do(ctx, c, "SC.GET", "s1", "k")
	want(t, "after an overflowing cover", got, err, []any{[]any{int64(6), int64(3)}})
	// ...nor by an increment.
	got, err = cover(ctx, c, "k", 3, math.MaxInt64-6)
	want(t, "cover to the top", got, err, []any{int64(math.MaxInt64 - 6)})
	got, err = mincr(ctx, c, "k", 1, 3)
	wantOverflow(t, "increment past the top", got, err)

	// It survives a restart.
	c.Close()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	_, c = startShard(t, "s1", dir)
	got, err = do(ctx, c, "SC.GET", "s1", "k", "n")
	want(t, "SC.GET after a restart", got, err, []any{[]any{int64(6), int64(math.MaxInt64 - 6)}, []any{int64(0), int64(4)}})

	// SC.SET resets the counter: nothing is covered any more.
	got, err = do(ctx, c, "SC.SET", "s1", "n", "3")
	want(t, "SC.SET", got, err, "OK")
	got, err = do(ctx, c, "SC.GET", "s1", "n")
	want(t, "SC.GET after SC.SET", got, err, []any{int64(3)})

	// Bad input is refused whole.
	for _, args := range [][]string{
		{"SC.COVER", "s1", "k", "1", "0"},
		{"SC.COVER", "s1", "k", "1", "x", "1"},
		{"SC.COVER", "s1", "k", "x", "0", "1"},
		{"SC.COVER", "s1", "k", "1", "0", "1", "j"},
		{"SC.COVER", "s2", "k", "1", "0", "1"},
		{"SC.EPOCH", "s1"},
		{"SC.EPOCH", "s2", "k"},
	} {
		if got, err := do(ctx, c, args...); err == nil {
			t.Errorf("%q: %#v, want an error", args, got)
		}
	}
}

// A cover made from a read older than a reset of its key (SET, DEL or
// FLUSH) is refused, although the reset set covered back to the value the
// cover expects: otherwise the owner would cover partials that are gone.
func TestCoverAfterAResetIsRefused(t *testing.T) {
	ctx := context.Background()
	_, c := startShard(t, "s1", t.TempDir())
	for _, reset := range [][]string{
		{"SC.DEL", "s1", "k"},
		{"SC.SET", "s1", "k", "4"},
		{"SC.FLUSH", "s1"},
	} {
		got, err := mincr(ctx, c, "k", 1, uint64(len(reset)))
		if err != nil {
			t.Fatal(err)
		}
		e, err := epoch(ctx, c, "k")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := do(ctx, c, reset...); err != nil {
			t.Fatal(err)
		}
		got, err = coverAt(ctx, c, "k", e, 0, 5)
		want(t, fmt.Sprintf("cover after %s", reset[0]), got, err, []any{int64(0)})
		got, err = do(ctx, c, "SC.GET", "s1", "k")
		if err != nil {
			t.Fatal(err)
		}
		if items := got.([]any); len(items) != 1 || reflect.DeepEqual(items[0], []any{int64(0), int64(5)}) || reflect.DeepEqual(items[0], []any{int64(4), int64(5)}) {
			t.Fatalf("after %s and a stale cover: %#v", reset[0], got)
		}
		// A cover with the epoch as it is now applies.
		e, err = epoch(ctx, c, "k")
		if err != nil {
			t.Fatal(err)
		}
		got, err = coverAt(ctx, c, "k", e, 0, 5)
		want(t, fmt.Sprintf("cover with the new epoch after %s", reset[0]), got, err, []any{int64(5)})
		if _, err := do(ctx, c, "SC.DEL", "s1", "k"); err != nil {
			t.Fatal(err)
		}
	}
	// An increment is not a reset: a cover from before it applies.
	e, err := epoch(ctx, c, "j")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mincr(ctx, c, "j", 2, 10); err != nil {
		t.Fatal(err)
	}
	got, err := coverAt(ctx, c, "j", e, 0, 3)
	want(t, "cover across an increment", got, err, []any{int64(3)})
}
