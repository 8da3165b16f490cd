package shard

import (
	"testing"
	"time"
)

// The trimmer gives the C heap's free pages back on every tick and stops
// when told to; the shard counts its trims in INFO memory.
func TestTrimmer(t *testing.T) {
	var tr trimmer
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		tr.run(time.Millisecond, stop)
		close(done)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for tr.trims.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d trims in 5s at one a millisecond", tr.trims.Load())
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the trimmer did not stop")
	}
}
