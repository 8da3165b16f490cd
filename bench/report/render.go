package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

var sysNames = map[string]string{
	"A":        "A shardcounter (3 shards + coordinator)",
	"B":        "B Redis, no persistence",
	"C":        "C Redis, AOF fsync always",
	"D":        "D twemproxy (ketama) + 3 Redis",
	"E":        "E shardcounter --sync",
	"PG-sync":  "PostgreSQL, one row UPDATE (fsync)",
	"PG-async": "PostgreSQL, one row UPDATE (async commit)",
}

var (
	redisSystems = []string{"A", "B", "C", "D", "E"}
	pgSystems    = []string{"PG-sync", "PG-async"}
)

type workload struct{ id, name string }

var workloads = []workload{
	{"incr1", "INCR one key, no pipeline"},
	{"incr1_p16", "INCR one key, -P 16"},
	{"incrR_p16", "INCR random keys, -P 16"},
	{"get", "GET one key, no pipeline"},
}

func workloadName(id string) string {
	for _, w := range workloads {
		if w.id == id {
			return w.name
		}
	}
	return id
}

// target is one of issue 3's targets: num's ops/s ≥ factor × den's, or,
// for p99, num's p99 ≤ factor × den's.
type target struct {
	wl, num, den string
	factor       float64
	p99          bool
}

var targets = []target{
	{wl: "incr1", num: "A", den: "B", factor: 0.95},
	{wl: "incr1_p16", num: "A", den: "D", factor: 1.2},
	{wl: "incr1_p16", num: "A", den: "B", factor: 0.75},
	{wl: "incrR_p16", num: "A", den: "D", factor: 1.2},
	{wl: "get", num: "A", den: "B", factor: 0.8},
	{wl: "incr1", num: "E", den: "C", factor: 1.0},
	{wl: "incr1_p16", num: "E", den: "C", factor: 1.0},
	{wl: "incrR_p16", num: "E", den: "C", factor: 1.0},
	{wl: "incr1", num: "E", den: "PG-sync", factor: 20},
	{wl: "incr1", num: "A", den: "B", factor: 2, p99: true},
	{wl: "get", num: "A", den: "B", factor: 2, p99: true},
}

func short(sys string) string {
	switch sys {
	case "PG-sync":
		return "PostgreSQL"
	case "PG-async":
		return "PostgreSQL async"
	}
	return sys
}

func (t target) String() string {
	if t.p99 {
		return fmt.Sprintf("p99 %s ≤ %g×%s", t.num, t.factor, short(t.den))
	}
	return fmt.Sprintf("%s ≥ %g×%s", t.num, t.factor, short(t.den))
}

// verdict is a target's outcome in one run.
type verdict struct {
	measured float64 // the ratio: ops num/den, or p99 num/den
	state    string  // "pass", "FAIL", or why it could not be judged
	gap      string  // how far off, when it fails
}

func (r *results) judge(t target) verdict {
	n, d := r.get(t.num, t.wl), r.get(t.den, t.wl)
	switch {
	case d == nil && r.skipped[t.den] != "":
		return verdict{state: "skipped: " + r.skipped[t.den]}
	case n == nil && d == nil:
		return verdict{state: fmt.Sprintf("not measured (%s, %s)", short(t.num), short(t.den))}
	case n == nil:
		return verdict{state: fmt.Sprintf("not measured (%s)", short(t.num))}
	case d == nil:
		return verdict{state: fmt.Sprintf("not measured (%s)", short(t.den))}
	}
	var v verdict
	if t.p99 {
		if d.p99 <= 0 {
			return verdict{state: "not measured (p99 of 0)"}
		}
		v.measured = n.p99 / d.p99
		if v.measured <= t.factor {
			v.state = "pass"
		} else {
			v.state = "FAIL"
			v.gap = fmt.Sprintf("%s's p99 must fall %.0f%%", t.num, (1-t.factor/v.measured)*100)
		}
		return v
	}
	v.measured = n.ops / d.ops
	if v.measured >= t.factor {
		v.state = "pass"
	} else {
		v.state = "FAIL"
		v.gap = fmt.Sprintf("%s needs +%.0f%% ops/s", t.num, (t.factor/v.measured-1)*100)
	}
	return v
}

func fmtOps(x float64) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%.2f M", x/1e6)
	case x >= 1e4:
		return fmt.Sprintf("%.1f k", x/1e3)
	case x >= 1e3:
		return fmt.Sprintf("%.2f k", x/1e3)
	}
	return fmt.Sprintf("%.0f", x)
}

