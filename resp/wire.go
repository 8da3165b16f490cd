package resp

import (
	"fmt"
	"strconv"
	"strings"
)

// The shard protocol: the commands a coordinator sends to a shard. Every one
// names the shard it expects as its first argument, so a coordinator that
// points at the wrong process gets ErrWrongShard instead of wrong numbers:
// the shard id, or id@incarnation (see ShardName), which a shard whose data
// directory was replaced refuses too.
const (
	CmdIncr      = "SC.INCR"    // SC.INCR shard key delta coord seq lo hi -> :new-partial
	CmdIncrMulti = "SC.MINCR"   // SC.MINCR shard coord seq key delta lo hi [key delta lo hi ...] -> one :partial or error per item
	CmdGet       = "SC.GET"     // SC.GET shard key [key ...] -> array of :partial or null
	CmdSet       = "SC.SET"     // SC.SET shard key value -> +OK
	CmdDel       = "SC.DEL"     // SC.DEL shard key [key ...] -> :number-deleted
	CmdScan      = "SC.SCAN"    // SC.SCAN shard cursor count [pattern] -> [cursor, [key ...]]
	CmdFlush     = "SC.FLUSH"   // SC.FLUSH shard -> +OK
	CmdPing      = "SC.PING"    // SC.PING shard -> +PONG, once the shard's writer wrote a probe record
	CmdStats     = "SC.STATS"   // SC.STATS shard -> map of name -> integer
	CmdMembers   = "SC.MEMBERS" // SC.MEMBERS shard [ADD|SET id incarnation ...] -> [incarnation, [id, incarnation, ...]]
	CmdCover     = "SC.COVER"   // SC.COVER shard key epoch from to [key epoch from to ...] -> one :covered or error per item
	CmdEpoch     = "SC.EPOCH"   // SC.EPOCH shard key [key ...] -> one :epoch per key
)

// ShardName is how a command names the shard it is for once a coordinator
// knows the incarnation of the shard's data directory: id@incarnation. A
// shard refuses the command when either part is not its own.
func ShardName(id, incarnation string) string {
	if incarnation == "" {
		return id
	}
	return id + "@" + incarnation
}

// SplitShardName splits what ShardName made; incarnation is "" for a bare id.
func SplitShardName(name string) (id, incarnation string) {
	id, incarnation, _ = strings.Cut(name, "@")
	return id, incarnation
}

// ValidIncarnation reports whether s is an incarnation as a shard makes
// them: 16 lower-case hex digits.
func ValidIncarnation(s string) bool {
	if len(s) != 16 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9') && !('a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ValidShardID reports whether id is a usable shard id: 1..64 characters of
// [A-Za-z0-9_.-].
func ValidShardID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		ok := c == '_' || c == '.' || c == '-' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
		if !ok {
			return false
		}
	}
	return true
}

// RequestID identifies one write of one coordinator. Coord is unique per
// coordinator process start; Seq counts up within it. A shard applies each
// RequestID at most once.
type RequestID struct {
	Coord uint64
	Seq   uint64
}

func (id RequestID) String() string { return fmt.Sprintf("%016x:%d", id.Coord, id.Seq) }

// IncrCmd adds Delta to the shard's partial of Key.
//
// Delta may be the sum of several coalesced increments. Lo and Hi are the
// lowest and highest running sums of those increments in order (with 0
// included), so the shard can refuse the whole group when any one of them
// would take the partial past int64, as Redis would have refused that one.
// For a single increment, Lo = min(0, Delta) and Hi = max(0, Delta).
type IncrCmd struct {
	Shard  string
	Key    []byte
	Delta  int64
	ID     RequestID
	Lo, Hi int64
}

// SingleIncr is the IncrCmd for one increment.
func SingleIncr(shard string, key []byte, delta int64, id RequestID) IncrCmd {
	return IncrCmd{Shard: shard, Key: key, Delta: delta, ID: id, Lo: min(0, delta), Hi: max(0, delta)}
}

// Args is the command as the coordinator sends it.
func (c IncrCmd) Args() []string {
	return []string{CmdIncr, c.Shard, string(c.Key), strconv.FormatInt(c.Delta, 10),
		strconv.FormatUint(c.ID.Coord, 16), strconv.FormatUint(c.ID.Seq, 10),
		strconv.FormatInt(c.Lo, 10), strconv.FormatInt(c.Hi, 10)}
}

