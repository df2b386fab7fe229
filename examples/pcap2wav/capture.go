package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/ip4defrag"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/pion/sdp/v3"

	"github.com/callrec/callrec/recorder"
)

// options are the conversion settings from the command line.
type options struct {
	mode    recorder.Mode
	outDir  string
	dtmfPT  uint8         // telephone-event payload type of streams found without SDP
	window  time.Duration // jitter window
	minPkts int           // packets a UDP flow needs to count as RTP without SDP
}

// flow is one direction of UDP traffic.
type flow struct{ src, dst netip.AddrPort }

func (f flow) reverse() flow { return flow{f.dst, f.src} }

// udpPacket is a UDP datagram of the capture.
type udpPacket struct {
	at      time.Time
	flow    flow
	payload []byte
}

// packetSource yields the UDP datagrams of a capture file.
type packetSource interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	LinkType() layers.LinkType
}

// fragmentTimeout is how long fragments of an IPv4 datagram wait for the
// rest.
const fragmentTimeout = 30 * time.Second

// readUDP calls fn for every UDP datagram over IPv4 (reassembled from
// fragments) or IPv6 in the pcap or pcapng file at path. The payload is
// only valid during the call.
func readUDP(ctx context.Context, path string, fn func(udpPacket) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	magic, err := br.Peek(4)
	if err != nil {
		return fmt.Errorf("%s: not a capture file: %w", path, err)
	}
	var src packetSource
	if binary.LittleEndian.Uint32(magic) == 0x0A0D0D0A {
		src, err = pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
	} else {
		src, err = pcapgo.NewReader(br)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defrag := ip4defrag.NewIPv4Defragmenter()
	for n := 0; ; {
		if err := ctx.Err(); err != nil {
			return err
		}
		data, ci, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if n++; n%1000 == 0 {
			defrag.DiscardOlderThan(ci.Timestamp.Add(-fragmentTimeout))
		}
		pkt := gopacket.NewPacket(data, src.LinkType(), gopacket.DecodeOptions{Lazy: true, NoCopy: true})
		var srcIP, dstIP, transport []byte
		switch ip := pkt.NetworkLayer().(type) {
		case *layers.IPv4:
			if ip.Protocol != layers.IPProtocolUDP {
				continue
			}
			if ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0 {
				whole, err := defrag.DefragIPv4WithTimestamp(ip, ci.Timestamp)
				if err != nil || whole == nil {
					continue // a fragment of a datagram not complete yet, or a bad one
				}
				ip = whole
			}
			srcIP, dstIP, transport = ip.SrcIP.To4(), ip.DstIP.To4(), ip.Payload
		case *layers.IPv6:
			if ip.NextHeader != layers.IPProtocolUDP {
				continue
			}
			srcIP, dstIP, transport = ip.SrcIP, ip.DstIP, ip.Payload
		default:
			continue
		}
		var udp layers.UDP
		if err := udp.DecodeFromBytes(transport, gopacket.NilDecodeFeedback); err != nil {
			continue
		}
		s, ok1 := netip.AddrFromSlice(srcIP)
		d, ok2 := netip.AddrFromSlice(dstIP)
		if !ok1 || !ok2 {
			continue
		}
		fl := flow{netip.AddrPortFrom(s, uint16(udp.SrcPort)), netip.AddrPortFrom(d, uint16(udp.DstPort))}
		if err := fn(udpPacket{at: ci.Timestamp, flow: fl, payload: udp.Payload}); err != nil {
			return err
		}
	}
}

// sipMessage is what pcap2wav needs from a SIP request or response.
type sipMessage struct {
	method string // request method, or the CSeq method of a response
	status int    // response status, 0 for requests
	callID string
	sdp    *sdp.SessionDescription
}

// parseSIP parses a SIP message carried in one UDP datagram; ok is false
// for anything that is not SIP.
func parseSIP(b []byte) (sipMessage, bool) {
	var m sipMessage
	if len(b) < 12 || b[0] < 'A' || b[0] > 'Z' { // RTP starts with 0x80-0xbf
		return m, false
	}
	head, body, _ := bytes.Cut(b, []byte("\r\n\r\n"))
	lines := strings.Split(string(head), "\r\n")
	first := strings.Fields(lines[0])
	switch {
	case len(first) >= 2 && first[0] == "SIP/2.0":
		if _, err := fmt.Sscanf(first[1], "%d", &m.status); err != nil {
			return m, false
		}
	case len(first) == 3 && first[2] == "SIP/2.0":
		m.method = first[0]
	default:
		return m, false
	}
	var contentType string
	for _, line := range lines[1:] {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "call-id", "i":
			m.callID = value
		case "content-type", "c":
			contentType = strings.ToLower(value)
		case "cseq":
			if f := strings.Fields(value); len(f) == 2 && m.status != 0 {
				m.method = f[1]
			}
		}
	}
	if m.callID == "" {
		return m, false
	}
	if strings.HasPrefix(contentType, "application/sdp") && len(body) > 0 {
		var sd sdp.SessionDescription
		if err := sd.Unmarshal(body); err == nil {
			m.sdp = &sd
		}
	}
	return m, true
}