func fmtMs(x float64) string {
	if x >= 100 {
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.3f", x)
}

func fmtRatio(x float64) string {
	if x >= 10 {
		return fmt.Sprintf("%.0f×", x)
	}
	return fmt.Sprintf("%.2f×", x)
}

// noisy is the spread above which a cell is flagged: the issue asks for
// noise below 10%.
const noisy = 0.10

func render(r *results) string {
	var b strings.Builder
	renderMethod(&b, r.meta)
	renderTable(&b, r)
	renderTargets(&b, r)
	renderCPU(&b, r)
	renderChecks(&b, r)
	renderRuns(&b, r)
	return b.String()
}

// allSystems is every system, the Redis-protocol ones and then PostgreSQL.
func allSystems() []string { return append(slices.Clone(redisSystems), pgSystems...) }

// tableSystems is the systems a workload's rows list: PostgreSQL only
// runs the one-key INCR.
func tableSystems(wl string) []string {
	if wl == "incr1" {
		return allSystems()
	}
	return redisSystems
}

// renderMethod writes the heading and how the run was made.
func renderMethod(b *strings.Builder, m map[string]string) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## Throughput and latency (`make bench`)\n\n")
	if m["mode"] == "quick" {
		p("**Quick smoke run (BENCH_QUICK=1): one short round, not a measurement.**\n\n")
	}
	p("- Date: %s; ran %s s in all.\n", m["date"], m["elapsed"])
	p("- Machine: %s cores (`nproc`), %s, %s RAM, Linux %s; data on %s.\n", m["nproc"], m["cpu"], m["mem"], m["kernel"], m["disk"])
	p("- Code: commit %s, %s.\n", m["commit"], m["shardcounter"])
	p("- Peers: %s; %s", m["redis"], m["nutcracker"])
	if m["postgres"] != "" {
		p("; %s", m["postgres"])
	}
	p(".\n")
	p("- Method: redis-benchmark, %s clients, every server on 127.0.0.1 and started fresh (empty data) for each round. "+
		"Each (system, workload) gets a warm-up run that also sizes the measured run to about %s s; "+
		"%s round(s), run in the order A B C D E PostgreSQL each round. Cells are medians over the rounds; "+
		"spread is (max − min) / median of ops/s, flagged ⚠ above 10%%. Ratios are of median ops/s. "+
		"A and E are 4 processes each (`shardcounter shard` ×3 + `shardcounter coordinator`)",
		m["clients"], m["secs"], m["reps"])
	switch g := m["gomaxprocs"]; g {
	case "", "0":
		p(", each with Go's default GOMAXPROCS")
	default:
		p(", each with `GOMAXPROCS=%s`", g)
	}
	if m["shard_flags"] != "" || m["coord_flags"] != "" {
		p(", shard flags `%s`, coordinator flags `%s`", m["shard_flags"], m["coord_flags"])
	}
	p(". D is nutcracker with `distribution: ketama`, `hash: fnv1a_64`. PostgreSQL is pgbench, 50 clients, " +
		"`UPDATE counters SET value = value + 1 WHERE id = 1`, prepared, one row.\n")
	p("- Compare ratios, not absolute numbers: the benchmark client shares the machine's cores with the servers.\n")
	if busy := strings.Fields(m["busy"]); len(busy) > 0 {
		worst := 0
		for _, f := range busy {
			n, _ := strconv.Atoi(f)
			worst = max(worst, n)
		}
		p("- CPU busy with other work, sampled for 1 s before each round and after the last (%%): %s.", strings.Join(busy, ", "))
		if worst > 25 {
			p(" **The machine was not idle: these figures are noisy.**")
		}
		p("\n")
	}
	p("\n")
}

