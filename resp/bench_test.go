package resp

import (
	"testing"

	"github.com/tidwall/redcon"
)

func BenchmarkParseInt(b *testing.B) {
	in := []byte("-9223372036854775807")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, ok := ParseInt(in); !ok {
			b.Fatal("parse failed")
		}
	}
}

func BenchmarkParseIncr(b *testing.B) {
	args := [][]byte{[]byte(CmdIncr), []byte("s1"), []byte("global_likes"), []byte("16"),
		[]byte("9f86d081884c7d65"), []byte("123456789"), []byte("0"), []byte("16")}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := ParseIncr(args); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedconParsePipeline measures redcon's reader on a 16-command
// pipeline of INCRs, the shape redis-benchmark -P 16 sends.
func BenchmarkRedconParsePipeline(b *testing.B) {
	raw := incrPipeline()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		rd := redcon.NewReader(&onceReader{b: raw})
		for n := 0; n < 16; n++ {
			if _, err := rd.ReadCommand(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkCmdReaderPipeline measures the server's own reader (cmdReader)
// on the same pipeline.
func BenchmarkCmdReaderPipeline(b *testing.B) {
	raw := incrPipeline()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	src := &onceReader{}
	rd := &cmdReader{rd: src}
	var cmds []redcon.Command
	for i := 0; i < b.N; i++ {
		src.b = raw
		var err error
		if cmds, err = rd.next(cmds[:0]); err != nil || len(cmds) != 16 {
			b.Fatalf("%d commands, %v", len(cmds), err)
		}
	}
}

// incrPipeline is 16 INCRs, the shape redis-benchmark -P 16 sends.
func incrPipeline() []byte {
	var raw []byte
	for i := 0; i < 16; i++ {
		raw = redcon.AppendArray(raw, 2)
		raw = redcon.AppendBulkString(raw, "INCR")
		raw = redcon.AppendBulkString(raw, "counter:__rand_int__")
	}
	return raw
}

type onceReader struct{ b []byte }

func (r *onceReader) Read(p []byte) (int, error) {
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func BenchmarkMuxLookup(b *testing.B) {
	m := NewMux("")
	RegisterConnCommands(m, Server{Version: "test"})
	name := []byte("CLIENT")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if m.Lookup(name) == nil {
			b.Fatal("not found")
		}
	}
}
