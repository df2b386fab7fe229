package relay

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is how the leg facing a party decides which source addresses it
// accepts packets from.
type Mode uint8

const (
	// Strict accepts RTP only from exactly the address and port the party's
	// SDP names, and RTCP only from its RTCP address (a=rtcp, or the RTP
	// port + 1). It is the default: on the managed links between a PBX and
	// a carrier's SBC the SDP is right, and anything else is a hijack
	// attempt (RTP bleed).
	Strict Mode = iota
	// NAT is for a party behind NAT, whose packets arrive from another
	// address or port than its SDP says. During the learning window after
	// each SDP (and after [Session.Relearn]) the leg latches to the first
	// source it hears from; it never moves afterwards, except on a new SDP
	// address. Packets from exactly the SDP address are always accepted and
	// take the leg back.
	NAT
)

// String returns "strict" or "nat".
func (m Mode) String() string {
	if m == NAT {
		return "nat"
	}
	return "strict"
}

// Reject describes a packet dropped because of its source, as handed to
// the function given to [Session.OnReject].
type Reject struct {
	// Party is the party whose leg the packet arrived on.
	Party Party
	// Source is where the packet came from.
	Source netip.AddrPort
	// RTCP is true for a packet on the RTCP socket.
	RTCP bool
	// Expected is the source the leg accepts at that moment; invalid when
	// the party's SDP is not known yet.
	Expected netip.AddrPort
}

// endpoint is one socket's remote side: the address from SDP, and in NAT
// mode the address learned from the packets actually received.
type endpoint struct {
	target  atomic.Pointer[netip.AddrPort] // where packets toward the party go, and whence they are accepted
	latched atomic.Bool                    // target was learned from a packet, not the SDP
	nat     atomic.Bool

	mu         sync.Mutex // serialises SDP changes against learning
	sdp        netip.AddrPort
	learnUntil time.Time // NAT mode: a packet before it may latch
	learned    bool      // NAT mode: latched since the last SDP
}

// setSDP sets the address the party's SDP names. The same address again
// (a re-INVITE for hold) changes nothing; a new one replaces the target and
// opens a learning window.
func (e *endpoint) setSDP(addr netip.AddrPort, now time.Time, window time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if addr == e.sdp && e.target.Load() != nil {
		return
	}
	e.sdp = addr
	e.learned = false
	e.learnUntil = now.Add(window)
	e.latched.Store(false)
	target := addr
	e.target.Store(&target)
}

// relearn opens a new learning window unless the endpoint has latched
// since its SDP.
func (e *endpoint) relearn(now time.Time, window time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.learned {
		e.learnUntil = now.Add(window)
	}
}

// accept reports whether a packet from src may be relayed. The fast path
// (src is the current target) takes no lock and allocates nothing.
func (e *endpoint) accept(src netip.AddrPort, now time.Time) bool {
	if t := e.target.Load(); t != nil && *t == src {
		return true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.sdp.IsValid() {
		return false // no SDP yet: no source is known to be the party
	}
	if src == e.sdp { // the party itself, back from behind NAT
		target := new(netip.AddrPort)
		*target = src
		e.target.Store(target)
		e.latched.Store(false)
		e.learned = true
		return true
	}
	if !e.nat.Load() || e.learned || now.After(e.learnUntil) {
		return false
	}
	target := new(netip.AddrPort) // allocated here only, so src stays on the stack
	*target = src
	e.target.Store(target)
	e.latched.Store(true)
	e.learned = true
	return true
}

// expected returns the source accepted at the moment, for a reject's log.
func (e *endpoint) expected() netip.AddrPort {
	if t := e.target.Load(); t != nil {
		return *t
	}
	return netip.AddrPort{}
}
