package shard

// #include <stddef.h>
// // glibc has malloc_trim; a C library without it leaves this NULL.
// extern int malloc_trim(size_t pad) __attribute__((weak));
// static void trim_heap(void) { if (malloc_trim) malloc_trim(0); }
import "C"

// trimCHeap gives every free page of the C heap back to the operating
// system, where the C library can (glibc's malloc_trim).
func trimCHeap() { C.trim_heap() }
