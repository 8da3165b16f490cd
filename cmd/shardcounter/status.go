package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"
)

// errShardsDown is returned by status when a shard is down, so the exit
// code is 1 and scripts and cron notice.
var errShardsDown = errors.New("shards down")

// runStatus runs `shardcounter status`: it asks a coordinator for INFO
// shards and prints a table of the shards. It fails when the coordinator
// cannot be reached or a shard is down.
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var addr, password string
	var timeout time.Duration
	var tf tlsFlags
	fs := newFlagSet("status", "[--coordinator host:port] [flags]",
		"Prints the shards a coordinator knows: id, address, state, counters, writes/s and\n"+
			"latency. Exits 1 when a shard is down or the coordinator does not answer.", stderr)
	fs.StringVar(&addr, "coordinator", "127.0.0.1:6379", "the coordinator's RESP `address`")
	passwordVar(fs, &password, "password", envPassword, "the coordinator's `password` (its --requirepass)")
	fs.DurationVar(&timeout, "timeout", 5*time.Second, "give up after this long")
	tf.register(fs, "the coordinator")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	tlsCfg, err := tf.config(addr)
	if err != nil {
		return badUsage(fs, err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: addr, Password: password, MaxRetries: -1,
		DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout, DisableIdentity: true,
		TLSConfig: tlsCfg})
	defer c.Close()
	info, err := c.Info(ctx, "shards").Result()
	if err != nil {
		return fmt.Errorf("coordinator %s: %w", addr, err)
	}
	shards, err := parseShardsInfo(info)
	if err != nil {
		return fmt.Errorf("coordinator %s: %w", addr, err)
	}
	printStatus(stdout, shards)
	var down []string
	for _, s := range shards {
		if s.State != "up" {
			down = append(down, s.ID)
		}
	}
	if len(down) > 0 {
		return fmt.Errorf("%w: %d of %d (%s)", errShardsDown, len(down), len(shards), strings.Join(down, ", "))
	}
	return nil
}

// shardLine is one shard_<id> line of INFO's "# Shards" section.
type shardLine struct {
	ID, Addr, State string
	LatencyUs       int64
	Counters        int64 // -1 when unknown
	WritesPerSec    float64
	Err             string
}

// parseShardsInfo reads the "# Shards" section of a coordinator's INFO:
//
//	shard_s1:addr=127.0.0.1:7001,state=up,latency_us=120,counters=5,keys=9,writes=42,writes_per_sec=3.0
//
// Fields it does not know are skipped; err=, when present, is the last one
// and runs to the end of the line.
func parseShardsInfo(info string) ([]shardLine, error) {
	var out []shardLine
	section := ""
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimRight(line, "\r")
		if name, ok := strings.CutPrefix(line, "# "); ok {
			section = strings.ToLower(name)
			continue
		}
		if section != "shards" || !strings.HasPrefix(line, "shard_") {
			continue
		}
		id, rest, ok := strings.Cut(strings.TrimPrefix(line, "shard_"), ":")
		if !ok {
			return nil, fmt.Errorf("malformed INFO line %q", line)
		}
		s := shardLine{ID: id, Counters: -1}
		if before, errText, ok := strings.Cut(rest, ",err="); ok {
			rest, s.Err = before, errText
		}
		for _, field := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(field, "=")
			switch k {
			case "addr":
				s.Addr = v
			case "state":
				s.State = v
			case "latency_us":
				s.LatencyUs, _ = strconv.ParseInt(v, 10, 64)
			case "counters":
				if n, err := strconv.ParseInt(v, 10, 64); err == nil {
					s.Counters = n
				}
			case "writes_per_sec":
				s.WritesPerSec, _ = strconv.ParseFloat(v, 64)
			}
		}
		if s.Addr == "" || s.State == "" {
			return nil, fmt.Errorf("malformed INFO line %q: no addr or state", line)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("INFO has no shards: is this a shardcounter coordinator?")
	}
	return out, nil
}

// printStatus prints the shards as a table.
func printStatus(w io.Writer, shards []shardLine) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tADDRESS\tSTATE\tCOUNTERS\tWRITES/S\tLATENCY")
	up := 0
	for _, s := range shards {
		counters, rate, latency := "-", "-", "-"
		if s.Counters >= 0 {
			counters = strconv.FormatInt(s.Counters, 10)
		}
		if s.State == "up" {
			up++
			rate = strconv.FormatFloat(s.WritesPerSec, 'f', 1, 64)
			latency = strconv.FormatFloat(float64(s.LatencyUs)/1000, 'f', 2, 64) + "ms"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s", s.ID, s.Addr, s.State, counters, rate, latency)
		if s.Err != "" {
			fmt.Fprintf(tw, "\t%s", s.Err)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d of %d shards up\n", up, len(shards))
}
