// Command report is the Go half of the benchmark harness (bench/run.sh and
// bench/scale.sh): it finds free ports, reads redis-benchmark's CSV and
// pgbench's logs, and writes the markdown tables of bench/RESULTS.md.
//
//	report ports N                 N free loopback ports, one a line
//	report rps FILE.csv            ops/s of one redis-benchmark CSV
//	report size RPS SECS MIN       requests for a run of about SECS seconds
//	report table --dir D --out F   the throughput table from bench/run.sh's results
//	report scale --in F --out F    the scale and memory section from bench/scale.sh
//
// It is a benchmark tool, not a test: nothing here runs under make test.
package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: report ports|rps|size|table|scale ...")
		os.Exit(2)
	}
	var err error
	args := os.Args[2:]
	switch os.Args[1] {
	case "ports":
		err = ports(args)
	case "rps":
		err = rps(args)
	case "size":
		err = size(args)
	case "table":
		err = table(args)
	case "scale":
		err = scale(args)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

// ports prints N distinct ports that were free on 127.0.0.1 a moment ago.
// All N listeners are open at once, so the ports differ.
func ports(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: report ports N")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 {
		return fmt.Errorf("bad count %q", args[0])
	}
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		ls = append(ls, l)
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
	}
	return nil
}

func rps(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: report rps FILE.csv")
	}
	r, err := readCSV(args[0])
	if err != nil {
		return err
	}
	fmt.Printf("%.0f\n", r.ops)
	return nil
}

// size prints how many requests make a run of about SECS seconds at RPS
// ops/s: at least MIN, rounded up to a multiple of 16000 (so that -P 16
// sends exactly that many).
func size(args []string) error {
	if len(args) != 3 {
		return errors.New("usage: report size RPS SECS MIN")
	}
	var v [3]float64
	for i, a := range args {
		f, err := strconv.ParseFloat(a, 64)
		if err != nil {
			return fmt.Errorf("bad number %q", a)
		}
		v[i] = f
	}
	n := math.Max(v[0]*v[1], v[2])
	fmt.Println(int64(math.Ceil(n/16000)) * 16000)
	return nil
}

func table(args []string) error {
	fs := flag.NewFlagSet("table", flag.ContinueOnError)
	dir := fs.String("dir", "", "results directory written by bench/run.sh")
	out := fs.String("out", "bench/RESULTS.md", "markdown file to write the section into")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("--dir is required")
	}
	res, err := load(*dir)
	if err != nil {
		return err
	}
	md := render(res)
	fmt.Print(md)
	return splice(*out, "bench", md)
}

func scale(args []string) error {
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	in := fs.String("in", "", "key=value file written by bench/scale.sh")
	out := fs.String("out", "bench/RESULTS.md", "markdown file to write the section into")
	if err := fs.Parse(args); err != nil {
		return err
	}
	kv, err := readEnv(*in)
	if err != nil {
		return err
	}
	md := renderScale(kv)
	fmt.Print(md)
	return splice(*out, "scale", md)
}
