package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// run is one measured run: throughput and latency percentiles.
type run struct {
	ops      float64 // ops/s (transactions/s for pgbench)
	p50, p99 float64 // ms
	cpu      *cpuUse // nil where it was not measured
}

// cpuUse is the CPU time (user + system) one run took per request, in µs:
// in the process the clients talk to (the front: a coordinator, nutcracker,
// or Redis itself), in the processes behind it (the back: the shards, or
// the Redis servers behind nutcracker), and in the benchmark client.
type cpuUse struct {
	front, back, client float64
	// steal is the share of the machine's CPU time, 0 to 1, that the
	// hypervisor gave to something else during the run; -1 where it was
	// not recorded.
	steal float64
}

func (c cpuUse) total() float64 { return c.front + c.back + c.client }

// cell is every run of one system on one workload, and their medians.
type cell struct {
	runs          []run
	ops, p50, p99 float64 // medians
	spread        float64 // (max-min)/median of ops, 0 with one run
	cpu           *cpuUse // medians of the runs that have it
}

func (c *cell) ok() bool { return c != nil && len(c.runs) > 0 }

// check is the value check of one system in one round: the INCRs of the
// one key that redis-benchmark sent and got answers for, and the value GET
// returned afterwards.
type check struct {
	round         string
	expected, got string
	matches       bool
}

type results struct {
	meta    map[string]string
	cells   map[string]map[string]*cell // system -> workload -> cell
	checks  map[string][]check          // system -> rounds
	errors  map[string][]string         // system -> error lines
	skipped map[string]string           // system -> why
}

