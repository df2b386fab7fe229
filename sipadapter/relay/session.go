package relay

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// Tap receives the RTP packets a party sends, as the party sent them, with
// the time each arrived. The recorder's per-leg writer plugs in here. It
// receives every packet, before any [Filter] runs, unless the Filter toward
// the other party is a [RecordFilter]: then it receives exactly the packets
// that filter relays and reports for recording. The packet and its payload
// point into the relay's buffers and are only valid during the call: copy
// what must outlive it. WriteRTP is called from one goroutine per party; an
// error is counted in [LegStats].TapErrors and does not stop the relay.
type Tap interface {
	WriteRTP(p *rtp.Packet, arrival time.Time) error
}

// Filter sees every RTP packet about to be forwarded toward a party. It
// returns false to drop the packet, or true to forward it, possibly after
// rewriting its header in place (SSRC, sequence number, timestamp) or its
// payload. The guidance stream plugs in here. Relay is called from one
// goroutine.
type Filter interface {
	Relay(p *rtp.Packet) bool
}

// RecordFilter is a [Filter] that also decides which relayed packets belong
// in the recording, in the same step as relaying them, so that a recording
// gated by it starts exactly with the first packet relayed after the gate
// opens: none is relayed and not recorded. guidance.Stream implements it,
// opening the gate when the announcement ends. The relay calls RelayRecord
// instead of Relay and hands the packet, as the party sent it (before any
// rewriting), to the sending party's [Tap] when record is true.
type RecordFilter interface {
	Filter
	RelayRecord(p *rtp.Packet) (relay, record bool)
}

// LegStats counts the traffic of the leg facing one party.
type LegStats struct {
	// Received and ReceivedBytes count RTP packets the party sent.
	Received, ReceivedBytes uint64
	// Forwarded counts packets from the party sent on to the other party.
	Forwarded uint64
	// Filtered counts packets from the party a Filter dropped.
	Filtered uint64
	// NoTarget counts packets from the party that could not be forwarded
	// because the other party's address is not known yet.
	NoTarget uint64
	// Rejected counts RTP packets dropped because of their source: not the
	// party's SDP address, nor (in [NAT] mode) the address latched.
	Rejected uint64
	// RTCPRejected counts RTCP packets dropped because of their source.
	RTCPRejected uint64
	// Malformed counts packets that did not parse as RTP.
	Malformed uint64
	// TapErrors counts packets the Tap returned an error for.
	TapErrors uint64
	// Injected counts packets written toward the party through its [Writer].
	Injected uint64
	// RTCPReceived and RTCPForwarded count RTCP packets from the party.
	RTCPReceived, RTCPForwarded uint64
	// Latched is the address RTP from the party was latched to in [NAT]
	// mode when it differs from the SDP address; invalid otherwise.
	Latched netip.AddrPort
}

// Stats is a snapshot of a session's counters.
type Stats struct {
	Caller, Callee LegStats
}

// Session relays one call's media between the caller and the callee. It
// owns four sockets and four reader goroutines. Every method is safe for
// concurrent use.
type Session struct {
	anchor  *Anchor
	clock   Clock
	legs    [2]*leg
	wg      sync.WaitGroup
	closed  atomic.Bool
	once    sync.Once
	lastRTP atomic.Int64 // clock unix nanos of the last RTP packet from either party

	timerMu   sync.Mutex
	timer     Timer
	suspended bool
	inactive  chan struct{}
	idleOnce  sync.Once
	closeErr  error

	onReject   atomic.Pointer[func(Reject)]
	rejectOnce sync.Once
}

type counters struct {
	received, receivedBytes, forwarded, filtered, noTarget, rejected, malformed, tapErrors, injected,
	rtcpReceived, rtcpForwarded, rtcpRejected, forwardedOctets, injectedOctets atomic.Uint64
}