// renderTable writes a row per system and workload, with each target on
// the row of the peer it compares with.
func renderTable(b *strings.Builder, r *results) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	rowTargets := map[string][]string{}
	for _, t := range targets {
		v := r.judge(t)
		s := t.String() + ": "
		switch v.state {
		case "pass":
			s += fmtRatio(v.measured) + " pass"
		case "FAIL":
			s += "**" + fmtRatio(v.measured) + " FAIL**"
		default:
			s += v.state
		}
		k := t.wl + "/" + t.den
		rowTargets[k] = append(rowTargets[k], s)
	}

	p("| workload | system | ops/s | p50 ms | p99 ms | spread | A ÷ this | E ÷ this | target |\n")
	p("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, wl := range workloads {
		for i, sys := range tableSystems(wl.id) {
			name := ""
			if i == 0 {
				name = "**" + wl.name + "**"
			}
			c := r.get(sys, wl.id)
			tg := strings.Join(rowTargets[wl.id+"/"+sys], "<br>")
			if c == nil {
				why := "not measured"
				if s := r.skipped[sys]; s != "" {
					why = "skipped"
				} else if len(r.errors[sys]) > 0 {
					why = "failed (see below)"
				}
				p("| %s | %s | %s | | | | | | %s |\n", name, sysNames[sys], why, tg)
				continue
			}
			spread := "–"
			if len(c.runs) > 1 {
				spread = fmt.Sprintf("%.0f%%", c.spread*100)
				if c.spread > noisy {
					spread += " ⚠"
				}
			}
			ratio := func(num string) string {
				n := r.get(num, wl.id)
				if n == nil || c.ops == 0 {
					return ""
				}
				return fmtRatio(n.ops / c.ops)
			}
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", name, sysNames[sys], fmtOps(c.ops), fmtMs(c.p50), fmtMs(c.p99),
				spread, ratio("A"), ratio("E"), tg)
		}
	}
}

// renderTargets writes the targets on their own, and how many pass.
func renderTargets(b *strings.Builder, r *results) {
	pass := 0
	var rows strings.Builder
	for _, t := range targets {
		v := r.judge(t)
		measured := ""
		if v.state == "pass" || v.state == "FAIL" {
			measured = fmtRatio(v.measured)
		}
		state := v.state
		if state == "pass" {
			pass++
		} else if state == "FAIL" {
			state = "**FAIL**"
		}
		fmt.Fprintf(&rows, "| %s | %s | %s | %s | %s |\n", t, workloadName(t.wl), measured, state, v.gap)
	}
	fmt.Fprintf(b, "\n### Targets of issue 3: %d of %d pass\n\n", pass, len(targets))
	b.WriteString("| target | workload | measured | result | how far off |\n| --- | --- | ---: | --- | --- |\n")
	b.WriteString(rows.String())
}

// renderChecks writes the value checks, the noisy cells, the errors and
// what was skipped.
func renderChecks(b *strings.Builder, r *results) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("\n### Checks\n\n")
	p("After the INCR runs of each round, `GET counter:__rand_int__` must equal every INCR of that key that redis-benchmark sent (warm-up and measured; it exits on an error reply).\n\n")
	for _, sys := range redisSystems {
		cs := r.checks[sys]
		if len(cs) == 0 {
			continue
		}
		bad := []string{}
		for _, c := range cs {
			if !c.matches {
				bad = append(bad, fmt.Sprintf("round %s: expected %s, got %q", c.round, c.expected, c.got))
			}
		}
		if len(bad) == 0 {
			p("- %s: value check ok in %d round(s).\n", sys, len(cs))
		} else {
			p("- %s: **value check failed**: %s.\n", sys, strings.Join(bad, "; "))
		}
	}
	var noisyCells []string
	for _, wl := range workloads {
		for _, sys := range allSystems() {
			if c := r.get(sys, wl.id); c != nil && len(c.runs) > 1 && c.spread > noisy {
				noisyCells = append(noisyCells, fmt.Sprintf("%s / %s (%.0f%%)", short(sys), wl.name, c.spread*100))
			}
		}
	}
	if len(noisyCells) > 0 {
		p("- Spread above 10%%: %s.\n", strings.Join(noisyCells, ", "))
	} else if r.meta["reps"] != "1" {
		p("- Every cell's spread is at most 10%%.\n")
	}
	for _, sys := range allSystems() {
		for _, e := range r.errors[sys] {
			p("- %s error: `%s`\n", short(sys), strings.ReplaceAll(e, "`", "'"))
		}
	}
	if why := r.skipped["PG-sync"]; why != "" {
		p("- PostgreSQL skipped: %s.\n", why)
	}
}