// readCSV reads the first data row of a redis-benchmark --csv output.
func readCSV(path string) (run, error) {
	f, err := os.Open(path)
	if err != nil {
		return run{}, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return run{}, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) < 2 {
		return run{}, fmt.Errorf("%s: no data row", path)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	get := func(name string) (float64, error) {
		i, ok := col[name]
		if !ok || i >= len(rows[1]) {
			return 0, fmt.Errorf("%s: no column %q (redis-benchmark 7 or later prints it)", path, name)
		}
		return strconv.ParseFloat(rows[1][i], 64)
	}
	var r run
	if r.ops, err = get("rps"); err != nil {
		return r, err
	}
	if r.p50, err = get("p50_latency_ms"); err != nil {
		return r, err
	}
	if r.p99, err = get("p99_latency_ms"); err != nil {
		return r, err
	}
	return r, nil
}

// readCPU reads the cpu<round>.env that bench/run.sh wrote next to a
// measured run: n requests, hz clock ticks a second, and the ticks of the
// front, the back and the client.
func readCPU(path string) (*cpuUse, error) {
	kv, err := readEnv(path)
	if err != nil {
		return nil, err
	}
	num := map[string]float64{}
	for _, k := range []string{"n", "hz", "front", "back", "client"} {
		v, err := strconv.ParseFloat(kv[k], 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %q is not a number", path, k, kv[k])
		}
		num[k] = v
	}
	if num["n"] <= 0 || num["hz"] <= 0 {
		return nil, fmt.Errorf("%s: n and hz must be positive", path)
	}
	us := func(ticks float64) float64 { return ticks / num["hz"] * 1e6 / num["n"] }
	c := &cpuUse{front: us(num["front"]), back: us(num["back"]), client: us(num["client"]), steal: -1}
	// steal and ticks (the machine's stolen and total CPU time during the
	// run) are in the files of runs since they were recorded.
	if _, ok := kv["steal"]; ok {
		steal, err1 := strconv.ParseFloat(kv["steal"], 64)
		ticks, err2 := strconv.ParseFloat(kv["ticks"], 64)
		if err1 != nil || err2 != nil || steal < 0 || ticks <= 0 || steal > ticks {
			return nil, fmt.Errorf("%s: steal %q and ticks %q must be numbers, 0 <= steal <= ticks", path, kv["steal"], kv["ticks"])
		}
		c.steal = steal / ticks
	}
	return c, nil
}

var tpsRE = regexp.MustCompile(`(?m)^tps = ([0-9.]+)`)

// readPgbench reads one pgbench run: tps from its output, latency
// percentiles from its per-transaction logs (-l: the third field is the
// latency in microseconds).
func readPgbench(dir string) (run, error) {
	out, err := os.ReadFile(filepath.Join(dir, "out.txt"))
	if err != nil {
		return run{}, err
	}
	m := tpsRE.FindSubmatch(out)
	if m == nil {
		return run{}, fmt.Errorf("%s/out.txt: no tps line", dir)
	}
	var r run
	r.ops, _ = strconv.ParseFloat(string(m[1]), 64)
	logs, _ := filepath.Glob(filepath.Join(dir, "txlog.*"))
	var lat []float64
	for _, l := range logs {
		f, err := os.Open(l)
		if err != nil {
			return r, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 3 {
				continue
			}
			if us, err := strconv.ParseFloat(fields[2], 64); err == nil {
				lat = append(lat, us/1000)
			}
		}
		f.Close()
	}
	if len(lat) == 0 {
		return r, fmt.Errorf("%s: no transaction logs", dir)
	}
	slices.Sort(lat)
	r.p50 = percentile(lat, 0.50)
	r.p99 = percentile(lat, 0.99)
	return r, nil
}

// percentile of sorted xs, nearest rank.
func percentile(xs []float64, p float64) float64 {
	i := int(float64(len(xs))*p+0.999999) - 1
	return xs[max(0, min(i, len(xs)-1))]
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func summarize(runs []run) *cell {
	c := &cell{runs: runs}
	if len(runs) == 0 {
		return c
	}
	var ops, p50, p99 []float64
	for _, r := range runs {
		ops = append(ops, r.ops)
		p50 = append(p50, r.p50)
		p99 = append(p99, r.p99)
	}
	c.ops, c.p50, c.p99 = median(ops), median(p50), median(p99)
	if len(runs) > 1 && c.ops > 0 {
		c.spread = (slices.Max(ops) - slices.Min(ops)) / c.ops
	}
	var front, back, client, steal []float64
	for _, r := range runs {
		if r.cpu != nil {
			front, back, client = append(front, r.cpu.front), append(back, r.cpu.back), append(client, r.cpu.client)
			if r.cpu.steal >= 0 {
				steal = append(steal, r.cpu.steal)
			}
		}
	}
	if len(front) > 0 {
		c.cpu = &cpuUse{front: median(front), back: median(back), client: median(client), steal: -1}
		if len(steal) > 0 {
			c.cpu.steal = slices.Max(steal)
		}
	}
	return c
}

func readEnv(path string) (map[string]string, error) {
	kv := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok {
			kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return kv, sc.Err()
}

func readLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// load reads the results directory that bench/run.sh wrote:
//
//	meta.env
//	<sys>/<workload>/rep<round>.csv   redis-benchmark --csv, measured runs
//	<sys>/<workload>/cpu<round>.env   the CPU time of that run (readCPU)
//	<sys>/check                       "<round> <expected> <got>" lines
//	<sys>/errors                      failed runs
//	PG-<variant>/rep<round>/          pgbench out.txt and txlog.*
//	PG.skipped                        why PostgreSQL did not run
func load(dir string) (*results, error) {
	meta, err := readEnv(filepath.Join(dir, "meta.env"))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	res := &results{
		meta:    meta,
		cells:   map[string]map[string]*cell{},
		checks:  map[string][]check{},
		errors:  map[string][]string{},
		skipped: map[string]string{},
	}
	for _, sys := range redisSystems {
		for _, wl := range workloads {
			files, _ := filepath.Glob(filepath.Join(dir, sys, wl.id, "rep*.csv"))
			var runs []run
			for _, f := range files {
				r, err := readCSV(f)
				if err != nil {
					res.errors[sys] = append(res.errors[sys], err.Error())
					continue
				}
				round := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "rep"), ".csv")
				if r.cpu, err = readCPU(filepath.Join(filepath.Dir(f), "cpu"+round+".env")); err != nil && !errors.Is(err, os.ErrNotExist) {
					res.errors[sys] = append(res.errors[sys], err.Error())
				}
				runs = append(runs, r)
			}
			if len(runs) > 0 {
				res.put(sys, wl.id, summarize(runs))
			}
		}
		for _, l := range readLines(filepath.Join(dir, sys, "check")) {
			f := strings.SplitN(l, " ", 3)
			for len(f) < 3 {
				f = append(f, "")
			}
			res.checks[sys] = append(res.checks[sys], check{round: f[0], expected: f[1], got: f[2], matches: f[1] == f[2]})
		}
		res.errors[sys] = append(res.errors[sys], readLines(filepath.Join(dir, sys, "errors"))...)
	}
	for _, sys := range pgSystems {
		reps, _ := filepath.Glob(filepath.Join(dir, sys, "rep*"))
		var runs []run
		for _, d := range reps {
			r, err := readPgbench(d)
			if err != nil {
				res.errors[sys] = append(res.errors[sys], err.Error())
				continue
			}
			runs = append(runs, r)
		}
		if len(runs) > 0 {
			res.put(sys, "incr1", summarize(runs))
		}
		res.errors[sys] = append(res.errors[sys], readLines(filepath.Join(dir, sys+".errors"))...)
	}
	if why := readLines(filepath.Join(dir, "PG.skipped")); len(why) > 0 {
		for _, sys := range pgSystems {
			res.skipped[sys] = strings.Join(why, " ")
		}
	}
	return res, nil
}

func (r *results) put(sys, wl string, c *cell) {
	if r.cells[sys] == nil {
		r.cells[sys] = map[string]*cell{}
	}
	r.cells[sys][wl] = c
}

func (r *results) get(sys, wl string) *cell {
	if c := r.cells[sys][wl]; c.ok() {
		return c
	}
	return nil
}
