package resp

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"
)

// Drain lets a RESP server stop without dropping a reply: it counts the
// handlers running, and once Start is called each handler flushes its
// replies to the socket as it returns, so that Wait can tell when every
// command read so far has been answered on the wire.
type Drain struct {
	inflight atomic.Int64
	draining atomic.Bool
}

// Wrap counts h's runs and flushes its replies while draining.
func (d *Drain) Wrap(h func(redcon.Conn, redcon.Command)) func(redcon.Conn, redcon.Command) {
	return func(c redcon.Conn, cmd redcon.Command) {
		d.inflight.Add(1)
		defer d.inflight.Add(-1)
		h(c, cmd)
		if d.draining.Load() {
			if f, ok := c.(interface{ Flush() error }); ok {
				f.Flush()
			}
		}
	}
}

// Start begins draining.
func (d *Drain) Start() { d.draining.Store(true) }

// Draining reports whether Start was called.
func (d *Drain) Draining() bool { return d.draining.Load() }

// Wait waits until no wrapped handler runs, or until ctx is done.
func (d *Drain) Wait(ctx context.Context) {
	for d.inflight.Load() > 0 && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
}
