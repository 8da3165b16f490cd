// Command loader drives bench/scale.sh: it loads distinct counters through
// a coordinator with pipelined INCRs, checks them, and times a restarted
// shard's first answer. It speaks RESP over plain TCP, so what it measures
// is the server, not a client library.
//
//	loader load --addr A --from I --to J     INCR counter:I .. counter:J-1 once each
//	loader verify --addr A --n N             GET a sample of counter:0..N-1, each must be 1
//	loader findkey --addr SHARD --n N        a key counter:i whose partial on SHARD is 1
//	loader probe --addr A --key K --t0 NS    ms from NS (Unix ns) until GET K answers 1
//
// Results go to stdout as key=value lines.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loader load|verify|findkey|probe [flags]")
		os.Exit(2)
	}
	var err error
	args := os.Args[2:]
	switch os.Args[1] {
	case "load":
		err = load(args)
	case "verify":
		err = verify(args)
	case "findkey":
		err = findkey(args)
	case "probe":
		err = probe(args)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loader:", err)
		os.Exit(1)
	}
}

const prefix = "counter:"

// conn is one RESP connection.
type conn struct {
	c net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

func dial(addr string, timeout time.Duration) (*conn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	return &conn{c: c, r: bufio.NewReaderSize(c, 64<<10), w: bufio.NewWriterSize(c, 64<<10)}, nil
}

func (c *conn) command(args ...string) {
	c.w.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		c.w.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
}

// reply reads one reply: its type byte and its text (the integer, the
// status, the error, the bulk string; "" for a nil bulk). Arrays are read
// and reported as type '*' with their length.
func (c *conn) reply() (byte, string, error) {
	line, err := c.r.ReadString('\n')
	if err != nil {
		return 0, "", err
	}
	if len(line) < 3 {
		return 0, "", fmt.Errorf("short reply line %q", line)
	}
	t, body := line[0], line[1:len(line)-2]
	switch t {
	case '+', '-', ':', '_', ',', '#':
		return t, body, nil
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil {
			return 0, "", fmt.Errorf("bad bulk length %q", body)
		}
		if n < 0 {
			return t, "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return 0, "", err
		}
		return t, string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil {
			return 0, "", fmt.Errorf("bad array length %q", body)
		}
		for range max(n, 0) {
			if _, _, err := c.reply(); err != nil {
				return 0, "", err
			}
		}
		return t, body, nil
	}
	return 0, "", fmt.Errorf("unexpected reply %q", line)
}

func load(args []string) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:6379", "coordinator address")
	from := fs.Int64("from", 0, "first key number")
	to := fs.Int64("to", 1_000_000, "key number after the last")
	conns := fs.Int("conns", 16, "connections")
	depth := fs.Int("pipeline", 256, "commands in flight per connection")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var next atomic.Int64
	next.Store(*from)
	var done, errs, unexpected atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				d := done.Load()
				fmt.Fprintf(os.Stderr, "loader: %d/%d keys, %.0f/s\n", d, *to-*from, float64(d)/time.Since(start).Seconds())
			}
		}
	}()
	var wg sync.WaitGroup
	var connErr atomic.Value
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dial(*addr, 5*time.Second)
			if err != nil {
				connErr.CompareAndSwap(nil, err)
				return
			}
			defer c.c.Close()
			for {
				lo := next.Add(int64(*depth)) - int64(*depth)
				if lo >= *to {
					return
				}
				hi := min(lo+int64(*depth), *to)
				for i := lo; i < hi; i++ {
					c.command("INCR", prefix+strconv.FormatInt(i, 10))
				}
				if err := c.w.Flush(); err != nil {
					connErr.CompareAndSwap(nil, err)
					return
				}
				for i := lo; i < hi; i++ {
					t, s, err := c.reply()
					if err != nil {
						connErr.CompareAndSwap(nil, err)
						return
					}
					switch {
					case t == '-':
						errs.Add(1)
						firstErr.CompareAndSwap(nil, s)
					case t != ':' || s != "1":
						unexpected.Add(1)
					}
				}
				done.Add(hi - lo)
			}
		}()
	}
	wg.Wait()
	close(stop)
	secs := time.Since(start).Seconds()
	if err, _ := connErr.Load().(error); err != nil {
		return fmt.Errorf("after %d keys: %w", done.Load(), err)
	}
	fmt.Printf("load_keys=%d\nload_secs=%.1f\nload_rate=%.0f\nload_errors=%d\nload_unexpected=%d\n",
		done.Load(), secs, float64(done.Load())/secs, errs.Load(), unexpected.Load())
	if s, _ := firstErr.Load().(string); s != "" {
		fmt.Printf("load_first_error=%s\n", s)
	}
	return nil
}

