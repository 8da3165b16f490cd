package coordinator

import (
	"bytes"
	"strconv"
	"strings"
	"sync"

	"github.com/shardcounter/shardcounter/resp"
)

// scanStep lists the keys of every shard from KeyHash position cursor on.
// Each shard answers in KeyHash order and says where it stopped; the merged
// page ends where the shard that got least far stopped, so no key is missed
// and the cursor stays a plain number (see resp.KeyHash). next is 0 at the
// end.
func (s *Server) scanStep(cursor uint64, count int, pattern string) (keys [][]byte, next uint64, err error) {
	var mu sync.Mutex
	var pages [][][]byte
	limit := uint64(0) // 0: every shard reached the end
	err = s.allShards(func(sc *shardConn) error {
		msg, err := sc.do(s.ctx, resp.ScanCmd{Shard: sc.name(), Cursor: cursor, Count: count, Pattern: pattern}.Args())
		if err != nil {
			return err
		}
		parts, err := msg.ToArray()
		if err != nil || len(parts) != 2 {
			return sc.badReply("SC.SCAN", err)
		}
		curStr, err := parts[0].ToString()
		if err != nil {
			return sc.badReply("SC.SCAN cursor", err)
		}
		n, err := strconv.ParseUint(curStr, 10, 64)
		if err != nil {
			return sc.badReply("SC.SCAN cursor", err)
		}
		list, err := parts[1].ToArray()
		if err != nil {
			return sc.badReply("SC.SCAN keys", err)
		}
		page := make([][]byte, 0, len(list))
		for _, m := range list {
			k, err := m.ToString()
			if err != nil {
				return sc.badReply("SC.SCAN key", err)
			}
			page = append(page, []byte(k))
		}
		mu.Lock()
		defer mu.Unlock()
		pages = append(pages, page)
		if n != 0 && (limit == 0 || n < limit) {
			limit = n
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	seen := map[string]bool{}
	for _, page := range pages {
		for _, k := range page {
			if seen[string(k)] || (limit != 0 && resp.KeyHash(k) >= limit) {
				continue
			}
			seen[string(k)] = true
			keys = append(keys, k)
		}
	}
	return keys, limit, nil
}

// scan answers SCAN cursor [MATCH pattern] [COUNT count] [TYPE type].
func (s *Server) scan(_ *resp.Session, args [][]byte) resp.Reply {
	cursor, ok := parseCursor(args[1])
	if !ok {
		return resp.ErrText("ERR invalid cursor")
	}
	count, pattern, typ := 10, "", ""
	emptyMatch := false
	for i := 2; i < len(args); i += 2 {
		if i+1 >= len(args) {
			return resp.Err(resp.ErrSyntax)
		}
		switch strings.ToLower(string(args[i])) {
		case "match":
			pattern = string(args[i+1])
			emptyMatch = pattern == ""
		case "count":
			n, ok := resp.ParseInt(args[i+1])
			if !ok {
				return resp.Err(resp.ErrNotInteger)
			}
			if n < 1 {
				return resp.Err(resp.ErrSyntax)
			}
			count = int(min(n, resp.MaxScanCount))
		case "type":
			typ = strings.ToLower(string(args[i+1]))
		default:
			return resp.Err(resp.ErrSyntax)
		}
	}
	keys, next, err := s.scanStep(cursor, count, pattern)
	if err != nil {
		return resp.Err(err)
	}
	if typ != "" && typ != "string" {
		keys = nil // every counter is a string
	}
	if emptyMatch {
		keys = onlyEmptyKey(keys)
	}
	return resp.ReplyFunc(func(w resp.Writer) {
		w.WriteArray(2)
		w.WriteBulkString(strconv.FormatUint(next, 10))
		w.WriteArray(len(keys))
		for _, k := range keys {
			w.WriteBulk(k)
		}
	})
}

// allKeys walks the whole keyspace. It costs a pass over every shard's keys.
func (s *Server) allKeys(pattern string, each func(key []byte)) error {
	seen := map[string]bool{}
	var cursor uint64
	for {
		keys, next, err := s.scanStep(cursor, 1000, pattern)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if !seen[string(k)] {
				seen[string(k)] = true
				each(k)
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// onlyEmptyKey keeps the empty key of keys: what an empty MATCH pattern
// matches in Redis. To the shards an empty pattern means none, so the
// coordinator filters.
func onlyEmptyKey(keys [][]byte) [][]byte {
	for _, k := range keys {
		if len(k) == 0 {
			return [][]byte{k}
		}
	}
	return nil
}

// keys answers KEYS pattern. Like Redis' KEYS, it walks every key: use SCAN
// on big keyspaces.
func (s *Server) keys(_ *resp.Session, args [][]byte) resp.Reply {
	var keys [][]byte
	if err := s.allKeys(string(args[1]), func(k []byte) { keys = append(keys, k) }); err != nil {
		return resp.Err(err)
	}
	if len(args[1]) == 0 {
		keys = onlyEmptyKey(keys)
	}
	return resp.ReplyFunc(func(w resp.Writer) {
		w.WriteArray(len(keys))
		for _, k := range keys {
			w.WriteBulk(k)
		}
	})
}

// dbsize answers DBSIZE with the number of distinct counters. Unlike Redis
// it is O(keys): a counter may have partials on several shards, so the
// shards' own counts cannot just be added.
func (s *Server) dbsize(_ *resp.Session, args [][]byte) resp.Reply {
	var n int64
	if err := s.allKeys("", func([]byte) { n++ }); err != nil {
		return resp.Err(err)
	}
	return resp.Int(n)
}

// parseCursor reads a SCAN cursor as Redis does (strtoul, base 10): an
// optional sign, digits, nothing else; no leading space; a negative one
// wraps ("-1" is 2^64-1); an empty one is 0. Over 2^64-1 it is refused.
func parseCursor(b []byte) (uint64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if len(b) > 0 && (neg || b[0] == '+') {
		b = b[1:]
		if len(b) == 0 {
			return 0, false // a sign alone: strtoul reads nothing
		}
	}
	digits := bytes.TrimLeft(b, "0")
	if len(digits) == 0 {
		return 0, true
	}
	n, ok := resp.ParseUint(digits)
	if neg {
		n = -n
	}
	return n, ok
}