type leg struct {
	s       *Session
	party   Party
	pair    pair
	local   netip.AddrPort
	rtpEnd  endpoint
	rtcpEnd endpoint
	tap     atomic.Pointer[Tap]    // packets from this party
	filter  atomic.Pointer[Filter] // packets toward this party
	c       counters
	writer  Writer
	rewrite rewrite // how the Filter toward this party rewrites its RTP
}

func newSession(a *Anchor, callerPair, calleePair pair) *Session {
	s := &Session{anchor: a, clock: a.cfg.Clock, inactive: make(chan struct{})}
	for i, pr := range [2]pair{callerPair, calleePair} {
		l := &leg{s: s, party: Party(i), pair: pr}
		l.local = pr.rtp.LocalAddr().(*net.UDPAddr).AddrPort()
		l.writer = Writer{l: l}
		s.legs[i] = l
	}
	s.lastRTP.Store(s.clock.Now().UnixNano())
	for _, l := range s.legs {
		s.wg.Add(2)
		go l.readRTP()
		go l.readRTCP()
	}
	if a.cfg.InactivityTimeout > 0 {
		s.timerMu.Lock()
		s.timer = s.clock.AfterFunc(a.cfg.InactivityTimeout, s.checkIdle)
		s.timerMu.Unlock()
	}
	return s
}

// maxPacket is the largest datagram read: an Ethernet MTU. RTP for voice
// is a few hundred bytes; a bigger buffer per socket only costs memory per
// call.
const maxPacket = 1500

// Local returns the RTP address of the socket facing party p; its RTCP
// socket is on the next port. Put it in the SDP sent to p.
func (s *Session) Local(p Party) netip.AddrPort { return s.legs[p].local }

// SetRemote is [Session.SetRemotes] with RTCP on the RTP port + 1.
func (s *Session) SetRemote(p Party, addr netip.AddrPort) {
	s.SetRemotes(p, addr, netip.AddrPort{})
}

// SetRemotes sets the RTP and RTCP addresses party p declared in its SDP;
// an invalid rtcp means the RTP port + 1 (RFC 3550 §11), as without an
// a=rtcp attribute (RFC 3605). Packets toward p go there, and, in [Strict]
// mode, only packets from exactly there are accepted from p. A different
// address than the previous SDP's opens a new learning window for a [NAT]
// party; an unspecified address (c=0.0.0.0, old-style hold) is ignored.
func (s *Session) SetRemotes(p Party, rtp, rtcp netip.AddrPort) {
	if !rtp.IsValid() || rtp.Addr().IsUnspecified() || rtp.Port() == 0 {
		return
	}
	if !rtcp.IsValid() || rtcp.Addr().IsUnspecified() || rtcp.Port() == 0 {
		rtcp = netip.AddrPortFrom(rtp.Addr(), rtp.Port()+1)
	}
	l := s.legs[p]
	now, window := s.clock.Now(), s.anchor.cfg.LearningWindow
	l.rtpEnd.setSDP(rtp, now, window)
	l.rtcpEnd.setSDP(rtcp, now, window)
}

// SetMode sets how the leg facing party p checks the sources of the
// packets it receives; the default is [Strict]. Set it before the party's
// SDP, so that its learning window opens with the SDP.
func (s *Session) SetMode(p Party, m Mode) {
	l := s.legs[p]
	l.rtpEnd.nat.Store(m == NAT)
	l.rtcpEnd.nat.Store(m == NAT)
}

// Relearn opens a new learning window for a [NAT] party that has not
// latched since its SDP. A B2BUA calls it when the call is answered: the
// caller's SDP came with the INVITE, possibly long before the caller
// starts sending.
func (s *Session) Relearn(p Party) {
	l := s.legs[p]
	now, window := s.clock.Now(), s.anchor.cfg.LearningWindow
	l.rtpEnd.relearn(now, window)
	l.rtcpEnd.relearn(now, window)
}

// OnReject sets f to be called, from a reader goroutine, for the first
// packet of the session dropped because of its source, so that the B2BUA
// can log it with the call's identity; without it the Anchor's logger
// records it. Later rejects are only counted.
func (s *Session) OnReject(f func(Reject)) { s.onReject.Store(&f) }

