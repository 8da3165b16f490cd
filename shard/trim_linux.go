package shard

// #include <stddef.h>
// // glibc has malloc_trim; a C library without it leaves this NULL.
// extern int malloc_trim(size_t pad) __attribute__((weak));
// static int trim_heap(void) { if (!malloc_trim) return 0; malloc_trim(0); return 1; }
import "C"

// trimCHeap gives every free page of the C heap back to the operating
// system, where the C library can (glibc's malloc_trim). It reports
// whether it could.
func trimCHeap() bool { return C.trim_heap() == 1 }
