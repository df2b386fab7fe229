package recorder

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// PayloadTypesFromSDP returns the payload-type map of the first audio stream
// (m=audio with a non-zero port) of a negotiated session description.
//
// Static payload types 0 (PCMU), 8 (PCMA) and 13 (CN) are recognised without
// an rtpmap attribute; dynamic ones by their a=rtpmap encoding name
// (case-insensitive) at 8000 Hz: PCMU, PCMA, CN and telephone-event. Formats
// of other codecs or clock rates are left out, so their packets are skipped.
//
// By RFC 3264 a party sends with the payload types of the description its
// peer sent: the caller's packets follow the answer, the callee's packets
// the offer. When both sides agree, as they almost always do, either works.
//
// The error wraps [ErrSDP] when sd is nil or has no active audio stream.
func PayloadTypesFromSDP(sd *sdp.SessionDescription) (PayloadTypes, error) {
	if sd == nil {
		return nil, fmt.Errorf("%w: nil session description", ErrSDP)
	}
	for _, md := range sd.MediaDescriptions {
		if md == nil || md.MediaName.Media != "audio" || md.MediaName.Port.Value == 0 {
			continue
		}
		return mediaPayloadTypes(md), nil
	}
	return nil, fmt.Errorf("%w: no active audio stream", ErrSDP)
}

func mediaPayloadTypes(md *sdp.MediaDescription) PayloadTypes {
	offered := make(map[uint8]bool, len(md.MediaName.Formats))
	for _, f := range md.MediaName.Formats {
		if pt, err := strconv.ParseUint(f, 10, 7); err == nil {
			offered[uint8(pt)] = true
		}
	}
	pts := make(PayloadTypes, len(offered))
	for pt := range offered {
		if c := DefaultPayloadTypes()[pt]; c != CodecUnknown {
			pts[pt] = c
		}
	}
	for _, a := range md.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		pt, c, ok := parseRTPMap(a.Value)
		if !ok || !offered[pt] {
			continue
		}
		if c == CodecUnknown {
			delete(pts, pt) // an rtpmap overrides a static assignment
			continue
		}
		pts[pt] = c
	}
	return pts
}

// parseRTPMap parses "<pt> <name>/<rate>[/<params>]".
func parseRTPMap(v string) (uint8, Codec, bool) {
	ptText, enc, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok {
		return 0, CodecUnknown, false
	}
	pt, err := strconv.ParseUint(ptText, 10, 7)
	if err != nil {
		return 0, CodecUnknown, false
	}
	name, rest, _ := strings.Cut(strings.TrimSpace(enc), "/")
	rate, _, _ := strings.Cut(rest, "/")
	if rate != strconv.Itoa(SampleRate) {
		return uint8(pt), CodecUnknown, true
	}
	switch strings.ToUpper(name) {
	case "PCMU":
		return uint8(pt), CodecPCMU, true
	case "PCMA":
		return uint8(pt), CodecPCMA, true
	case "CN":
		return uint8(pt), CodecComfortNoise, true
	case "TELEPHONE-EVENT":
		return uint8(pt), CodecTelephoneEvent, true
	default:
		return uint8(pt), CodecUnknown, true
	}
}
