package ring

import (
	"fmt"
	"math"
	"testing"
)

func TestEvenSpread(t *testing.T) {
	r, err := New([]string{"s1", "s2", "s3"}, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	const n = 100000
	counts := make([]int, r.Len())
	for i := 0; i < n; i++ {
		counts[r.Owner([]byte(fmt.Sprintf("key:%d", i)))]++
	}
	even := float64(n) / float64(r.Len())
	for i, c := range counts {
		if dev := math.Abs(float64(c)-even) / even; dev > 0.10 {
			t.Errorf("shard %s holds %d keys, %.1f%% off even (limit 10%%)", r.IDs()[i], c, dev*100)
		}
	}
	t.Logf("100k keys over 3 shards: %v", counts)
}

func TestPrefsAreStableAndComplete(t *testing.T) {
	ids := []string{"a", "b", "c", "d", "e"}
	r1, _ := New(ids, DefaultConfig())
	r2, _ := New(ids, DefaultConfig())
	for i := 0; i < 1000; i++ {
		k := []byte(fmt.Sprint(i))
		p1, p2 := r1.Prefs(k), r2.Prefs(k)
		if fmt.Sprint(p1) != fmt.Sprint(p2) {
			t.Fatalf("key %s: two rings over the same ids disagree: %v vs %v", k, p1, p2)
		}
		seen := map[int]bool{}
		for _, s := range p1 {
			seen[s] = true
		}
		if len(seen) != len(ids) {
			t.Fatalf("key %s: prefs %v do not list every shard once", k, p1)
		}
	}
}

func TestGrowingMovesFewKeys(t *testing.T) {
	r3, _ := New([]string{"s1", "s2", "s3"}, DefaultConfig())
	r7, _ := New([]string{"s1", "s2", "s3", "s4", "s5", "s6", "s7"}, DefaultConfig())
	moved := 0
	const n = 20000
	for i := 0; i < n; i++ {
		k := []byte(fmt.Sprint("k", i))
		if r3.IDs()[r3.Owner(k)] != r7.IDs()[r7.Owner(k)] {
			moved++
		}
	}
	// Ideal is 4/7 of the keys; a naive modulo would move about 6/7.
	if frac := float64(moved) / n; frac > 0.75 {
		t.Errorf("growing 3->7 shards moved %.0f%% of keys", frac*100)
	}
}

func TestBadInput(t *testing.T) {
	if _, err := New(nil, DefaultConfig()); err == nil {
		t.Error("no shards accepted")
	}
	if _, err := New([]string{"a", "a"}, DefaultConfig()); err == nil {
		t.Error("duplicate ids accepted")
	}
	if _, err := New([]string{"a"}, Config{PartitionCount: 0, ReplicationFactor: 1, Load: 1.2}); err == nil {
		t.Error("zero partitions accepted")
	}
}

func BenchmarkPrefs(b *testing.B) {
	r, _ := New([]string{"s1", "s2", "s3"}, DefaultConfig())
	k := []byte("global_likes")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = r.Prefs(k)
	}
}