// ParseIncr parses SC.INCR as the shard receives it. Key aliases args.
func ParseIncr(args [][]byte) (IncrCmd, error) {
	if len(args) != 8 {
		return IncrCmd{}, fmt.Errorf("%w: %s takes shard key delta coord seq lo hi", ErrSyntax, CmdIncr)
	}
	delta, ok := ParseInt(args[3])
	if !ok {
		return IncrCmd{}, ErrNotInteger
	}
	lo, okLo := ParseInt(args[6])
	hi, okHi := ParseInt(args[7])
	if !okLo || !okHi || lo > min(0, delta) || hi < max(0, delta) {
		return IncrCmd{}, fmt.Errorf("%w: %s bounds must satisfy lo <= min(0, delta) and hi >= max(0, delta)", ErrSyntax, CmdIncr)
	}
	coord, err := strconv.ParseUint(string(args[4]), 16, 64)
	if err != nil {
		return IncrCmd{}, fmt.Errorf("%w: bad coordinator id %q", ErrSyntax, args[4])
	}
	seq, ok := ParseUint(args[5])
	if !ok {
		return IncrCmd{}, fmt.Errorf("%w: bad sequence number %q", ErrSyntax, args[5])
	}
	return IncrCmd{Shard: string(args[1]), Key: args[2], Delta: delta, ID: RequestID{coord, seq}, Lo: lo, Hi: hi}, nil
}

// IncrItem is one key's increment in an SC.MINCR; Lo and Hi as in IncrCmd.
type IncrItem struct {
	Key           []byte
	Delta, Lo, Hi int64
}

// MaxIncrItems bounds the items of one SC.MINCR.
const MaxIncrItems = 1 << 16

// IncrMultiCmd adds to several keys' partials under one request id: a
// coordinator's whole round for a shard in one command, applied in one
// WriteBatch and deduplicated as a unit. Each item is checked for overflow
// on its own; the reply has one partial, or one error, per item.
type IncrMultiCmd struct {
	Shard string
	ID    RequestID
	Items []IncrItem
}

// Args is the command as the coordinator sends it.
func (c IncrMultiCmd) Args() []string {
	out := make([]string, 0, 4+4*len(c.Items))
	out = append(out, CmdIncrMulti, c.Shard, strconv.FormatUint(c.ID.Coord, 16), strconv.FormatUint(c.ID.Seq, 10))
	for _, it := range c.Items {
		out = append(out, string(it.Key), strconv.FormatInt(it.Delta, 10), strconv.FormatInt(it.Lo, 10), strconv.FormatInt(it.Hi, 10))
	}
	return out
}

// ParseIncrMulti parses SC.MINCR as the shard receives it. Keys alias args.
func ParseIncrMulti(args [][]byte) (IncrMultiCmd, error) {
	n := (len(args) - 4) / 4
	if len(args) < 8 || (len(args)-4)%4 != 0 || n > MaxIncrItems {
		return IncrMultiCmd{}, fmt.Errorf("%w: %s takes shard coord seq and 1..%d items of key delta lo hi", ErrSyntax, CmdIncrMulti, MaxIncrItems)
	}
	coord, err := strconv.ParseUint(string(args[2]), 16, 64)
	if err != nil {
		return IncrMultiCmd{}, fmt.Errorf("%w: bad coordinator id %q", ErrSyntax, args[2])
	}
	seq, ok := ParseUint(args[3])
	if !ok {
		return IncrMultiCmd{}, fmt.Errorf("%w: bad sequence number %q", ErrSyntax, args[3])
	}
	c := IncrMultiCmd{Shard: string(args[1]), ID: RequestID{coord, seq}, Items: make([]IncrItem, n)}
	for i := range c.Items {
		a := args[4+4*i:]
		d, okD := ParseInt(a[1])
		lo, okLo := ParseInt(a[2])
		hi, okHi := ParseInt(a[3])
		if !okD || !okLo || !okHi {
			return IncrMultiCmd{}, ErrNotInteger
		}
		if lo > min(0, d) || hi < max(0, d) {
			return IncrMultiCmd{}, fmt.Errorf("%w: %s bounds must satisfy lo <= min(0, delta) and hi >= max(0, delta)", ErrSyntax, CmdIncrMulti)
		}
		c.Items[i] = IncrItem{Key: a[0], Delta: d, Lo: lo, Hi: hi}
	}
	return c, nil
}