func verify(args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:6379", "coordinator address")
	n := fs.Int64("n", 1_000_000, "keys loaded")
	sample := fs.Int("sample", 1000, "keys to read")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := dial(*addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.c.Close()
	keys := []int64{0, *n - 1}
	for len(keys) < *sample {
		keys = append(keys, rand.Int64N(*n))
	}
	for _, k := range keys {
		c.command("GET", prefix+strconv.FormatInt(k, 10))
	}
	if err := c.w.Flush(); err != nil {
		return err
	}
	bad := 0
	first := ""
	for _, k := range keys {
		t, s, err := c.reply()
		if err != nil {
			return err
		}
		if (t != '$' && t != ':') || s != "1" {
			bad++
			if first == "" {
				first = fmt.Sprintf("%s%d: %c%s", prefix, k, t, s)
			}
		}
	}
	fmt.Printf("verify_sample=%d\nverify_bad=%d\n", len(keys), bad)
	if first != "" {
		fmt.Printf("verify_first_bad=%s\n", first)
	}
	return nil
}

func findkey(args []string) error {
	fs := flag.NewFlagSet("findkey", flag.ContinueOnError)
	addr := fs.String("addr", "", "shard address")
	n := fs.Int64("n", 1_000_000, "keys loaded")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := dial(*addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.c.Close()
	// From the middle of the range: not the first key loaded.
	for i := int64(0); i < min(*n, 10000); i++ {
		k := prefix + strconv.FormatInt((*n/2+i)%*n, 10)
		c.command("GET", k)
		if err := c.w.Flush(); err != nil {
			return err
		}
		t, s, err := c.reply()
		if err != nil {
			return err
		}
		if (t == '$' || t == ':') && s == "1" {
			fmt.Println(k)
			return nil
		}
	}
	return errors.New("no key with partial 1 on this shard among the first 10000 tried")
}

func probe(args []string) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	addr := fs.String("addr", "", "shard address")
	key := fs.String("key", "", "key whose value must be 1")
	t0 := fs.Int64("t0", 0, "start of the clock, Unix nanoseconds")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after")
	if err := fs.Parse(args); err != nil {
		return err
	}
	start := time.Unix(0, *t0)
	if *t0 == 0 {
		start = time.Now()
	}
	deadline := time.Now().Add(*timeout)
	var last error
	attempts := 0
	for time.Now().Before(deadline) {
		attempts++
		c, err := dial(*addr, 100*time.Millisecond)
		if err != nil {
			last = err
			time.Sleep(2 * time.Millisecond)
			continue
		}
		c.c.SetDeadline(time.Now().Add(5 * time.Second))
		c.command("GET", *key)
		if err = c.w.Flush(); err == nil {
			var t byte
			var s string
			t, s, err = c.reply()
			if err == nil && (t == '$' || t == ':') && s == "1" {
				ms := float64(time.Since(start).Microseconds()) / 1000
				c.c.Close()
				fmt.Printf("%.1f\n", ms)
				return nil
			}
			if err == nil {
				err = fmt.Errorf("GET %s answered %c%s", *key, t, s)
			}
		}
		c.c.Close()
		last = err
		time.Sleep(2 * time.Millisecond)
	}
	return fmt.Errorf("no answer within %s after %d attempts: %v", *timeout, attempts, last)
}
