package resp

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/tidwall/redcon"
)

// wire encodes args as a RESP array and parses it back as a server would.
func wire(t *testing.T, args []string) [][]byte {
	t.Helper()
	var b []byte
	b = redcon.AppendArray(b, len(args))
	for _, a := range args {
		b = redcon.AppendBulkString(b, a)
	}
	cmd, err := redcon.Parse(b)
	if err != nil {
		t.Fatalf("parse %q: %v", b, err)
	}
	return cmd.Args
}

func TestIncrRoundTrip(t *testing.T) {
	for _, c := range []IncrCmd{
		SingleIncr("s1", []byte("likes"), 5, RequestID{0xdeadbeef, 1}),
		SingleIncr("s2", []byte("bin\x00\r\nkey"), math.MinInt64, RequestID{math.MaxUint64, math.MaxUint64}),
		SingleIncr("s3", []byte{}, math.MaxInt64, RequestID{}),
		{Shard: "s4", Key: []byte("k"), Delta: 2, Lo: -3, Hi: 7},
	} {
		got, err := ParseIncr(wire(t, c.Args()))
		if err != nil {
			t.Fatal(err)
		}
		if got.Shard != c.Shard || !bytes.Equal(got.Key, c.Key) || got.Delta != c.Delta || got.ID != c.ID || got.Lo != c.Lo || got.Hi != c.Hi {
			t.Errorf("round trip: %+v -> %+v", c, got)
		}
	}
	if _, err := ParseIncr(wire(t, []string{CmdIncr, "s1", "k", "1.5", "1", "1", "0", "2"})); !errors.Is(err, ErrNotInteger) {
		t.Errorf("bad delta: %v", err)
	}
	if _, err := ParseIncr(wire(t, []string{CmdIncr, "s1", "k"})); !errors.Is(err, ErrSyntax) {
		t.Errorf("short: %v", err)
	}
	// Bounds that do not contain the delta are refused.
	if _, err := ParseIncr(wire(t, []string{CmdIncr, "s1", "k", "5", "1", "1", "0", "4"})); !errors.Is(err, ErrSyntax) {
		t.Errorf("hi below delta: %v", err)
	}
}

func TestKeysSetScanRoundTrip(t *testing.T) {
	kc := KeysCmd{Name: CmdGet, Shard: "s1", Keys: [][]byte{[]byte("a"), []byte("b")}}
	gotK, err := ParseKeys(wire(t, kc.Args()))
	if err != nil || !reflect.DeepEqual(gotK, kc) {
		t.Errorf("keys: %+v %v", gotK, err)
	}
	sc := SetCmd{Shard: "s1", Key: []byte("k"), Value: -7}
	gotS, err := ParseSet(wire(t, sc.Args()))
	if err != nil || !reflect.DeepEqual(gotS, sc) {
		t.Errorf("set: %+v %v", gotS, err)
	}
	for _, c := range []ScanCmd{{Shard: "s1", Cursor: 0, Count: 10}, {Shard: "s2", Cursor: math.MaxUint64, Count: 1, Pattern: "user:*"}} {
		got, err := ParseScan(wire(t, c.Args()))
		if err != nil || got != c {
			t.Errorf("scan: %+v -> %+v %v", c, got, err)
		}
	}
	if _, err := ParseScan(wire(t, []string{CmdScan, "s1", "0", "0"})); err == nil {
		t.Error("count 0 accepted")
	}
	shc := ShardCmd{Name: CmdPing, Shard: "s9"}
	if got, err := ParseShardCmd(wire(t, shc.Args())); err != nil || got != shc {
		t.Errorf("shard cmd: %+v %v", got, err)
	}
}

func TestIncrMultiRoundTrip(t *testing.T) {
	c := IncrMultiCmd{Shard: "s2", ID: RequestID{0xabc, 42}, Items: []IncrItem{
		{Key: []byte("a"), Delta: 3, Lo: 0, Hi: 5},
		{Key: []byte("b\x00"), Delta: math.MinInt64, Lo: math.MinInt64, Hi: 0},
	}}
	got, err := ParseIncrMulti(wire(t, c.Args()))
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("round trip: %+v -> %+v %v", c, got, err)
	}
	for _, bad := range [][]string{
		{CmdIncrMulti, "s1", "1", "1"},
		{CmdIncrMulti, "s1", "1", "1", "k", "1", "0"},
		{CmdIncrMulti, "s1", "1", "1", "k", "x", "0", "1"},
		{CmdIncrMulti, "s1", "1", "1", "k", "5", "0", "4"},
		{CmdIncrMulti, "s1", "zz", "1", "k", "1", "0", "1"},
	} {
		if _, err := ParseIncrMulti(wire(t, bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestMembersRoundTrip(t *testing.T) {
	for _, c := range []MembersCmd{
		{Shard: "s1"},
		{Shard: "s1@00ff00ff00ff00ff", Mode: MembersAdd, Peers: []Member{{"s2", "0123456789abcdef"}}},
		{Shard: "s3", Mode: MembersSet, Peers: []Member{{"s1", "0000000000000000"}, {"s2", "ffffffffffffffff"}}},
	} {
		got, err := ParseMembers(wire(t, c.Args()))
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Errorf("round trip: %+v -> %+v, %v", c, got, err)
		}
	}
	for _, bad := range [][]string{
		{CmdMembers},
		{CmdMembers, "s1", "ADD"},
		{CmdMembers, "s1", "ADD", "s2"},
		{CmdMembers, "s1", "PUT", "s2", "0123456789abcdef"},
		{CmdMembers, "s1", "ADD", "s 2", "0123456789abcdef"},
		{CmdMembers, "s1", "ADD", "s2", "0123456789ABCDEF"},
		{CmdMembers, "s1", "ADD", "s2", "0123"},
	} {
		if _, err := ParseMembers(wire(t, bad)); !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: %v, want a syntax error", bad, err)
		}
	}
	if got := ShardName("s1", ""); got != "s1" {
		t.Errorf("ShardName without incarnation: %q", got)
	}
	if id, inc := SplitShardName(ShardName("s1", "0123456789abcdef")); id != "s1" || inc != "0123456789abcdef" {
		t.Errorf("SplitShardName: %q %q", id, inc)
	}
}
