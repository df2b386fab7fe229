package recorder

import (
	"encoding/binary"
	"fmt"

	"github.com/zaf/g711"
)

// Codec is what the recorder does with the payload of an RTP payload type.
// Every codec it knows runs at 8000 Hz. The numbering is the SDK's one codec
// numbering: guidance.Codec gives PCMU and PCMA the same values, so a codec
// read from an SDP here converts as guidance.Codec(c). The RTP payload type
// that carries a codec on a leg is the field's own number, kept apart in
// [PayloadTypes].
type Codec uint8

// Codecs. A payload type not in a leg's [PayloadTypes] is [CodecUnknown]:
// its packets are counted in [Stats.Skipped] and never written as audio.
const (
	CodecUnknown        Codec = 0 // not recorded; counted as skipped
	CodecPCMU           Codec = 1 // G.711 µ-law (static payload type 0)
	CodecPCMA           Codec = 2 // G.711 A-law (static payload type 8)
	CodecComfortNoise   Codec = 3 // RFC 3389 comfort noise (static 13), recorded as silence
	CodecTelephoneEvent Codec = 4 // RFC 4733 telephone-event, reported as DTMF events
)

// String returns the codec's SDP encoding name, e.g. "PCMU".
func (c Codec) String() string {
	switch c {
	case CodecPCMU:
		return "PCMU"
	case CodecPCMA:
		return "PCMA"
	case CodecComfortNoise:
		return "CN"
	case CodecTelephoneEvent:
		return "telephone-event"
	default:
		return "unknown"
	}
}

// audio reports whether c carries samples that are decoded into the file.
func (c Codec) audio() bool { return c == CodecPCMU || c == CodecPCMA }

// SampleRate is the sample rate of every recording, in Hz.
const SampleRate = 8000

// PayloadTypes maps RTP payload types (0-127) to codecs for one direction of a
// call. Build it from a negotiated SDP with [PayloadTypesFromSDP], or by
// hand. A nil map means [DefaultPayloadTypes].
type PayloadTypes map[uint8]Codec

// DefaultPayloadTypes returns the static payload types of RFC 3551 that the
// recorder decodes: 0 PCMU, 8 PCMA and 13 CN. Telephone-event has no static
// payload type and must come from the SDP.
func DefaultPayloadTypes() PayloadTypes {
	return PayloadTypes{0: CodecPCMU, 8: CodecPCMA, 13: CodecComfortNoise}
}

// payloadTable is a PayloadTypes flattened for a lookup without hashing on
// the per-packet path.
type payloadTable [128]Codec

func newPayloadTable(m PayloadTypes, field string) (payloadTable, error) {
	if m == nil {
		m = DefaultPayloadTypes()
	}
	var t payloadTable
	for pt, c := range m {
		if pt > 127 {
			return t, &ConfigError{Field: field, Reason: fmt.Sprintf("payload type %d above 127", pt)}
		}
		if c > CodecTelephoneEvent {
			return t, &ConfigError{Field: field, Reason: fmt.Sprintf("unknown codec %d for payload type %d", c, pt)}
		}
		t[pt] = c
	}
	return t, nil
}

// decodeG711 decodes one G.711 sample per byte of payload into dst.
func decodeG711(c Codec, dst []int16, payload []byte) {
	dst = dst[:len(payload)]
	if c == CodecPCMU {
		for i, b := range payload {
			dst[i] = g711.DecodeUlawFrame(b)
		}
		return
	}
	for i, b := range payload {
		dst[i] = g711.DecodeAlawFrame(b)
	}
}

// telephoneEvent is the payload of an RFC 4733 named-event packet.
type telephoneEvent struct {
	event    uint8
	end      bool
	volume   uint8
	duration uint16 // in timestamp units
}

// telephoneEventSize is the size of an RFC 4733 event payload.
const telephoneEventSize = 4

func (e *telephoneEvent) unmarshal(b []byte) bool {
	if len(b) < telephoneEventSize {
		return false
	}
	e.event = b[0]
	e.end = b[1]&0x80 != 0
	e.volume = b[1] & 0x3f
	e.duration = binary.BigEndian.Uint16(b[2:4])
	return true
}

// eventDigit returns the DTMF character of an RFC 4733 event code: '0'-'9',
// '*', '#', 'A'-'D', or 0 for the other events (flash, tones).
func eventDigit(event uint8) rune {
	switch {
	case event <= 9:
		return rune('0' + event)
	case event == 10:
		return '*'
	case event == 11:
		return '#'
	case event <= 15:
		return rune('A' + event - 12)
	default:
		return 0
	}
}
