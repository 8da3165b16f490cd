package resp

import (
	"fmt"
	"strings"
)

// Info builds the reply to INFO [section ...] in Redis' format: the sections
// asked for (any case), or all of them when none, "all", "everything" or
// "default" is asked for.
type Info struct {
	want map[string]bool
	all  bool
	b    strings.Builder
}

// NewInfo reads the sections asked for from INFO's arguments (args[0] is
// the command name).
func NewInfo(args [][]byte) *Info {
	in := &Info{want: map[string]bool{}}
	for _, a := range args[1:] {
		in.want[strings.ToLower(string(a))] = true
	}
	in.all = len(in.want) == 0 || in.want["all"] || in.want["everything"] || in.want["default"]
	return in
}

// Section adds "# name" and what body writes, if the section was asked for.
func (in *Info) Section(name string, body func(w *InfoSection)) {
	if !in.all && !in.want[strings.ToLower(name)] {
		return
	}
	if in.b.Len() > 0 {
		in.b.WriteString("\r\n") // a blank line between sections, as in Redis
	}
	fmt.Fprintf(&in.b, "# %s\r\n", name)
	body(&InfoSection{b: &in.b})
}

// Reply is the text of every section added (see Verbatim).
func (in *Info) Reply() Reply { return Verbatim(in.b.String()) }

// InfoSection writes the lines of one section.
type InfoSection struct{ b *strings.Builder }

// Field writes "name:value".
func (w *InfoSection) Field(name string, value any) {
	fmt.Fprintf(w.b, "%s:%v\r\n", name, value)
}

// Printf writes a formatted line; format carries no line end.
func (w *InfoSection) Printf(format string, args ...any) {
	fmt.Fprintf(w.b, format, args...)
	w.b.WriteString("\r\n")
}
