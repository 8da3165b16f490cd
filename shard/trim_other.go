//go:build !linux

package shard

// trimCHeap does nothing where there is no glibc.
func trimCHeap() bool { return false }