// renderRuns writes every measured run's ops/s, folded away.
func renderRuns(b *strings.Builder, r *results) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("\n<details><summary>Every measured run (ops/s)</summary>\n\n")
	p("| workload | system | runs |\n| --- | --- | --- |\n")
	for _, wl := range workloads {
		for _, sys := range allSystems() {
			c := r.get(sys, wl.id)
			if c == nil {
				continue
			}
			var rs []string
			for _, run := range c.runs {
				rs = append(rs, strconv.FormatFloat(run.ops, 'f', 0, 64))
			}
			p("| %s | %s | %s |\n", wl.name, short(sys), strings.Join(rs, ", "))
		}
	}
	p("\n</details>\n")
}

// splice writes md into path between <!-- NAME:begin --> and
// <!-- NAME:end -->, keeping every other section of the file.
func splice(path, name, md string) error {
	begin, end := "<!-- "+name+":begin -->", "<!-- "+name+":end -->"
	block := begin + "\n" + md + end + "\n"
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(old)
	if s == "" {
		s = "# Benchmark results\n\n" +
			"Written by `make bench` (bench/run.sh) and `make bench-scale` (bench/scale.sh); " +
			"each rewrites only its own section. See bench/README.md for how to run them.\n\n"
	}
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i >= 0 && j > i {
		s = s[:i] + block + strings.TrimPrefix(s[j+len(end):], "\n")
		return os.WriteFile(path, []byte(s), 0o644)
	}
	// A new section goes before the sections that come after it in
	// sectionOrder, else at the end.
	later := false
	for _, n := range sectionOrder {
		if n == name {
			later = true
			continue
		}
		if k := strings.Index(s, "<!-- "+n+":begin -->"); later && k >= 0 {
			s = s[:k] + block + "\n" + s[k:]
			return os.WriteFile(path, []byte(s), 0o644)
		}
	}
	if !strings.HasSuffix(s, "\n\n") {
		s = strings.TrimRight(s, "\n") + "\n\n"
	}
	s += block
	return os.WriteFile(path, []byte(s), 0o644)
}

// sectionOrder is the order of the sections in bench/RESULTS.md.
var sectionOrder = []string{"bench", "scale"}

// cpuRoles names the front and the back of each system for the CPU table.
var cpuRoles = map[string][2]string{
	"A": {"coordinator", "3 shards"},
	"B": {"redis-server", ""},
	"C": {"redis-server", ""},
	"D": {"nutcracker", "3 redis-servers"},
	"E": {"coordinator", "3 shards"},
}

// renderCPU writes the CPU time per request of every system: where the
// machine's cores went, and how many of them a run kept busy.
func renderCPU(b *strings.Builder, r *results) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	found := false
	for _, sys := range redisSystems {
		for _, wl := range workloads {
			if c := r.get(sys, wl.id); c != nil && c.cpu != nil {
				found = true
			}
		}
	}
	if !found {
		return
	}
	p("\n### Where the CPU goes\n\n")
	p("CPU time (user + system) per request in µs, from `/proc/PID/stat` of every server process before and after each measured run "+
		"and from the benchmark client's own usage; medians over the rounds. The front is the process the clients talk to, "+
		"the back is the processes behind it. Busy is all of it times ops/s: how many of the machine's %s cores the run kept busy; "+
		"a run near that number is bound by CPU, one well below it by waiting. Steal is the largest share, over the rounds, "+
		"of the machine's CPU time that the hypervisor gave to something else during the measured run (`/proc/stat`): "+
		"a run that lost time so is slower than its neighbours, which is much of the spread.\n\n", r.meta["nproc"])
	p("| workload | system | front µs | back µs | client µs | all µs | busy (cores) | steal |\n")
	p("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, wl := range workloads {
		first := true
		for _, sys := range redisSystems {
			c := r.get(sys, wl.id)
			if c == nil || c.cpu == nil {
				continue
			}
			name := ""
			if first {
				name = "**" + wl.name + "**"
				first = false
			}
			roles := cpuRoles[sys]
			front := fmt.Sprintf("%.1f (%s)", c.cpu.front, roles[0])
			back := "–"
			if roles[1] != "" {
				back = fmt.Sprintf("%.1f (%s)", c.cpu.back, roles[1])
			}
			steal := "–"
			if c.cpu.steal >= 0 {
				steal = fmt.Sprintf("%.0f%%", 100*c.cpu.steal)
			}
			p("| %s | %s | %s | %s | %.1f | %.1f | %.2f | %s |\n", name, short(sys), front, back, c.cpu.client,
				c.cpu.total(), c.cpu.total()*c.ops/1e6, steal)
		}
	}
}