func (l *leg) reject(src netip.AddrPort, rtcp bool) {
	e := &l.rtpEnd
	if rtcp {
		l.c.rtcpRejected.Add(1)
		e = &l.rtcpEnd
	} else {
		l.c.rejected.Add(1)
	}
	l.s.rejectOnce.Do(func() {
		r := Reject{Party: l.party, Source: src, RTCP: rtcp, Expected: e.expected()}
		if f := l.s.onReject.Load(); f != nil {
			(*f)(r)
			return
		}
		l.s.anchor.log.Warn("media from an unexpected source dropped",
			"party", r.Party.String(), "source", r.Source, "rtcp", r.RTCP, "expected", r.Expected)
	})
}

// Remote returns the current RTP target of party p and whether it was
// latched from received packets ([NAT] mode); the zero AddrPort if no SDP
// supplied one.
func (s *Session) Remote(p Party) (addr netip.AddrPort, latched bool) {
	e := &s.legs[p].rtpEnd
	if t := e.target.Load(); t != nil {
		return *t, e.latched.Load()
	}
	return netip.AddrPort{}, false
}

// SetTap installs t to receive the RTP party p sends; nil removes it.
func (s *Session) SetTap(p Party, t Tap) { storeIface(&s.legs[p].tap, t) }

// SetFilter installs f to decide on the RTP forwarded toward party p; nil
// removes it.
func (s *Session) SetFilter(p Party, f Filter) { storeIface(&s.legs[p].filter, f) }

func storeIface[T comparable](ptr *atomic.Pointer[T], v T) {
	var zero T
	if v == zero {
		ptr.Store(nil)
		return
	}
	ptr.Store(&v)
}

// Writer returns the injection writer toward party p: packets written to it
// are sent from the socket facing p to p's current target.
func (s *Session) Writer(p Party) *Writer { return &s.legs[p].writer }

// Inactive returns a channel closed once no RTP has arrived from either
// party for the configured inactivity timeout.
func (s *Session) Inactive() <-chan struct{} { return s.inactive }

// SuspendInactivity stops (true) or restarts (false) the inactivity timer,
// for a call on hold where silence is legitimate. Restarting counts the
// timeout afresh from now.
func (s *Session) SuspendInactivity(suspend bool) {
	s.timerMu.Lock()
	defer s.timerMu.Unlock()
	s.suspended = suspend
	if !suspend {
		s.lastRTP.Store(s.clock.Now().UnixNano())
	}
}

func (s *Session) checkIdle() {
	if s.closed.Load() {
		return
	}
	timeout := s.anchor.cfg.InactivityTimeout
	now := s.clock.Now()
	s.timerMu.Lock()
	defer s.timerMu.Unlock()
	if s.suspended {
		s.lastRTP.Store(now.UnixNano())
	}
	idle := now.Sub(time.Unix(0, s.lastRTP.Load()))
	if idle >= timeout {
		s.idleOnce.Do(func() { close(s.inactive) })
		return
	}
	if !s.closed.Load() {
		s.timer = s.clock.AfterFunc(timeout-idle, s.checkIdle)
	}
}

// LastRTP returns when the last RTP packet arrived from either party (the
// session's opening time if none has).
func (s *Session) LastRTP() time.Time { return time.Unix(0, s.lastRTP.Load()) }

// Stats returns a snapshot of the counters.
func (s *Session) Stats() Stats {
	return Stats{Caller: s.legs[Caller].stats(), Callee: s.legs[Callee].stats()}
}

