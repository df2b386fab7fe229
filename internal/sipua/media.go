package sipua

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/rtp"
)

const (
	frameSamples  = SampleRate / 50 // 20 ms
	frameDuration = 20 * time.Millisecond
	maxGap        = SampleRate // timestamp jumps beyond 1 s are not filled with silence
)

// MediaStats counts one call's RTP.
type MediaStats struct {
	// Sent counts RTP packets sent.
	Sent uint64
	// Received counts RTP packets received with an audio payload type.
	Received uint64
	// Other counts received RTP packets of other payload types, such as
	// telephone events.
	Other uint64
	// Events counts the received telephone events (RFC 4733), a part of
	// Other.
	Events uint64
	// Malformed counts received datagrams that are not RTP.
	Malformed uint64
	// Lost counts sequence numbers skipped by the received streams.
	Lost uint64
	// Late counts received packets that were duplicates or arrived after a
	// later one, left out of the received audio.
	Late uint64
	// FirstReceived is the arrival time of the first audio packet, zero
	// before one arrived.
	FirstReceived time.Time
}

// media is one call's RTP endpoint: a UDP socket, a sender paced every
// 20 ms and a receiver decoding into a bounded buffer.
type media struct {
	conn    *net.UDPConn
	addr    netip.AddrPort
	sdpAddr netip.AddrPort // what the session descriptions name: addr, or another port behind NAT
	src     Source
	maxBuf  int
	onRTP   func(*rtp.Packet, time.Time)

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup

	mu       sync.Mutex
	remote   netip.AddrPort
	codec    Codec
	sending  bool // false while held or before the answer
	muted    bool // sends nothing at all, whatever the SDP says
	started  bool
	recv     []int16
	stats    MediaStats
	haveLast bool
	lastSSRC uint32
	lastSeq  uint16
	lastTS   uint32
	lastLen  uint32
}

func newMedia(ip netip.Addr, cfg *Config) (*media, error) {
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		return nil, err
	}
	m := &media{
		conn: conn, addr: conn.LocalAddr().(*net.UDPAddr).AddrPort(), src: cfg.Source,
		maxBuf: int(cfg.MaxReceive * SampleRate / time.Second), onRTP: cfg.OnRTP, muted: cfg.Mute,
		stop: make(chan struct{}),
	}
	m.sdpAddr = m.addr
	if cfg.SDPPort != 0 {
		m.sdpAddr = netip.AddrPortFrom(ip, uint16(cfg.SDPPort))
	}
	m.wg.Add(1)
	go m.receive()
	return m, nil
}

// start begins sending to remote with codec, paced from now; later calls
// only update the destination, codec and whether to send.
func (m *media) start(remote netip.AddrPort, codec Codec, send bool) {
	m.mu.Lock()
	m.remote, m.codec, m.sending = remote, codec, send && remote.IsValid()
	first := !m.started
	m.started = true
	m.mu.Unlock()
	if first {
		m.wg.Add(1)
		go m.send()
	}
}

// close stops both goroutines, closes the socket and waits.
func (m *media) close() {
	m.stopOnce.Do(func() {
		close(m.stop)
		_ = m.conn.Close()
	})
	m.wg.Wait()
}

func (m *media) send() {
	defer m.wg.Done()
	ssrc := rand.Uint32()
	seq := uint16(rand.Uint32())
	ts := rand.Uint32()
	pcm := make([]int16, frameSamples)
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SSRC: ssrc}}
	buf := make([]byte, 0, 12+frameSamples)
	// The first packet leaves one frame after the start, as a phone's
	// does: an answering call starts its media just before its 200 goes
	// out, and a packet ahead of the 200 reaches a B2BUA that does not
	// yet expect it.
	start := time.Now().Add(frameDuration)
	t := time.NewTimer(frameDuration)
	defer t.Stop()
	for n := int64(0); ; n++ {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		if f, ok := m.src.(Filler); ok {
			f.Fill(pcm, n*frameSamples)
		} else {
			for i := range pcm {
				pcm[i] = m.src.Sample(n*frameSamples + int64(i))
			}
		}
		m.mu.Lock()
		remote, codec, sending := m.remote, m.codec, m.sending && !m.muted
		m.mu.Unlock()
		pkt.PayloadType = codec.PayloadType()
		pkt.SequenceNumber = seq
		pkt.Timestamp = ts
		pkt.Payload = codec.encode(pkt.Payload[:0], pcm)
		ts += frameSamples
		if sending {
			seq++
			raw, err := pkt.Header.MarshalTo(buf[:cap(buf)])
			if err == nil {
				out := append(buf[:raw], pkt.Payload...)
				if _, err := m.conn.WriteToUDPAddrPort(out, remote); err == nil {
					m.mu.Lock()
					m.stats.Sent++
					m.mu.Unlock()
				}
			}
			pkt.Marker = false
		}
		t.Reset(start.Add(time.Duration(n+1) * frameDuration).Sub(time.Now()))
	}
}

func (m *media) receive() {
	defer m.wg.Done()
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	for {
		n, _, err := m.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-m.stop:
				return
			default:
				continue
			}
		}
		now := time.Now()
		if err := pkt.Unmarshal(buf[:n]); err != nil || pkt.Version != 2 {
			m.mu.Lock()
			m.stats.Malformed++
			m.mu.Unlock()
			continue
		}
		if m.onRTP != nil {
			m.onRTP(&pkt, now)
		}
		m.accept(&pkt, now)
	}
}

// accept places one packet's audio in the buffer: after the previous one,
// with silence for the timestamps skipped by loss or silence suppression.
func (m *media) accept(p *rtp.Packet, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	codec, ok := codecOf(p.PayloadType)
	if !ok {
		m.stats.Other++
		if p.PayloadType == TelephoneEventPT {
			m.stats.Events++
		}
		return
	}
	if m.haveLast && p.SSRC == m.lastSSRC {
		d := int16(p.SequenceNumber - m.lastSeq)
		if d <= 0 {
			m.stats.Late++
			return
		}
		m.stats.Lost += uint64(d - 1)
		if gap := p.Timestamp - m.lastTS - m.lastLen; int32(gap) > 0 && gap <= maxGap {
			m.recv = m.appendBounded(m.recv, make([]int16, gap))
		}
	}
	m.stats.Received++
	if m.stats.FirstReceived.IsZero() {
		m.stats.FirstReceived = now
	}
	m.haveLast, m.lastSSRC, m.lastSeq, m.lastTS = true, p.SSRC, p.SequenceNumber, p.Timestamp
	m.lastLen = uint32(len(p.Payload))
	if len(m.recv)+len(p.Payload) <= m.maxBuf {
		m.recv = codec.decode(m.recv, p.Payload)
	}
}

func (m *media) appendBounded(dst, src []int16) []int16 {
	if room := m.maxBuf - len(dst); len(src) > room {
		src = src[:max(room, 0)]
	}
	return append(dst, src...)
}

func (m *media) received() []int16 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int16(nil), m.recv...)
}

func (m *media) snapshot() MediaStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// setMuted stops or resumes sending.
func (m *media) setMuted(muted bool) {
	m.mu.Lock()
	m.muted = muted
	m.mu.Unlock()
}

// remoteAddr returns where the media is sent.
func (m *media) remoteAddr() netip.AddrPort {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.remote
}

// write sends one datagram from the media socket to the remote address.
func (m *media) write(raw []byte) error {
	remote := m.remoteAddr()
	if !remote.IsValid() {
		return ErrNoRemote
	}
	_, err := m.conn.WriteToUDPAddrPort(raw, remote)
	return err
}
