package sipadapter

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sdpBase = "v=0\r\no=alice 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"

func TestParseSDP(t *testing.T) {
	tests := map[string]struct {
		body    string
		err     error
		addr    string
		formats []string
		dir     sdp.Direction
		held    bool
	}{
		"pcmu pcma dtmf": {body: sdpBase + "m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n",
			addr: "192.0.2.1:4000", formats: []string{"0", "8", "101"}, dir: sdp.DirectionSendRecv},
		"foreign codecs removed": {body: sdpBase + "m=audio 4000 RTP/AVP 18 0 96 97\r\na=rtpmap:18 G729/8000\r\n" +
			"a=rtpmap:96 opus/48000/2\r\na=rtpmap:97 telephone-event/8000\r\na=fmtp:96 useinbandfec=1\r\n",
			addr: "192.0.2.1:4000", formats: []string{"0", "97"}, dir: sdp.DirectionSendRecv},
		"media c= wins": {body: sdpBase + "m=audio 5000 RTP/AVP 8\r\nc=IN IP4 198.51.100.7\r\n",
			addr: "198.51.100.7:5000", formats: []string{"8"}, dir: sdp.DirectionSendRecv},
		"sendonly is hold": {body: sdpBase + "m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n",
			addr: "192.0.2.1:4000", formats: []string{"0"}, dir: sdp.DirectionSendOnly, held: true},
		"session inactive is hold": {body: sdpBase + "a=inactive\r\nm=audio 4000 RTP/AVP 0\r\n",
			addr: "192.0.2.1:4000", formats: []string{"0"}, dir: sdp.DirectionInactive, held: true},
		"old hold c=0.0.0.0": {body: strings.Replace(sdpBase, "c=IN IP4 192.0.2.1", "c=IN IP4 0.0.0.0", 1) + "m=audio 4000 RTP/AVP 0\r\n",
			addr: "0.0.0.0:4000", formats: []string{"0"}, dir: sdp.DirectionSendRecv, held: true},
		"recvonly is not hold": {body: sdpBase + "m=audio 4000 RTP/AVP 0\r\na=recvonly\r\n",
			addr: "192.0.2.1:4000", formats: []string{"0"}, dir: sdp.DirectionRecvOnly},
		"video disabled, audio second": {body: sdpBase + "m=video 6000 RTP/AVP 31\r\nm=audio 4000 RTP/AVP 0\r\n",
			addr: "192.0.2.1:4000", formats: []string{"0"}, dir: sdp.DirectionSendRecv},
		"only g729":        {body: sdpBase + "m=audio 4000 RTP/AVP 18\r\n", err: ErrNoCodec},
		"only dtmf":        {body: sdpBase + "m=audio 4000 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n", err: ErrNoCodec},
		"srtp":             {body: sdpBase + "m=audio 4000 RTP/SAVP 0\r\n", err: ErrNoCodec},
		"audio disabled":   {body: sdpBase + "m=audio 0 RTP/AVP 0\r\n", err: ErrNoCodec},
		"no c= line":       {body: "v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", err: ErrSDP},
		"hostname address": {body: strings.Replace(sdpBase, "c=IN IP4 192.0.2.1", "c=IN IP4 pbx.example", 1) + "m=audio 4000 RTP/AVP 0\r\n", err: ErrSDP},
		"garbage":          {body: "hello", err: ErrSDP},
		"empty":            {body: "", err: ErrSDP},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			info, err := parseSDP([]byte(tc.body))
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.addr, info.addr.String())
			assert.Equal(t, tc.dir, info.dir)
			assert.Equal(t, tc.held, info.held())
			var audio *sdp.MediaDescription
			for _, md := range info.desc.MediaDescriptions {
				if md.MediaName.Port.Value != 0 {
					require.Nil(t, audio, "one active stream only")
					audio = md
				}
			}
			require.NotNil(t, audio)
			assert.Equal(t, tc.formats, audio.MediaName.Formats)
			for _, a := range audio.Attributes {
				if a.Key == "rtpmap" || a.Key == "fmtp" {
					pt, _, _ := strings.Cut(a.Value, " ")
					assert.Contains(t, tc.formats, pt, "attribute of a removed format: %s", a)
				}
			}
		})
	}
}

