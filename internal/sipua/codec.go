package sipua

import "github.com/zaf/g711"

// Codec is a G.711 variant a call sends and receives.
type Codec uint8

// The codecs a [UA] offers and accepts, in its default order of preference.
const (
	PCMU Codec = iota // G.711 µ-law, static payload type 0
	PCMA              // G.711 A-law, static payload type 8
)

// TelephoneEventPT is the dynamic payload type a UA offers for RFC 4733
// telephone events.
const TelephoneEventPT = 101

// String returns the SDP encoding name, "PCMU" or "PCMA".
func (c Codec) String() string {
	if c == PCMA {
		return "PCMA"
	}
	return "PCMU"
}

// PayloadType returns the codec's static RTP payload type (RFC 3551).
func (c Codec) PayloadType() uint8 {
	if c == PCMA {
		return 8
	}
	return 0
}

func codecOf(pt uint8) (Codec, bool) {
	switch pt {
	case 0:
		return PCMU, true
	case 8:
		return PCMA, true
	}
	return 0, false
}

// encode appends the G.711 codes of samples to dst.
func (c Codec) encode(dst []byte, samples []int16) []byte {
	for _, s := range samples {
		if c == PCMA {
			dst = append(dst, g711.EncodeAlawFrame(s))
		} else {
			dst = append(dst, g711.EncodeUlawFrame(s))
		}
	}
	return dst
}

// decode appends the linear samples of payload to dst.
func (c Codec) decode(dst []int16, payload []byte) []int16 {
	for _, b := range payload {
		if c == PCMA {
			dst = append(dst, g711.DecodeAlawFrame(b))
		} else {
			dst = append(dst, g711.DecodeUlawFrame(b))
		}
	}
	return dst
}

// RoundTrip returns samples as a peer hears them through the codec: encoded
// and decoded again. Tests compare received audio against it.
func (c Codec) RoundTrip(samples []int16) []int16 {
	return c.decode(make([]int16, 0, len(samples)), c.encode(make([]byte, 0, len(samples)), samples))
}
