package resp

import "github.com/cespare/xxhash/v2"

// KeyHash is the 64-bit hash that orders keys for SCAN: shards store and list
// their keys in KeyHash order, and a SCAN cursor is a KeyHash position. That
// gives every shard the same order, so a coordinator can merge their lists
// and hand out plain numeric cursors without keeping state.
func KeyHash(key []byte) uint64 { return xxhash.Sum64(key) }