func TestAnchorSDP(t *testing.T) {
	info, err := parseSDP([]byte(sdpBase + "m=audio 4000 RTP/AVP 0 8\r\nc=IN IP4 198.51.100.7\r\na=rtcp:4001\r\na=sendonly\r\nm=video 6000 RTP/AVP 31\r\n"))
	require.NoError(t, err)
	out, err := anchorSDP(info, netip.MustParseAddr("203.0.113.9"), 30000)
	require.NoError(t, err)
	text := string(out)
	assert.NotContains(t, text, "192.0.2.1", "no address of the party leaks")
	assert.NotContains(t, text, "198.51.100.7")
	assert.NotContains(t, text, "a=rtcp:")
	assert.Contains(t, text, "o=alice 1 1 IN IP4 203.0.113.9")
	assert.Contains(t, text, "c=IN IP4 203.0.113.9")
	assert.Contains(t, text, "m=audio 30000 RTP/AVP 0 8")
	assert.Contains(t, text, "m=video 0 RTP/AVP 31", "the m-line stays, disabled, as RFC 3264 requires")
	assert.Contains(t, text, "a=sendonly", "hold passes through")
	again, err := parseSDP(out)
	require.NoError(t, err)
	assert.Equal(t, "203.0.113.9:30000", again.addr.String())
}

// FuzzSDP checks that any description either is refused with a typed error
// or, once anchored, parses again pointing at the anchor with only PCMU,
// PCMA and telephone-event left and the same direction.
func FuzzSDP(f *testing.F) {
	f.Add(sdpBase + "m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n")
	f.Add(sdpBase + "m=audio 4000 RTP/AVP 18 0\r\na=sendonly\r\n")
	f.Add(sdpBase + "m=video 1 RTP/AVP 31\r\nm=audio 2 RTP/AVP 8\r\nc=IN IP6 ::1\r\n")
	f.Add("v=0\r\n")
	anchor := netip.MustParseAddr("203.0.113.9")
	f.Fuzz(func(t *testing.T, body string) {
		info, err := parseSDP([]byte(body))
		if err != nil {
			if !errors.Is(err, ErrSDP) && !errors.Is(err, ErrNoCodec) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		dir := info.dir
		out, err := anchorSDP(info, anchor, 20000)
		if err != nil {
			t.Fatalf("anchoring a parsed description: %v", err)
		}
		again, err := parseSDP(out)
		if err != nil {
			t.Fatalf("anchored description does not parse: %v\n%s", err, out)
		}
		if again.addr != netip.AddrPortFrom(anchor, 20000) {
			t.Fatalf("anchored to %v", again.addr)
		}
		if again.dir != dir {
			t.Fatalf("direction %v became %v", dir, again.dir)
		}
		for _, md := range again.desc.MediaDescriptions {
			if md.MediaName.Port.Value == 0 {
				continue
			}
			for _, f := range md.MediaName.Formats {
				if f == "0" || f == "8" {
					continue
				}
				dtmf := false
				for _, a := range md.Attributes {
					pt, enc, _ := strings.Cut(a.Value, " ")
					dtmf = dtmf || (a.Key == "rtpmap" && pt == f && strings.EqualFold(enc, "telephone-event/8000"))
				}
				if !dtmf {
					t.Fatalf("format %s left in %s", f, out)
				}
			}
		}
	})
}

func TestQuote(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"plain":            {"busy", `"busy"`},
		"escapes":          {`a "b" \c`, `"a \"b\" \\c"`},
		"no header split":  {"x\r\nVia: evil", `"xVia: evil"`},
		"japanese kept":    {"録音できません", `"録音できません"`},
		"control dropped":  {"a\x00b\x7fc", `"abc"`},
		"empty is allowed": {"", `""`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) { assert.Equal(t, tc.want, quote(tc.in)) })
	}
}