// audioEndpoint returns where the party that sent sd receives audio.
func audioEndpoint(sd *sdp.SessionDescription) (netip.AddrPort, bool) {
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "audio" || md.MediaName.Port.Value == 0 {
			continue
		}
		conn := md.ConnectionInformation
		if conn == nil {
			conn = sd.ConnectionInformation
		}
		if conn == nil || conn.Address == nil {
			return netip.AddrPort{}, false
		}
		addr, err := netip.ParseAddr(conn.Address.Address)
		if err != nil {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(addr, uint16(md.MediaName.Port.Value)), true
	}
	return netip.AddrPort{}, false
}

// call is a call found in the capture, and its recording once started.
type call struct {
	name        string // file name without extension
	callID      string // SIP Call-ID; empty for calls found without SIP
	callerMedia netip.AddrPort
	calleeMedia netip.AddrPort
	callerPTs   recorder.PayloadTypes
	calleePTs   recorder.PayloadTypes
	flows       map[flow]recorder.Side // for calls found without SIP
	now         time.Time              // capture time of the call's latest packet
	rec         *recorder.Recording
	malformed   int
	result      recorder.Result
}

// side returns which leg a datagram of the call belongs to.
func (c *call) side(f flow) (recorder.Side, bool) {
	if c.flows != nil {
		s, ok := c.flows[f]
		return s, ok
	}
	switch {
	case f.dst == c.calleeMedia || f.src == c.callerMedia:
		return recorder.SideCaller, true
	case f.dst == c.callerMedia || f.src == c.calleeMedia:
		return recorder.SideCallee, true
	}
	return 0, false
}

// flowStats is what the first pass learns about a UDP flow.
type flowStats struct {
	first time.Time
	rtp   int            // datagrams that look like RTP
	ssrcs map[uint32]int // RTP datagrams per SSRC
	sip   bool
}

// looksLikeRTP applies the RTP header sanity checks used to find streams
// without SDP: version 2, room for the header, no RTCP packet type.
func looksLikeRTP(b []byte) (ssrc uint32, ok bool) {
	if len(b) < 12 || b[0]>>6 != 2 {
		return 0, false
	}
	if pt := b[1]; pt >= 192 && pt <= 223 {
		return 0, false // RTCP (RFC 5761)
	}
	if cc := int(b[0] & 0x0f); len(b) < 12+4*cc {
		return 0, false
	}
	return binary.BigEndian.Uint32(b[8:12]), true
}

