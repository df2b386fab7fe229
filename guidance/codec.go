package guidance

import (
	"fmt"

	"github.com/zaf/g711"
)

// Codec is the G.711 variant negotiated on a leg. Its values are
// recorder.Codec's (1 PCMU, 2 PCMA), so that a codec the recorder reads from
// an SDP converts as guidance.Codec(c) and means the same here; the RTP
// payload type, the field's own vocabulary, travels beside it (see
// [StreamConfig.PayloadType]). A zero Codec in a config means PCMU.
type Codec uint8

// The codecs a prompt can be played in, numbered as in recorder.Codec.
const (
	// PCMU is G.711 μ-law, static RTP payload type 0.
	PCMU Codec = 1
	// PCMA is G.711 A-law, static RTP payload type 8.
	PCMA Codec = 2
)

// String returns the codec's SDP encoding name, "PCMU" or "PCMA".
func (c Codec) String() string {
	switch c {
	case PCMU:
		return "PCMU"
	case PCMA:
		return "PCMA"
	default:
		return fmt.Sprintf("Codec(%d)", uint8(c))
	}
}

// PayloadType returns the codec's static RTP payload type (RFC 3551): 0 for
// PCMU, 8 for PCMA.
func (c Codec) PayloadType() uint8 {
	if c == PCMA {
		return 8
	}
	return 0
}

// Encode returns the G.711 code of one 16-bit linear sample.
func (c Codec) Encode(sample int16) byte {
	if c == PCMA {
		return g711.EncodeAlawFrame(sample)
	}
	return g711.EncodeUlawFrame(sample)
}

// Decode returns the 16-bit linear sample of one G.711 code.
func (c Codec) Decode(code byte) int16 {
	if c == PCMA {
		return g711.DecodeAlawFrame(code)
	}
	return g711.DecodeUlawFrame(code)
}

// valid reports whether c is one of the defined codecs.
func (c Codec) valid() bool { return c == PCMU || c == PCMA }

// orPCMU returns c, or PCMU for the zero value, the default of a config.
func (c Codec) orPCMU() Codec {
	if c == 0 {
		return PCMU
	}
	return c
}

// payloadType resolves a configured payload type: zero means the codec's
// static type. It fails for values outside the 7-bit RTP field.
func (c Codec) payloadType(configured uint8, field string) (uint8, error) {
	switch {
	case !c.valid():
		return 0, fmt.Errorf("%w: Codec: unknown codec %d", ErrInvalidConfig, uint8(c))
	case configured > 127:
		return 0, fmt.Errorf("%w: %s: %d exceeds 127", ErrInvalidConfig, field, configured)
	case configured == 0:
		return c.PayloadType(), nil
	default:
		return configured, nil
	}
}
