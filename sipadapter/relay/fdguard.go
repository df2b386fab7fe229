package relay

import (
	"sync/atomic"
	"time"
)

// fdGuard keeps a session's sockets open while they are used: the reactor
// serving a packet and Writers hold it, and Close waits until none does
// before closing the descriptors, whose numbers the kernel would otherwise
// hand to other sockets under a user's feet. Unlike a sync.RWMutex, a
// holder may acquire it again (a filter run by the reactor injects
// through a Writer of the same session) without deadlocking against a
// pending Close.
type fdGuard struct {
	n atomic.Int64 // holders, plus closedBit once closing
}

const closedBit = 1 << 40

// acquire reports whether the sockets may be used; false once closing.
func (g *fdGuard) acquire() bool {
	if g.n.Add(1) >= closedBit {
		g.n.Add(-1)
		return false
	}
	return true
}

func (g *fdGuard) release() { g.n.Add(-1) }

// closeAndWait refuses new holders and waits for the current ones to
// release, polling: holders keep it for one packet's work, and sessions
// close once per call.
func (g *fdGuard) closeAndWait() {
	g.n.Add(closedBit)
	for g.n.Load() != closedBit {
		time.Sleep(50 * time.Microsecond)
	}
}
