package sipua

import (
	"net/netip"
	"testing"

	"github.com/pion/sdp/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustAddr(tb testing.TB, port uint16) netip.AddrPort {
	tb.Helper()
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
}

func TestAnswerDirection(t *testing.T) {
	tests := map[string]struct{ offer, answer sdp.Direction }{
		"sendrecv": {sdp.DirectionSendRecv, sdp.DirectionSendRecv},
		"hold":     {sdp.DirectionSendOnly, sdp.DirectionRecvOnly},
		"recvonly": {sdp.DirectionRecvOnly, sdp.DirectionSendOnly},
		"inactive": {sdp.DirectionInactive, sdp.DirectionInactive},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.answer, answerDirection(tt.offer))
		})
	}
}

// FuzzSDPRoundTrip checks that what buildSDP writes parseSDP reads back.
func FuzzSDPRoundTrip(f *testing.F) {
	f.Add(uint16(4000), uint8(1), true, uint8(0))
	f.Add(uint16(65535), uint8(3), false, uint8(3))
	f.Fuzz(func(t *testing.T, port uint16, mask uint8, events bool, dirN uint8) {
		if port == 0 {
			port = 1
		}
		var codecs []Codec
		if mask&1 != 0 {
			codecs = append(codecs, PCMU)
		}
		if mask&2 != 0 {
			codecs = append(codecs, PCMA)
		}
		if mask&4 != 0 && len(codecs) == 2 {
			codecs[0], codecs[1] = codecs[1], codecs[0]
		}
		dir := []sdp.Direction{sdp.DirectionSendRecv, sdp.DirectionSendOnly, sdp.DirectionRecvOnly, sdp.DirectionInactive}[dirN%4]
		addr := mustAddr(t, port)
		body, err := buildSDP(1, 2, addr, codecs, events, dir)
		require.NoError(t, err)
		oa, err := parseSDP(body)
		require.NoError(t, err)
		assert.Equal(t, addr, oa.addr)
		assert.Equal(t, codecs, oa.codecs)
		assert.Equal(t, events, oa.events)
		assert.Equal(t, dir, oa.dir)
	})
}

func FuzzParseSDP(f *testing.F) {
	good, err := buildSDP(1, 1, mustAddr(f, 4000), []Codec{PCMU, PCMA}, true, sdp.DirectionSendRecv)
	require.NoError(f, err)
	f.Add(good)
	f.Add([]byte("v=0\r\nm=audio 0 RTP/AVP 0\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		oa, err := parseSDP(body)
		if err != nil {
			require.ErrorIs(t, err, ErrSDP)
			return
		}
		// A usable stream has a port; a disabled one has no address.
		if oa.addr.IsValid() {
			assert.NotZero(t, oa.addr.Port())
		}
		for _, c := range oa.codecs {
			assert.Contains(t, []Codec{PCMU, PCMA}, c)
		}
	})
}
