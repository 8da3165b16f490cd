// Package ring maps counter keys to shards with a consistent-hash ring with
// bounded loads (github.com/buraksezer/consistent), keyed by stable shard ids.
//
// A Ring is immutable and safe for concurrent use. Lookups do not allocate:
// the preference list of every partition is computed once, in New.
package ring

import (
	"errors"
	"fmt"

	"github.com/buraksezer/consistent"
	"github.com/cespare/xxhash/v2"
)

// Config tunes the ring. The zero value is not valid; start from
// DefaultConfig.
type Config struct {
	// PartitionCount is the number of partitions keys hash into. More
	// partitions spread keys more evenly. Default 7919 (a prime).
	PartitionCount int
	// ReplicationFactor is the number of virtual points per shard on the
	// ring. Default 64.
	ReplicationFactor int
	// Load is the bounded-load factor: no shard owns more than Load times
	// the average number of partitions. Default 1.05.
	Load float64
}

// DefaultConfig returns the defaults described at Config.
func DefaultConfig() Config {
	return Config{PartitionCount: 7919, ReplicationFactor: 64, Load: 1.05}
}

// Validate reports the first field that is out of range.
func (c Config) Validate() error {
	if c.PartitionCount < 1 || c.PartitionCount > 1<<20 {
		return fmt.Errorf("ring: PartitionCount %d must be in 1..%d", c.PartitionCount, 1<<20)
	}
	if c.ReplicationFactor < 1 || c.ReplicationFactor > 1024 {
		return fmt.Errorf("ring: ReplicationFactor %d must be in 1..1024", c.ReplicationFactor)
	}
	if c.Load <= 1 {
		return fmt.Errorf("ring: Load %v must be greater than 1", c.Load)
	}
	return nil
}

type member string

func (m member) String() string { return string(m) }

type hasher struct{}

func (hasher) Sum64(b []byte) uint64 { return xxhash.Sum64(b) }

// Ring is an immutable assignment of keys to shards.
type Ring struct {
	ids   []string
	index map[string]int
	c     *consistent.Consistent
	// prefs[p] lists every shard index for partition p, owner first, then
	// the shards that take its writes when the ones before are down.
	prefs [][]int
}

// New builds a ring over the shard ids. Ids must be unique and non-empty.
func New(ids []string, cfg Config) (*Ring, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, errors.New("ring: no shards")
	}
	r := &Ring{ids: append([]string(nil), ids...), index: make(map[string]int, len(ids))}
	members := make([]consistent.Member, len(ids))
	for i, id := range ids {
		if id == "" {
			return nil, errors.New("ring: empty shard id")
		}
		if _, dup := r.index[id]; dup {
			return nil, fmt.Errorf("ring: shard id %q appears twice", id)
		}
		r.index[id] = i
		members[i] = member(id)
	}
	r.c = consistent.New(members, consistent.Config{
		Hasher:            hasher{},
		PartitionCount:    cfg.PartitionCount,
		ReplicationFactor: cfg.ReplicationFactor,
		Load:              cfg.Load,
	})
	r.prefs = make([][]int, cfg.PartitionCount)
	for p := range r.prefs {
		ms, err := r.c.GetClosestNForPartition(p, len(ids))
		if err != nil {
			return nil, fmt.Errorf("ring: partition %d: %w", p, err)
		}
		pref := make([]int, len(ms))
		for i, m := range ms {
			pref[i] = r.index[m.String()]
		}
		r.prefs[p] = pref
	}
	return r, nil
}

// Len is the number of shards.
func (r *Ring) Len() int { return len(r.ids) }

// IDs returns the shard ids in the order given to New. Do not modify it.
func (r *Ring) IDs() []string { return r.ids }

// Index returns the position of shard id, or -1.
func (r *Ring) Index(id string) int {
	if i, ok := r.index[id]; ok {
		return i
	}
	return -1
}

// Prefs returns every shard index for key, the owner first: a counter with
// spread n writes to one of the first n; when those are down, to the next.
// The slice is shared: do not modify it.
func (r *Ring) Prefs(key []byte) []int {
	return r.prefs[r.c.FindPartitionID(key)]
}

// Owner returns the index of the shard that owns key.
func (r *Ring) Owner(key []byte) int { return r.Prefs(key)[0] }
