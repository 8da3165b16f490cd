package shard

import (
	"runtime"
	"testing"
	"time"
)

// The trimmer gives the C heap's free pages back on every tick, where the
// C library can, counts what it did for INFO memory, and stops when told
// to.
func TestTrimmer(t *testing.T) {
	can := trimCHeap()
	if runtime.GOOS == "linux" && !can {
		t.Error("no malloc_trim on Linux: the weak symbol did not resolve to glibc's")
	}
	var tr trimmer
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		tr.run(time.Millisecond, stop)
		close(done)
	}()
	deadline := time.Now().Add(5 * time.Second)
	if can {
		for tr.trims.Load() < 3 {
			if time.Now().After(deadline) {
				t.Fatalf("%d trims in 5s at one a millisecond", tr.trims.Load())
			}
			time.Sleep(time.Millisecond)
		}
	} else {
		time.Sleep(20 * time.Millisecond)
		if n := tr.trims.Load(); n != 0 {
			t.Errorf("%d trims counted where none can be done", n)
		}
	}
	close(stop)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the trimmer did not stop")
	}
}