// KeysCmd is a command that takes a shard id and one or more keys: SC.GET
// and SC.DEL.
type KeysCmd struct {
	Name  string // CmdGet, CmdDel or CmdEpoch
	Shard string
	Keys  [][]byte
}

// Args is the command as the coordinator sends it.
func (c KeysCmd) Args() []string {
	out := make([]string, 0, 2+len(c.Keys))
	out = append(out, c.Name, c.Shard)
	for _, k := range c.Keys {
		out = append(out, string(k))
	}
	return out
}

// ParseKeys parses SC.GET, SC.DEL or SC.EPOCH. Keys alias args.
func ParseKeys(args [][]byte) (KeysCmd, error) {
	if len(args) < 3 {
		return KeysCmd{}, fmt.Errorf("%w: %s takes shard key [key ...]", ErrSyntax, args[0])
	}
	return KeysCmd{Name: string(args[0]), Shard: string(args[1]), Keys: args[2:]}, nil
}

// SetCmd sets the shard's partial of Key to Value.
type SetCmd struct {
	Shard string
	Key   []byte
	Value int64
}

// Args is the command as the coordinator sends it.
func (c SetCmd) Args() []string {
	return []string{CmdSet, c.Shard, string(c.Key), strconv.FormatInt(c.Value, 10)}
}

// ParseSet parses SC.SET.
func ParseSet(args [][]byte) (SetCmd, error) {
	if len(args) != 4 {
		return SetCmd{}, fmt.Errorf("%w: %s takes shard key value", ErrSyntax, CmdSet)
	}
	v, ok := ParseInt(args[3])
	if !ok {
		return SetCmd{}, ErrNotInteger
	}
	return SetCmd{Shard: string(args[1]), Key: args[2], Value: v}, nil
}

// CoverItem sets the covered part of the shard's partial of Key to To, if
// it is From (compare-and-set) and the key has not been reset (SET, DEL,
// FLUSH) since SC.EPOCH answered Epoch for it.
type CoverItem struct {
	Key      []byte
	Epoch    int64
	From, To int64
}

// CoverCmd folds other shards' partials into the replies of the shard that
// owns the keys: it sets the covered part of each key's partial there. The
// shard answers each item with the covered part it has afterwards, which
// is To when the item took effect.
type CoverCmd struct {
	Shard string
	Items []CoverItem
}

// Args is the command as the coordinator sends it.
func (c CoverCmd) Args() []string {
	out := make([]string, 0, 2+4*len(c.Items))
	out = append(out, CmdCover, c.Shard)
	for _, it := range c.Items {
		out = append(out, string(it.Key), strconv.FormatInt(it.Epoch, 10), strconv.FormatInt(it.From, 10), strconv.FormatInt(it.To, 10))
	}
	return out
}

// ParseCover parses SC.COVER. Keys alias args.
func ParseCover(args [][]byte) (CoverCmd, error) {
	n := (len(args) - 2) / 4
	if len(args) < 6 || (len(args)-2)%4 != 0 || n > MaxIncrItems {
		return CoverCmd{}, fmt.Errorf("%w: %s takes shard and 1..%d items of key epoch from to", ErrSyntax, CmdCover, MaxIncrItems)
	}
	c := CoverCmd{Shard: string(args[1]), Items: make([]CoverItem, n)}
	for i := range c.Items {
		a := args[2+4*i:]
		epoch, ok0 := ParseInt(a[1])
		from, ok1 := ParseInt(a[2])
		to, ok2 := ParseInt(a[3])
		if !ok0 || !ok1 || !ok2 {
			return CoverCmd{}, ErrNotInteger
		}
		c.Items[i] = CoverItem{Key: a[0], Epoch: epoch, From: from, To: to}
	}
	return c, nil
}

// ScanCmd lists up to Count keys whose KeyHash is at least Cursor, in
// ascending KeyHash order, optionally only those matching Pattern (a Redis
// glob). The reply's cursor is where the next call starts; 0 means done.
type ScanCmd struct {
	Shard   string
	Cursor  uint64
	Count   int
	Pattern string
}

