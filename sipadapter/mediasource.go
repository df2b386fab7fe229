package sipadapter

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/callrec/callrec/sipadapter/relay"
	"github.com/pion/sdp/v3"
)

// rtcpAttributes returns the a=rtcp value of every media description that
// has one.
func rtcpAttributes(sd *sdp.SessionDescription) map[*sdp.MediaDescription]string {
	var m map[*sdp.MediaDescription]string
	for _, md := range sd.MediaDescriptions {
		if md == nil {
			continue
		}
		if v, ok := md.Attribute("rtcp"); ok {
			if m == nil {
				m = make(map[*sdp.MediaDescription]string, 1)
			}
			m[md] = v
		}
	}
	return m
}

// parseRTCPAttr parses an a=rtcp value (RFC 3605: port, optionally
// followed by "IN IP4 address"); without an address the RTCP goes to the
// stream's connection address.
func parseRTCPAttr(v string, conn netip.Addr) (netip.AddrPort, error) {
	fields := strings.Fields(v)
	if len(fields) == 0 {
		return netip.AddrPort{}, fmt.Errorf("%w: empty a=rtcp", ErrSDP)
	}
	port, err := strconv.Atoi(fields[0])
	if err != nil || port <= 0 || port > 65535 {
		return netip.AddrPort{}, fmt.Errorf("%w: a=rtcp port %q out of range", ErrSDP, fields[0])
	}
	addr := conn
	if len(fields) >= 4 {
		if addr, err = netip.ParseAddr(fields[3]); err != nil {
			return netip.AddrPort{}, fmt.Errorf("%w: a=rtcp address %q is not an IP address", ErrSDP, fields[3])
		}
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}

// setRemote points the leg facing party p at the addresses of its SDP.
func (c *call) setRemote(p relay.Party, info mediaInfo) {
	c.media.SetRemotes(p, info.addr, info.rtcp)
}

// mediaMode returns the source-check mode of the leg facing a party on
// side sc.
func mediaMode(sc SideConfig) relay.Mode {
	if sc.NAT {
		return relay.NAT
	}
	return relay.Strict
}

// guardMedia sets the source check of both legs from the sides' NAT
// options and logs the first packet the relay drops for its source: RTP
// from anywhere but a party's SDP address is a hijack attempt (or a NAT
// the side's configuration does not know of).
func (c *call) guardMedia() {
	c.media.SetMode(relay.Caller, mediaMode(c.in.cfg))
	c.media.SetMode(relay.Callee, mediaMode(c.out.cfg))
	log, callID := c.b.log, c.callID
	c.media.OnReject(func(r relay.Reject) {
		log.Warn("media from an unexpected source dropped: RTP is accepted only from the party's SDP address",
			"call_id", callID, "party", r.Party.String(), "source", r.Source, "rtcp", r.RTCP, "expected", r.Expected)
	})
}
