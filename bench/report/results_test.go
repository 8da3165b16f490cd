package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadCPU(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cpu1.env")
	// 200,000 requests; 100 ticks a second; 150 ticks = 1.5 s in the front.
	os.WriteFile(path, []byte("n=200000\nhz=100\nfront=150\nback=60\nclient=250\n"), 0o644)
	c, err := readCPU(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.front != 7.5 || c.back != 3 || c.client != 12.5 || c.total() != 23 {
		t.Errorf("readCPU = %+v (total %v), want front 7.5, back 3, client 12.5 µs (total 23)", *c, c.total())
	}
	if c.steal != -1 {
		t.Errorf("readCPU without steal: steal %v, want -1 (not recorded)", c.steal)
	}
	os.WriteFile(path, []byte("n=200000\nhz=100\nfront=150\nback=60\nclient=250\nsteal=30\nticks=1200\n"), 0o644)
	if c, err = readCPU(path); err != nil || c.steal != 0.025 {
		t.Errorf("readCPU with 30 of 1200 ticks stolen: %+v, %v; want steal 0.025", c, err)
	}
	for _, bad := range []string{"n=0\nhz=100\nfront=1\nback=1\nclient=1\n", "n=10\nhz=100\nfront=x\nback=1\nclient=1\n", "n=10\nhz=100\n",
		"n=10\nhz=100\nfront=1\nback=1\nclient=1\nsteal=5\nticks=4\n", "n=10\nhz=100\nfront=1\nback=1\nclient=1\nsteal=5\n"} {
		os.WriteFile(path, []byte(bad), 0o644)
		if c, err := readCPU(path); err == nil {
			t.Errorf("readCPU(%q) = %+v, want an error", bad, *c)
		}
	}
}

func TestCPUTable(t *testing.T) {
	runs := []run{
		{ops: 100e3, cpu: &cpuUse{front: 9, back: 0, client: 11, steal: 0.02}},
		{ops: 90e3, cpu: &cpuUse{front: 10, back: 0, client: 12, steal: 0.31}},
		{ops: 110e3, cpu: &cpuUse{front: 8, back: 0, client: 13, steal: -1}},
	}
	res := &results{meta: map[string]string{"nproc": "2"}, cells: map[string]map[string]*cell{}}
	res.put("B", "incr1", summarize(runs))
	c := res.get("B", "incr1")
	if c.cpu == nil || c.cpu.front != 9 || c.cpu.client != 12 {
		t.Fatalf("summarize: cpu %+v, want the medians front 9, client 12", c.cpu)
	}
	var b strings.Builder
	renderCPU(&b, res)
	// 21 µs a request at 100k requests/s keeps 2.1 cores busy; the worst
	// round lost 31% of the machine's time.
	if want := "| 9.0 (redis-server) | – | 12.0 | 21.0 | 2.10 | 31% |"; !strings.Contains(b.String(), want) {
		t.Errorf("the CPU table has no row %q:\n%s", want, b.String())
	}
}
