package sipua

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// offerAnswer is what a UA needs from the peer's session description.
type offerAnswer struct {
	addr   netip.AddrPort // where to send RTP; invalid when the stream is disabled
	codecs []Codec        // the peer's audio codecs, in its order, that this UA knows
	events bool           // telephone-event offered
	dir    sdp.Direction  // the peer's direction
}

// parseSDP reads the first audio stream of body.
func parseSDP(body []byte) (offerAnswer, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(string(body)); err != nil {
		return offerAnswer{}, fmt.Errorf("%w: %v", ErrSDP, err)
	}
	for _, md := range sd.MediaDescriptions {
		if md == nil || md.MediaName.Media != "audio" {
			continue
		}
		var oa offerAnswer
		for _, f := range md.MediaName.Formats {
			pt, err := strconv.ParseUint(f, 10, 7)
			if err != nil {
				continue
			}
			if c, ok := codecOf(uint8(pt)); ok {
				oa.codecs = append(oa.codecs, c)
			}
		}
		oa.dir = sdp.DirectionSendRecv
		for _, attrs := range [][]sdp.Attribute{sd.Attributes, md.Attributes} {
			for _, a := range attrs {
				if d, err := sdp.NewDirection(a.Key); err == nil {
					oa.dir = d
				}
				if a.Key == "rtpmap" && strings.Contains(strings.ToLower(a.Value), "telephone-event/8000") {
					oa.events = true
				}
			}
		}
		if md.MediaName.Port.Value == 0 {
			return oa, nil // disabled
		}
		conn := md.ConnectionInformation
		if conn == nil {
			conn = sd.ConnectionInformation
		}
		if conn == nil || conn.Address == nil {
			return offerAnswer{}, fmt.Errorf("%w: audio stream without c= line", ErrSDP)
		}
		ip, err := netip.ParseAddr(conn.Address.Address)
		if err != nil {
			return offerAnswer{}, fmt.Errorf("%w: c= address %q: %v", ErrSDP, conn.Address.Address, err)
		}
		port := md.MediaName.Port.Value
		if port < 1 || port > 65535 {
			return offerAnswer{}, fmt.Errorf("%w: audio port %d", ErrSDP, port)
		}
		oa.addr = netip.AddrPortFrom(ip.Unmap(), uint16(port))
		return oa, nil
	}
	return offerAnswer{}, fmt.Errorf("%w: no audio stream", ErrSDP)
}

// buildSDP returns a session description for one audio stream at addr with
// codecs (and telephone-event when events is set) in direction dir.
func buildSDP(sessionID, version uint64, addr netip.AddrPort, codecs []Codec, events bool, dir sdp.Direction) ([]byte, error) {
	host := addr.Addr().String()
	md := &sdp.MediaDescription{
		MediaName: sdp.MediaName{
			Media: "audio", Port: sdp.RangedPort{Value: int(addr.Port())}, Protos: []string{"RTP", "AVP"},
		},
	}
	for _, c := range codecs {
		pt := strconv.Itoa(int(c.PayloadType()))
		md.MediaName.Formats = append(md.MediaName.Formats, pt)
		md.WithValueAttribute("rtpmap", pt+" "+c.String()+"/8000")
	}
	if events {
		pt := strconv.Itoa(TelephoneEventPT)
		md.MediaName.Formats = append(md.MediaName.Formats, pt)
		md.WithValueAttribute("rtpmap", pt+" telephone-event/8000")
		md.WithValueAttribute("fmtp", pt+" 0-16")
	}
	md.WithValueAttribute("ptime", "20")
	md.WithPropertyAttribute(dir.String())
	sd := &sdp.SessionDescription{
		Origin: sdp.Origin{
			Username: "-", SessionID: sessionID, SessionVersion: version,
			NetworkType: "IN", AddressType: "IP4", UnicastAddress: host,
		},
		SessionName:           "sipua",
		ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN", AddressType: "IP4", Address: &sdp.Address{Address: host}},
		TimeDescriptions:      []sdp.TimeDescription{{}},
		MediaDescriptions:     []*sdp.MediaDescription{md},
	}
	return sd.Marshal()
}

// answerDirection is the direction answering an offer in direction d
// (RFC 3264 §6.1).
func answerDirection(d sdp.Direction) sdp.Direction {
	switch d {
	case sdp.DirectionSendOnly:
		return sdp.DirectionRecvOnly
	case sdp.DirectionRecvOnly:
		return sdp.DirectionSendOnly
	case sdp.DirectionInactive:
		return sdp.DirectionInactive
	}
	return sdp.DirectionSendRecv
}