// Args is the command as the coordinator sends it.
func (c ScanCmd) Args() []string {
	out := []string{CmdScan, c.Shard, strconv.FormatUint(c.Cursor, 10), strconv.Itoa(c.Count)}
	if c.Pattern != "" {
		out = append(out, c.Pattern)
	}
	return out
}

// ParseScan parses SC.SCAN.
func ParseScan(args [][]byte) (ScanCmd, error) {
	if len(args) != 4 && len(args) != 5 {
		return ScanCmd{}, fmt.Errorf("%w: %s takes shard cursor count [pattern]", ErrSyntax, CmdScan)
	}
	cur, ok := ParseUint(args[2])
	if !ok {
		return ScanCmd{}, fmt.Errorf("%w: invalid cursor", ErrSyntax)
	}
	n, ok := ParseInt(args[3])
	if !ok || n < 1 || n > MaxScanCount {
		return ScanCmd{}, fmt.Errorf("%w: count must be 1..%d", ErrSyntax, MaxScanCount)
	}
	c := ScanCmd{Shard: string(args[1]), Cursor: cur, Count: int(n)}
	if len(args) == 5 {
		c.Pattern = string(args[4])
	}
	return c, nil
}

// MaxScanCount bounds the COUNT of one SC.SCAN call.
const MaxScanCount = 100000

// ShardCmd is a command that takes only the shard id: SC.FLUSH, SC.PING and
// SC.STATS.
type ShardCmd struct {
	Name  string
	Shard string
}

// Args is the command as the coordinator sends it.
func (c ShardCmd) Args() []string { return []string{c.Name, c.Shard} }

// ParseShardCmd parses SC.FLUSH, SC.PING or SC.STATS.
func ParseShardCmd(args [][]byte) (ShardCmd, error) {
	if len(args) != 2 {
		return ShardCmd{}, fmt.Errorf("%w: %s takes shard", ErrSyntax, args[0])
	}
	return ShardCmd{Name: string(args[0]), Shard: string(args[1])}, nil
}

// Member is a shard id with the incarnation of its data directory: a
// random id the shard writes when it creates the directory, so that a shard
// restarted under the same id on an empty directory is told apart from the
// one that held the partials.
type Member struct {
	ID          string
	Incarnation string
}

// The modes of SC.MEMBERS.
const (
	MembersAdd = "ADD" // record the peers the shard holds no incarnation for
	MembersSet = "SET" // overwrite: an operator accepted a replaced directory
)

// MembersCmd reads what a shard knows of its peers' data directories, the
// incarnation each had when a coordinator admitted it, and with a Mode
// records Peers first. The reply is the shard's own incarnation and every
// peer it holds.
type MembersCmd struct {
	Shard string
	Mode  string // "", MembersAdd or MembersSet
	Peers []Member
}

// Args is the command as the coordinator sends it.
func (c MembersCmd) Args() []string {
	args := []string{CmdMembers, c.Shard}
	if c.Mode == "" {
		return args
	}
	args = append(args, c.Mode)
	for _, p := range c.Peers {
		args = append(args, p.ID, p.Incarnation)
	}
	return args
}

// ParseMembers parses SC.MEMBERS.
func ParseMembers(args [][]byte) (MembersCmd, error) {
	if len(args) < 2 {
		return MembersCmd{}, fmt.Errorf("%w: %s takes shard [ADD|SET id incarnation ...]", ErrSyntax, CmdMembers)
	}
	c := MembersCmd{Shard: string(args[1])}
	if len(args) == 2 {
		return c, nil
	}
	c.Mode = strings.ToUpper(string(args[2]))
	if (c.Mode != MembersAdd && c.Mode != MembersSet) || len(args) < 5 || (len(args)-3)%2 != 0 {
		return MembersCmd{}, fmt.Errorf("%w: %s takes shard [ADD|SET id incarnation ...]", ErrSyntax, CmdMembers)
	}
	for i := 3; i < len(args); i += 2 {
		p := Member{ID: string(args[i]), Incarnation: string(args[i+1])}
		if !ValidShardID(p.ID) || !ValidIncarnation(p.Incarnation) {
			return MembersCmd{}, fmt.Errorf("%w: %q %q is not a shard id and an incarnation (16 hex digits)", ErrSyntax, p.ID, p.Incarnation)
		}
		c.Peers = append(c.Peers, p)
	}
	return c, nil
}
