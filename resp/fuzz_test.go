package resp

import (
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardcounter/shardcounter/internal/resptest"
)

// fuzzServer is one server per fuzzing process: the connection commands
// and the pipelining test commands (see testMux) behind the limit listener
// and the guard, as a real server runs them.
var fuzzServer struct {
	once sync.Once
	addr string
	err  error
}

// fuzzLimits are small, so that the fuzzer reaches them.
var fuzzLimits = Limits{MaxRequestBytes: 64 << 10, MaxBulkBytes: 4 << 10}

func fuzzAddr(t *testing.T) string {
	fuzzServer.once.Do(func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fuzzServer.err = err
			return
		}
		m := fuzzMux()
		gl := GuardListener(NewLimitListener(ln, fuzzLimits), Guard{Protected: true, MaxClients: 256})
		srv := muxServer(m)
		go srv.Serve(gl) // lives as long as the fuzzing process
		fuzzServer.addr = ln.Addr().String()
	})
	if fuzzServer.err != nil {
		t.Fatal(fuzzServer.err)
	}
	return fuzzServer.addr
}

// fuzzMux is a Mux with the connection commands and commands of every
// Kind whose replies come late (at most 1ms), to exercise pipelining:
//
//	ADD n      (Increment) adds n to a total, replies :n
//	PEEK       (Read)      replies with the total
//	TOTAL      (Serial)    replies with the total
func fuzzMux() *Mux {
	m := NewMux("")
	RegisterConnCommands(m, Server{Version: "fuzz", Role: "master", Config: map[string]string{"save": ""}})
	var mu sync.Mutex
	var total int64
	late := func(f func() Reply) Reply {
		fut := NewFuture()
		go func() {
			time.Sleep(time.Duration(time.Now().UnixNano()%1000) * time.Microsecond)
			fut.Resolve(f())
		}()
		return fut
	}
	m.Handle(Command{Name: "add", Arity: 2, Kind: Increment, FirstKey: 1, LastKey: 1, Handler: func(_ *Session, args [][]byte) Reply {
		n, ok := ParseInt(args[1])
		if !ok {
			return Err(ErrNotInteger)
		}
		return late(func() Reply {
			mu.Lock()
			defer mu.Unlock()
			v, ok := AddInt(total, n)
			if !ok {
				return Err(ErrOverflow)
			}
			total = v
			return Int(n)
		})
	}})
	peek := func(*Session, [][]byte) Reply {
		return late(func() Reply {
			mu.Lock()
			defer mu.Unlock()
			return Int(total)
		})
	}
	m.Handle(Command{Name: "peek", Arity: 1, Kind: Read, Handler: peek})
	m.Handle(Command{Name: "total", Arity: 1, Handler: peek})
	return m
}

// FuzzRESP sends arbitrary bytes to a live Mux and checks that the server
// neither crashes nor hangs, that every reply is well-formed RESP, and that
// a stream of complete commands gets exactly one reply per command.
//
//	go test ./resp -run '^$' -fuzz FuzzRESP -fuzztime 30s
func FuzzRESP(f *testing.F) {
	// More seeds are in testdata/fuzz/FuzzRESP.
	f.Add([]byte("*1\r\n$4\r\nPING\r\n"))
	f.Add([]byte("PING\r\nECHO hi\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		addr := fuzzAddr(t)
		out := resptest.SendAll(t, addr, data, 10*time.Second)
		n, perr := resptest.CountReplies(out)
		if perr != nil {
			t.Fatalf("malformed reply stream: %v\n%q", perr, out)
		}
		if want, ok := completeCommands(data); ok && n != want {
			t.Fatalf("%d commands got %d replies:\n%q\n%q", want, n, data, out)
		}
		resptest.StillServes(t, addr, data)
	})
}

// completeCommands parses data the way redcon does and returns the number
// of commands, when data is nothing but complete commands that are all
// answered: no parse error, nothing left over, within the limits, and no
// QUIT (which closes the connection after its reply).
func completeCommands(data []byte) (int, bool) {
	var f framer
	f.maxBulk = fuzzLimits.MaxBulkBytes
	if len(data) > fuzzLimits.MaxRequestBytes || f.feed(data) != nil || f.state != frameStart {
		return 0, false
	}
	// Inline commands are split as Redis splits them (see splitInline),
	// which redcon's reader does not do, so the server's own reader counts.
	rd := &cmdReader{rd: bytes.NewReader(data)}
	n := 0
	for {
		cmds, err := rd.next(nil)
		if err == io.EOF {
			return n, true
		}
		if err != nil {
			return 0, false
		}
		for _, c := range cmds {
			if strings.EqualFold(string(c.Args[0]), "quit") {
				return 0, false
			}
		}
		n += len(cmds)
	}
}
