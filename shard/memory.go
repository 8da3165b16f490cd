package shard

import (
	"bytes"
	"os"
	"runtime/metrics"
	"strconv"
)

// rssBytes is the process's resident set size, from /proc/self/statm (0
// where there is none).
func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(string(f[1]), 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}

// goMemoryBytes is the memory the Go runtime holds from the operating
// system and has not given back: its heap (the partial cache included),
// stacks and own structures. The rest of the RSS is RocksDB's and the C
// allocator's.
func goMemoryBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64() - s[1].Value.Uint64()
}
