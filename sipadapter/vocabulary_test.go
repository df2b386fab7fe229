package sipadapter

import (
	"testing"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/dialplan"
	"github.com/callrec/callrec/guidance"
	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/sipadapter/relay"
	"github.com/pion/sdp/v3"
	"github.com/stretchr/testify/assert"
)

// TestOneVocabulary pins the shared words that let sipadapter pass values
// between the independent packages by conversion instead of mapping: the
// codec numbering of recorder and guidance, the direction text of dialplan
// and delivery, and the party numbering and text of relay, recorder and
// this package.
func TestOneVocabulary(t *testing.T) {
	for rc, gc := range map[recorder.Codec]guidance.Codec{recorder.CodecPCMU: guidance.PCMU, recorder.CodecPCMA: guidance.PCMA} {
		assert.Equal(t, gc, guidance.Codec(rc))
		assert.Equal(t, rc.String(), gc.String())
	}
	for d, want := range map[dialplan.Direction]delivery.Direction{dialplan.Outgoing: delivery.Outgoing, dialplan.Incoming: delivery.Incoming} {
		assert.Equal(t, want, delivery.Direction(d.String()))
	}
	for p, side := range map[relay.Party]recorder.Side{relay.Caller: recorder.SideCaller, relay.Callee: recorder.SideCallee} {
		assert.Equal(t, side, recorder.Side(p))
		pt, err := p.MarshalText()
		assert.NoError(t, err)
		st, err := side.MarshalText()
		assert.NoError(t, err)
		assert.Equal(t, string(st), string(pt))
	}
	assert.Equal(t, PartyCaller, Party(relay.Caller.String()))
	assert.Equal(t, PartyCallee, Party(relay.Callee.String()))
}

// TestNegotiatedCodec checks the codec and payload type the guidance is
// played in, read from the answer through the recorder's payload table.
func TestNegotiatedCodec(t *testing.T) {
	for name, tc := range map[string]struct {
		sdp   string
		codec guidance.Codec
		pt    uint8
	}{
		"PCMA first":         {"m=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n", guidance.PCMA, 8},
		"PCMU first":         {"m=audio 4000 RTP/AVP 0 8\r\n", guidance.PCMU, 0},
		"dynamic PCMA":       {"m=audio 4000 RTP/AVP 101 96\r\na=rtpmap:101 telephone-event/8000\r\na=rtpmap:96 PCMA/8000\r\n", guidance.PCMA, 96},
		"no G.711: default":  {"m=audio 4000 RTP/AVP 18\r\n", guidance.PCMU, 0},
		"comfort noise skip": {"m=audio 4000 RTP/AVP 13 8\r\n", guidance.PCMA, 8},
	} {
		t.Run(name, func(t *testing.T) {
			var sd sdp.SessionDescription
			raw := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" + tc.sdp
			if !assert.NoError(t, sd.Unmarshal([]byte(raw))) {
				return
			}
			c, pt := negotiatedCodec(&sd)
			assert.Equal(t, tc.codec, c)
			assert.Equal(t, tc.pt, pt)
		})
	}
}