// Close stops relaying, closes the sockets, waits for the goroutines and
// releases the ports. It is idempotent and returns the first call's result.
func (s *Session) Close() error {
	s.once.Do(func() {
		s.closed.Store(true)
		s.timerMu.Lock()
		if s.timer != nil {
			s.timer.Stop()
		}
		s.timerMu.Unlock()
		var errs []error
		for _, l := range s.legs {
			if err := l.pair.rtp.Close(); err != nil {
				errs = append(errs, err)
			}
			if err := l.pair.rtcp.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		s.wg.Wait()
		for _, l := range s.legs {
			s.anchor.ports.release(l.pair.port)
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

func (l *leg) other() *leg { return l.s.legs[l.party.Other()] }

// read returns the next datagram on conn; ok is false once the session is
// closing. Other read errors are transient and skipped.
func (l *leg) read(conn *net.UDPConn, buf []byte) (n int, src netip.AddrPort, ok bool) {
	for {
		n, src, err := conn.ReadFromUDPAddrPort(buf)
		if err == nil {
			return n, src, true
		}
		if l.s.closed.Load() || errors.Is(err, net.ErrClosed) {
			return 0, netip.AddrPort{}, false
		}
	}
}

func (l *leg) readRTP() {
	defer l.s.wg.Done()
	in := make([]byte, maxPacket)
	var out, orig []byte // made on first use: a rewritten packet whose header grew, and the payload as sent for a gated tap
	var pkt, sent rtp.Packet
	conn := l.pair.rtp
	for {
		n, src, ok := l.read(conn, in)
		if !ok {
			return
		}
		now := l.s.clock.Now()
		if !l.rtpEnd.accept(src, now) {
			l.reject(src, false)
			continue
		}
		l.s.lastRTP.Store(now.UnixNano())
		l.c.received.Add(1)
		l.c.receivedBytes.Add(uint64(n))
		dst := l.other()
		buf := in[:n]
		tap, filter := l.tap.Load(), dst.filter.Load()
		if tap != nil || filter != nil {
			if err := pkt.Unmarshal(buf); err != nil {
				l.c.malformed.Add(1)
				continue
			}
			var gate RecordFilter
			if filter != nil {
				gate, _ = (*filter).(RecordFilter)
			}
			if tap != nil && gate == nil {
				if err := (*tap).WriteRTP(&pkt, now); err != nil {
					l.c.tapErrors.Add(1)
				}
			}
			if filter != nil {
				inSSRC, inSeq, inTS := pkt.SSRC, pkt.SequenceNumber, pkt.Timestamp
				wireHdr, wireCSRC := n-len(pkt.Payload)-int(pkt.Header.PaddingSize), len(pkt.CSRC)
				var forward bool
				if gate == nil {
					forward = (*filter).Relay(&pkt)
				} else {
					if tap != nil {
						// The gate may rewrite the header and the payload (a
						// beep); the tap gets what the party sent. orig grows
						// to the largest payload seen, not to an MTU.
						sent.Header = pkt.Header
						orig = append(orig[:0], pkt.Payload...)
						sent.Payload = orig
					}
					var record bool
					forward, record = gate.RelayRecord(&pkt)
					if record && tap != nil {
						if err := (*tap).WriteRTP(&sent, now); err != nil {
							l.c.tapErrors.Add(1)
						}
					}
				}
				if !forward {
					l.c.filtered.Add(1)
					continue
				}
				dst.rewrite.note(inSSRC, inSeq, inTS, &pkt.Header)
				to := in // rewritten in place when the header layout is unchanged
				if !sameLayout(&pkt, wireHdr, wireCSRC) {
					if out == nil {
						out = make([]byte, maxPacket)
					}
					to = out
				}
				m, err := pkt.MarshalTo(to)
				if err != nil {
					l.c.malformed.Add(1)
					continue
				}
				buf = to[:m]
			}
		}
		target := dst.rtpEnd.target.Load()
		if target == nil {
			l.c.noTarget.Add(1)
			continue
		}
		if _, err := dst.pair.rtp.WriteToUDPAddrPort(buf, *target); err == nil {
			l.c.forwarded.Add(1)
			l.c.forwardedOctets.Add(uint64(payloadLen(buf)))
		}
	}
}

func (l *leg) readRTCP() {
	defer l.s.wg.Done()
	in := make([]byte, maxPacket)
	conn := l.pair.rtcp
	for {
		n, src, ok := l.read(conn, in)
		if !ok {
			return
		}
		if !l.rtcpEnd.accept(src, l.s.clock.Now()) {
			l.reject(src, true)
			continue
		}
		l.c.rtcpReceived.Add(1)
		dst := l.other()
		target := dst.rtcpEnd.target.Load()
		if target == nil {
			continue
		}
		if _, err := dst.pair.rtcp.WriteToUDPAddrPort(rewriteRTCP(in[:n], l, dst), *target); err == nil {
			l.c.rtcpForwarded.Add(1)
		}
	}
}

func (l *leg) stats() LegStats {
	st := LegStats{
		Received: l.c.received.Load(), ReceivedBytes: l.c.receivedBytes.Load(),
		Forwarded: l.c.forwarded.Load(), Filtered: l.c.filtered.Load(), NoTarget: l.c.noTarget.Load(),
		Rejected: l.c.rejected.Load(), Malformed: l.c.malformed.Load(), TapErrors: l.c.tapErrors.Load(),
		Injected: l.c.injected.Load(), RTCPReceived: l.c.rtcpReceived.Load(), RTCPForwarded: l.c.rtcpForwarded.Load(),
		RTCPRejected: l.c.rtcpRejected.Load(),
	}
	if l.rtpEnd.latched.Load() {
		st.Latched = *l.rtpEnd.target.Load()
	}
	return st
}

// Writer injects RTP toward one party (guidance prompts). It is safe for
// concurrent use; packets are sent from the socket facing the party, so the
// party sees them from the same address as the relayed media.
type Writer struct {
	l *leg
}

// WriteRTP marshals p and sends it to the party's current target. It returns
// [ErrClosed] after the session closed and [ErrNoTarget] when the party's
// address is not known yet.
func (w *Writer) WriteRTP(p *rtp.Packet) error {
	l := w.l
	if l.s.closed.Load() {
		return ErrClosed
	}
	target := l.rtpEnd.target.Load()
	if target == nil {
		return ErrNoTarget
	}
	pool := &l.s.anchor.bufs
	bp := pool.Get().(*[]byte)
	defer pool.Put(bp)
	n, err := p.MarshalTo(*bp)
	if err != nil {
		return err
	}
	if _, err := l.pair.rtp.WriteToUDPAddrPort((*bp)[:n], *target); err != nil {
		if l.s.closed.Load() {
			return ErrClosed
		}
		return err
	}
	l.c.injected.Add(1)
	l.c.injectedOctets.Add(uint64(len(p.Payload)))
	return nil
}

// payloadLen returns the payload octets of a marshalled RTP packet, for
// the sender report's octet count (RFC 3550 §6.4.1): the header, CSRCs,
// extension and padding excluded.
func payloadLen(b []byte) int {
	if len(b) < 12 {
		return 0
	}
	n := 12 + 4*int(b[0]&0x0F)
	if b[0]&0x10 != 0 && len(b) >= n+4 {
		n += 4 + 4*(int(b[n+2])<<8|int(b[n+3]))
	}
	pad := 0
	if b[0]&0x20 != 0 {
		pad = int(b[len(b)-1])
	}
	return max(len(b)-n-pad, 0)
}

// sameLayout reports whether p, as rewritten by a Filter, marshals with
// exactly the header it arrived with (wireHdr bytes, wireCSRC CSRCs, no
// extension), over its own payload bytes in the read buffer: then every
// byte MarshalTo writes lands at the offset it is read from, and the
// packet can be rewritten in the read buffer instead of a second one.
func sameLayout(p *rtp.Packet, wireHdr, wireCSRC int) bool {
	return !p.Extension && len(p.Extensions) == 0 && len(p.CSRC) == wireCSRC &&
		p.Header.MarshalSize() == wireHdr
}
