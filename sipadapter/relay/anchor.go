package relay

import (
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"
)

// Defaults applied by [New] to zero fields of [Config].
const (
	DefaultPortMin           = 20000
	DefaultPortMax           = 29998
	DefaultInactivityTimeout = 60 * time.Second
	DefaultLearningWindow    = 2 * time.Second
)

// Config configures an [Anchor]. The zero value binds 0.0.0.0 on ports
// 20000–29999 with a 60 s inactivity timeout, a 2 s learning window and the
// system clock.
type Config struct {
	// Addr is the local address media sockets bind to. Zero means the IPv4
	// unspecified address.
	Addr netip.Addr
	// PortMin and PortMax bound the RTP ports, both even and inclusive; the
	// RTCP port of each pair is the odd port above, so PortMax+1 is used too.
	PortMin, PortMax int
	// InactivityTimeout is how long a session may go without RTP from either
	// party before [Session.Inactive] is closed. Zero means 60 s; negative
	// disables the timer.
	InactivityTimeout time.Duration
	// LearningWindow is how long after a party's SDP (or
	// [Session.Relearn]) a [NAT] leg may latch to a source other than the
	// SDP's. Zero means 2 s, as rtpengine's learning.
	LearningWindow time.Duration
	// Clock supplies arrival times and the inactivity timer. Nil means
	// [SystemClock].
	Clock Clock
	// Logger receives debug records; nil discards.
	Logger *slog.Logger
}

// Anchor allocates media sessions from a port range. It holds no goroutines
// or sockets itself; each [Session] owns its own and releases its ports when
// closed. An Anchor is safe for concurrent use.
type Anchor struct {
	cfg   Config
	ports *ports
	log   *slog.Logger
	bufs  sync.Pool // *[]byte of maxPacket, for every session's Writer
}

// New validates cfg and returns an Anchor.
func New(cfg Config) (*Anchor, error) {
	if !cfg.Addr.IsValid() {
		cfg.Addr = netip.IPv4Unspecified()
	}
	if cfg.PortMin == 0 && cfg.PortMax == 0 {
		cfg.PortMin, cfg.PortMax = DefaultPortMin, DefaultPortMax
	}
	switch {
	case cfg.PortMin <= 0 || cfg.PortMin%2 != 0:
		return nil, fmt.Errorf("%w: PortMin %d must be a positive even port", ErrInvalidConfig, cfg.PortMin)
	case cfg.PortMax < cfg.PortMin || cfg.PortMax%2 != 0 || cfg.PortMax > 65534:
		return nil, fmt.Errorf("%w: PortMax %d must be even, at least PortMin and at most 65534", ErrInvalidConfig, cfg.PortMax)
	}
	if cfg.InactivityTimeout == 0 {
		cfg.InactivityTimeout = DefaultInactivityTimeout
	}
	if cfg.LearningWindow < 0 {
		return nil, fmt.Errorf("%w: LearningWindow %v is negative", ErrInvalidConfig, cfg.LearningWindow)
	}
	if cfg.LearningWindow == 0 {
		cfg.LearningWindow = DefaultLearningWindow
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Anchor{
		cfg:   cfg,
		ports: newPorts(cfg.Addr, cfg.PortMin, cfg.PortMax),
		log:   cfg.Logger.With("component", "relay"),
	}
	a.bufs.New = func() any { b := make([]byte, maxPacket); return &b }
	return a, nil
}

// Open allocates two port pairs (one facing each party), starts relaying and
// returns the session. It returns an error wrapping [ErrPortsExhausted] when
// the range has no two free pairs.
func (a *Anchor) Open() (*Session, error) {
	callerPair, err := a.ports.allocate()
	if err != nil {
		return nil, err
	}
	calleePair, err := a.ports.allocate()
	if err != nil {
		a.closePair(callerPair)
		return nil, err
	}
	return newSession(a, callerPair, calleePair), nil
}

// PairsInUse reports how many RTP/RTCP port pairs open sessions hold (two per
// session).
func (a *Anchor) PairsInUse() int { return a.ports.count() }

func (a *Anchor) closePair(p pair) error {
	err1 := p.rtp.Close()
	err2 := p.rtcp.Close()
	a.ports.release(p.port)
	if err1 != nil {
		return err1
	}
	return err2
}
