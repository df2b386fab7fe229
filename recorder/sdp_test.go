package recorder_test

import (
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/recorder"
)

func parseSDP(t *testing.T, lines ...string) *sdp.SessionDescription {
	t.Helper()
	head := []string{"v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0"}
	var sd sdp.SessionDescription
	require.NoError(t, sd.UnmarshalString(strings.Join(append(head, lines...), "\r\n")+"\r\n"))
	return &sd
}

func TestPayloadTypesFromSDP(t *testing.T) {
	tests := map[string]struct {
		lines []string
		want  recorder.PayloadTypes
		err   error
	}{
		"static types without rtpmap": {
			lines: []string{"m=audio 4000 RTP/AVP 0 8 13 18"},
			want:  recorder.PayloadTypes{0: recorder.CodecPCMU, 8: recorder.CodecPCMA, 13: recorder.CodecComfortNoise},
		},
		"dynamic telephone-event and CN": {
			lines: []string{
				"m=audio 4000 RTP/AVP 8 101 97",
				"a=rtpmap:8 PCMA/8000",
				"a=rtpmap:101 telephone-event/8000",
				"a=fmtp:101 0-16",
				"a=rtpmap:97 cn/8000",
			},
			want: recorder.PayloadTypes{8: recorder.CodecPCMA, 101: recorder.CodecTelephoneEvent, 97: recorder.CodecComfortNoise},
		},
		"other codecs and rates are left out": {
			lines: []string{
				"m=audio 4000 RTP/AVP 111 0 100 102",
				"a=rtpmap:111 opus/48000/2",
				"a=rtpmap:100 telephone-event/48000",
				"a=rtpmap:102 PCMU/16000",
			},
			want: recorder.PayloadTypes{0: recorder.CodecPCMU},
		},
		"rtpmap for a format not offered is ignored": {
			lines: []string{"m=audio 4000 RTP/AVP 0", "a=rtpmap:101 telephone-event/8000"},
			want:  recorder.PayloadTypes{0: recorder.CodecPCMU},
		},
		"first active audio stream wins": {
			lines: []string{
				"m=video 5000 RTP/AVP 96",
				"m=audio 0 RTP/AVP 8",
				"m=audio 4002 RTP/AVP 0",
			},
			want: recorder.PayloadTypes{0: recorder.CodecPCMU},
		},
		"no audio": {
			lines: []string{"m=video 5000 RTP/AVP 96"},
			err:   recorder.ErrSDP,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := recorder.PayloadTypesFromSDP(parseSDP(t, tt.lines...))
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	t.Run("nil", func(t *testing.T) {
		_, err := recorder.PayloadTypesFromSDP(nil)
		require.ErrorIs(t, err, recorder.ErrSDP)
	})
}

func TestCodecString(t *testing.T) {
	for c, want := range map[recorder.Codec]string{
		recorder.CodecUnknown: "unknown", recorder.CodecPCMU: "PCMU", recorder.CodecPCMA: "PCMA",
		recorder.CodecComfortNoise: "CN", recorder.CodecTelephoneEvent: "telephone-event",
	} {
		assert.Equal(t, want, c.String())
	}
	assert.Equal(t, "mono", recorder.Mono.String())
	assert.Equal(t, "stereo", recorder.Stereo.String())
}
