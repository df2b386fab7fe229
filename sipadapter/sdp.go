package sipadapter

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// Payload types and encodings the recorder decodes; everything else is
// removed from offers and answers before they are forwarded.
const (
	ptPCMU = 0
	ptPCMA = 8
)

// mediaInfo is what the B2BUA needs from one SDP body: the parsed
// description, the RTP address of its first active audio stream and the
// stream's direction.
type mediaInfo struct {
	desc *sdp.SessionDescription
	addr netip.AddrPort // zero when the stream is disabled (port 0) or on hold with c=0.0.0.0
	rtcp netip.AddrPort // from a=rtcp (RFC 3605); zero means addr's port + 1
	dir  sdp.Direction
}

// held reports whether the sender of this description put the call on hold
// (RFC 3264 §8.4: sendonly or inactive, or the old c=0.0.0.0 form).
func (m mediaInfo) held() bool {
	return m.dir == sdp.DirectionSendOnly || m.dir == sdp.DirectionInactive ||
		(m.addr.IsValid() && m.addr.Addr().IsUnspecified())
}

// parseSDP parses body and filters its codecs down to PCMU, PCMA and
// telephone-event. The error wraps [ErrSDP] for an unparsable body and
// [ErrNoCodec] when no audio codec the recorder decodes is left.
func parseSDP(body []byte) (mediaInfo, error) {
	if len(body) == 0 {
		return mediaInfo{}, fmt.Errorf("%w: empty body", ErrSDP)
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(string(body)); err != nil {
		return mediaInfo{}, fmt.Errorf("%w: %v", ErrSDP, err)
	}
	rtcpAttrs := rtcpAttributes(&sd) // filterCodecs drops them
	audio := filterCodecs(&sd)
	if audio == nil {
		return mediaInfo{}, fmt.Errorf("%w: no PCMU or PCMA audio stream", ErrNoCodec)
	}
	info := mediaInfo{desc: &sd, dir: direction(&sd, audio)}
	conn := audio.ConnectionInformation
	if conn == nil {
		conn = sd.ConnectionInformation
	}
	if conn == nil || conn.Address == nil {
		return mediaInfo{}, fmt.Errorf("%w: audio stream without c= line", ErrSDP)
	}
	ip, err := netip.ParseAddr(conn.Address.Address)
	if err != nil {
		return mediaInfo{}, fmt.Errorf("%w: c= address %q is not an IP address", ErrSDP, conn.Address.Address)
	}
	port := audio.MediaName.Port.Value
	if port <= 0 || port > 65535 {
		return mediaInfo{}, fmt.Errorf("%w: audio port %d out of range", ErrSDP, port)
	}
	info.addr = netip.AddrPortFrom(ip.Unmap(), uint16(port))
	if v, ok := rtcpAttrs[audio]; ok {
		if info.rtcp, err = parseRTCPAttr(v, info.addr.Addr()); err != nil {
			return mediaInfo{}, err
		}
	}
	return info, nil
}

// filterCodecs keeps, in the first active RTP/AVP audio stream, only PCMU,
// PCMA and telephone-event/8000, and disables (port 0) every other stream, as
// RFC 3264 §6 allows. It returns the audio stream, or nil when it has
// neither PCMU nor PCMA left.
func filterCodecs(sd *sdp.SessionDescription) *sdp.MediaDescription {
	var audio *sdp.MediaDescription
	for _, md := range sd.MediaDescriptions {
		if md == nil {
			continue
		}
		if audio == nil && md.MediaName.Media == "audio" && md.MediaName.Port.Value != 0 &&
			strings.Join(md.MediaName.Protos, "/") == "RTP/AVP" && keepCodecs(md) {
			audio = md
			continue
		}
		md.MediaName.Port = sdp.RangedPort{Value: 0}
	}
	return audio
}

// keepCodecs filters md's formats and their rtpmap/fmtp attributes and
// reports whether PCMU or PCMA remains. Formats are rewritten in canonical
// decimal form ("008" becomes "8").
func keepCodecs(md *sdp.MediaDescription) bool {
	dtmf := map[int]bool{}
	for _, a := range md.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		pt, enc, _ := strings.Cut(a.Value, " ")
		if n, err := strconv.Atoi(pt); err == nil && strings.EqualFold(strings.TrimSpace(enc), "telephone-event/8000") {
			dtmf[n] = true
		}
	}
	keep := map[int]bool{}
	formats := md.MediaName.Formats[:0:0]
	voice := false
	for _, f := range md.MediaName.Formats {
		pt, err := strconv.Atoi(f)
		if err != nil || keep[pt] {
			continue
		}
		if pt == ptPCMU || pt == ptPCMA {
			voice = true
		} else if !(pt >= 96 && pt <= 127 && dtmf[pt]) {
			continue
		}
		keep[pt] = true
		formats = append(formats, strconv.Itoa(pt))
	}
	if !voice {
		return false
	}
	md.MediaName.Formats = formats
	attrs := md.Attributes[:0:0]
	for _, a := range md.Attributes {
		switch a.Key {
		case "rtpmap", "fmtp":
			pt, rest, _ := strings.Cut(a.Value, " ")
			n, err := strconv.Atoi(pt)
			if err != nil || !keep[n] {
				continue
			}
			a.Value = strconv.Itoa(n) + " " + rest
		case "rtcp", "rtcp-mux", "candidate", "ice-ufrag", "ice-pwd", "ice-options", "end-of-candidates", "crypto":
			continue // they describe the party's transport, which the anchor replaces
		}
		attrs = append(attrs, a)
	}
	md.Attributes = attrs
	return true
}

// direction returns the direction attribute of the media description, then
// of the session, defaulting to sendrecv.
func direction(sd *sdp.SessionDescription, md *sdp.MediaDescription) sdp.Direction {
	for _, attrs := range [][]sdp.Attribute{md.Attributes, sd.Attributes} {
		for _, a := range attrs {
			if d, err := sdp.NewDirection(a.Key); err == nil {
				return d
			}
		}
	}
	return sdp.DirectionSendRecv
}

// anchorSDP rewrites the description to point the audio stream at the
// anchor (addr, port): o= and c= addresses and the audio m= port. A held
// stream's direction attribute is kept, so hold passes through. It returns
// the marshalled body.
func anchorSDP(info mediaInfo, addr netip.Addr, port uint16) ([]byte, error) {
	sd := info.desc
	addrType := "IP4"
	if addr.Is6() {
		addrType = "IP6"
	}
	conn := &sdp.ConnectionInformation{NetworkType: "IN", AddressType: addrType, Address: &sdp.Address{Address: addr.String()}}
	sd.Origin.NetworkType, sd.Origin.AddressType, sd.Origin.UnicastAddress = "IN", addrType, addr.String()
	sd.ConnectionInformation = conn
	for _, md := range sd.MediaDescriptions {
		if md == nil {
			continue
		}
		md.ConnectionInformation = nil
		if md.MediaName.Media == "audio" && md.MediaName.Port.Value != 0 {
			md.MediaName.Port = sdp.RangedPort{Value: int(port)}
		}
	}
	return sd.Marshal()
}