// findCalls makes the first pass over the capture: SIP dialogs with their
// SDP, and UDP flows that look like RTP.
func findCalls(ctx context.Context, path string, opts options) ([]*call, error) {
	type dialog struct {
		offer, answer *sdp.SessionDescription
	}
	dialogs := map[string]*dialog{}
	var order []string
	flows := map[flow]*flowStats{}
	var flowOrder []flow
	err := readUDP(ctx, path, func(p udpPacket) error {
		fs := flows[p.flow]
		if fs == nil {
			fs = &flowStats{first: p.at, ssrcs: map[uint32]int{}}
			flows[p.flow] = fs
			flowOrder = append(flowOrder, p.flow)
		}
		if m, ok := parseSIP(p.payload); ok {
			fs.sip = true
			d := dialogs[m.callID]
			if d == nil {
				d = &dialog{}
				dialogs[m.callID] = d
				order = append(order, m.callID)
			}
			switch {
			case m.sdp == nil || m.method != "INVITE":
			case m.status == 0 && d.offer == nil:
				d.offer = m.sdp
			case m.status >= 180 && m.status < 300 && d.answer == nil:
				d.answer = m.sdp
			}
			return nil
		}
		if ssrc, ok := looksLikeRTP(p.payload); ok {
			fs.rtp++
			fs.ssrcs[ssrc]++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	var calls []*call
	claimed := map[flow]bool{}
	for _, id := range order {
		d := dialogs[id]
		if d.offer == nil || d.answer == nil {
			continue
		}
		c := &call{name: fileName(id), callID: id}
		var ok1, ok2 bool
		c.callerMedia, ok1 = audioEndpoint(d.offer)
		c.calleeMedia, ok2 = audioEndpoint(d.answer)
		if !ok1 || !ok2 {
			continue
		}
		var err1, err2 error
		c.callerPTs, err1 = recorder.PayloadTypesFromSDP(d.answer) // RFC 3264: a party sends with its peer's types
		c.calleePTs, err2 = recorder.PayloadTypesFromSDP(d.offer)
		if err1 != nil || err2 != nil {
			continue
		}
		for f := range flows {
			if _, ok := c.side(f); ok {
				claimed[f] = true
			}
		}
		calls = append(calls, c)
	}

	// Streams without SIP: pair each RTP-looking flow with its reverse.
	pts := recorder.DefaultPayloadTypes()
	pts[opts.dtmfPT] = recorder.CodecTelephoneEvent
	for _, f := range flowOrder {
		fs := flows[f]
		if claimed[f] || fs.sip || !isStream(fs, opts.minPkts) {
			continue
		}
		c := &call{
			name:      fileName(fmt.Sprintf("%s-rtp-%s-%s", strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), f.src, f.dst)),
			flows:     map[flow]recorder.Side{f: recorder.SideCaller},
			callerPTs: pts,
			calleePTs: pts,
		}
		claimed[f] = true
		if rs := flows[f.reverse()]; rs != nil && !claimed[f.reverse()] && !rs.sip && isStream(rs, opts.minPkts) {
			c.flows[f.reverse()] = recorder.SideCallee
			claimed[f.reverse()] = true
		}
		calls = append(calls, c)
	}
	return calls, nil
}

// isStream reports whether a flow without SDP is an RTP stream: enough
// RTP-looking packets, most of them from one SSRC.
func isStream(fs *flowStats, minPkts int) bool {
	if fs.rtp < minPkts {
		return false
	}
	best := 0
	for _, n := range fs.ssrcs {
		best = max(best, n)
	}
	return best*2 > fs.rtp
}

// fileName makes a safe file name from a Call-ID or flow description.
func fileName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) > 80 {
		b = b[:80]
	}
	return strings.TrimLeft(string(b), ".")
}

// convert writes one WAV file per call found in the capture at path and
// returns the calls with their results, in the order they were found.
func convert(ctx context.Context, path string, opts options) (calls []*call, err error) {
	calls, err = findCalls(ctx, path, opts)
	if err != nil {
		return nil, err
	}
	type route struct {
		call *call // nil: the flow belongs to no call
		side recorder.Side
	}
	routes := map[flow]route{}
	routeOf := func(f flow) route {
		rt, ok := routes[f]
		if !ok {
			for _, c := range calls {
				if s, ok := c.side(f); ok {
					rt = route{c, s}
					break
				}
			}
			routes[f] = rt
		}
		return rt
	}
	defer func() {
		for _, c := range calls {
			if c.rec == nil {
				continue
			}
			res, cerr := c.rec.Close(context.WithoutCancel(ctx))
			c.result = res
			err = errors.Join(err, cerr)
		}
	}()
	byCallID := map[string]*call{}
	for _, c := range calls {
		if c.callID != "" {
			byCallID[c.callID] = c
		}
	}
	err = readUDP(ctx, path, func(p udpPacket) error {
		rt := routeOf(p.flow)
		c := rt.call
		if c == nil {
			// A SIP message of a recording call (a BYE, a re-INVITE)
			// moves its clock: silence runs until the hang-up.
			if m, isSIP := parseSIP(p.payload); isSIP {
				if c := byCallID[m.callID]; c != nil && c.rec != nil {
					c.now = p.at
				}
			}
			return nil
		}
		c.now = p.at
		if c.rec == nil {
			rec, err := recorder.New(recorder.Config{
				Path:               filepath.Join(opts.outDir, c.name+".wav"),
				Mode:               opts.mode,
				CallerPayloadTypes: c.callerPTs,
				CalleePayloadTypes: c.calleePTs,
				JitterWindow:       opts.window,
				Start:              p.at,
				Clock:              func() time.Time { return c.now },
			})
			if err != nil {
				return err
			}
			c.rec = rec
		}
		leg := c.rec.Caller()
		if rt.side == recorder.SideCallee {
			leg = c.rec.Callee()
		}
		if err := leg.Write(p.payload, p.at); errors.Is(err, recorder.ErrMalformed) {
			c.malformed++
		} else if err != nil {
			return err
		}
		return nil
	})
	calls = slices.DeleteFunc(calls, func(c *call) bool { return c.rec == nil })
	return calls, err
}
