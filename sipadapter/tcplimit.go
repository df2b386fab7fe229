package sipadapter

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Defaults of [TCPLimits].
const (
	DefaultTCPIdleTimeout       = 5 * time.Minute
	DefaultMaxTCPConns          = 1024
	DefaultMaxTCPConnsPerSource = 64
)

// TCPLimits bounds the SIP-over-TCP connections a side accepts, so that
// idle or hostile peers cannot hold a file descriptor and a goroutine each
// without end. The zero value means the defaults.
type TCPLimits struct {
	// IdleTimeout closes an accepted connection that has received nothing
	// (not even an RFC 5626 CRLF keep-alive) for this long. Default 5 min;
	// negative disables. A peer whose connection was closed opens a new
	// one for its next request, and the B2BUA reaches it through its
	// Contact.
	IdleTimeout time.Duration
	// MaxConns bounds the connections accepted on one side at once; beyond
	// it a new connection is closed at once. Default 1024; negative
	// disables.
	MaxConns int
	// MaxConnsPerSource bounds the connections from one IP address at once.
	// Default 64; negative disables.
	MaxConnsPerSource int
}

func (l TCPLimits) withDefaults() (TCPLimits, error) {
	if l.IdleTimeout == 0 {
		l.IdleTimeout = DefaultTCPIdleTimeout
	}
	if l.MaxConns == 0 {
		l.MaxConns = DefaultMaxTCPConns
	}
	if l.MaxConnsPerSource == 0 {
		l.MaxConnsPerSource = DefaultMaxTCPConnsPerSource
	}
	if l.MaxConns > 0 && l.MaxConnsPerSource > l.MaxConns {
		return l, fmt.Errorf("%w: TCP.MaxConnsPerSource %d is above TCP.MaxConns %d", ErrConfig, l.MaxConnsPerSource, l.MaxConns)
	}
	return l, nil
}

// limitListener enforces [TCPLimits] on the connections it accepts.
type limitListener struct {
	net.Listener
	lim TCPLimits
	log *slog.Logger

	mu       sync.Mutex
	total    int
	bySource map[netip.Addr]int
}

func newLimitListener(ln net.Listener, lim TCPLimits, log *slog.Logger) *limitListener {
	return &limitListener{Listener: ln, lim: lim, log: log, bySource: make(map[netip.Addr]int)}
}

// Accept returns the next connection within the limits; connections beyond
// them are closed here and never reach the SIP stack.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src := netip.Addr{}
		if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
			src = ap.Addr().Unmap()
		}
		if !l.admit(src) {
			l.log.Warn("tcp connection refused: limit reached", "source", src,
				"max_conns", l.lim.MaxConns, "max_conns_per_source", l.lim.MaxConnsPerSource)
			_ = c.Close()
			continue
		}
		return &limitedConn{Conn: c, l: l, src: src}, nil
	}
}

func (l *limitListener) admit(src netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if (l.lim.MaxConns > 0 && l.total >= l.lim.MaxConns) ||
		(l.lim.MaxConnsPerSource > 0 && l.bySource[src] >= l.lim.MaxConnsPerSource) {
		return false
	}
	l.total++
	l.bySource[src]++
	return true
}

func (l *limitListener) release(src netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.bySource[src]--; l.bySource[src] <= 0 {
		delete(l.bySource, src)
	}
}

// conns returns the connections currently accepted.
func (l *limitListener) conns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// limitedConn counts against its listener's limits until closed, and
// times out a read that waits longer than the idle timeout.
type limitedConn struct {
	net.Conn
	l    *limitListener
	src  netip.Addr
	once sync.Once
}

func (c *limitedConn) Read(p []byte) (int, error) {
	if d := c.l.lim.IdleTimeout; d > 0 {
		if err := c.Conn.SetReadDeadline(time.Now().Add(d)); err != nil {
			return 0, err
		}
	}
	n, err := c.Conn.Read(p)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		c.l.log.Info("idle tcp connection closed", "source", c.src, "idle", c.l.lim.IdleTimeout)
		_ = c.Close()
		err = fmt.Errorf("sipadapter: tcp connection from %s idle for %v: %w", c.src, c.l.lim.IdleTimeout, net.ErrClosed)
	}
	return n, err
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.src) })
	return err
}
