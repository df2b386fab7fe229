package sipadapter

import (
	"net"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNovelSchemeFilter: the read filter prefixes only a UDP request whose
// Request-URI scheme RFC 3261 allows and sipgo refuses, and the result
// parses to a Request-URI that conform answers 416 with the original
// scheme.
func TestNovelSchemeFilter(t *testing.T) {
	udp := sip.TransportReadProps{Transport: "UDP", RemoteAddr: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060}}
	const rest = " SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n\r\n"
	for in, want := range map[string]string{
		"OPTIONS soap.beep://192.0.2.103:3002": "OPTIONS unsupportedscheme:soap.beep://192.0.2.103:3002",
		"INVITE h323:user@example.com":         "INVITE unsupportedscheme:h323:user@example.com",
		"MESSAGE im+x-y.z:a":                   "MESSAGE unsupportedscheme:im+x-y.z:a",
		// Parsed by sipgo as they are.
		"INVITE sip:user@example.com":     "",
		"OPTIONS nobodyKnowsThisScheme:x": "",
		// Not a scheme for RFC 3261 (25.1): left to fail.
		"OPTIONS 1abc:x":  "",
		"OPTIONS a_b.c:x": "",
		"OPTIONS .ab:x":   "",
		"OPTIONS ab.c":    "",
		"OPTIONS  ab.c:x": "",
		// Not a request line.
		"SIP/2.0 200 OK":     "",
		"\r\nOPTIONS ab.c:x": "",
		"OPTIONS":            "",
		"":                   "",
	} {
		data := []byte(in + rest)
		got, err := novelSchemeFilter(udp, data)
		require.NoError(t, err)
		if want == "" {
			assert.Equal(t, in+rest, string(got), "%q unchanged", in)
			continue
		}
		assert.Equal(t, want+rest, string(got), in)
		assert.Equal(t, in+rest, string(data), "%q: the read buffer is not written", in)
	}

	tcp := udp
	tcp.Transport = "TCP"
	got, err := novelSchemeFilter(tcp, []byte("OPTIONS soap.beep://192.0.2.103:3002"+rest))
	require.NoError(t, err)
	assert.Equal(t, "OPTIONS soap.beep://192.0.2.103:3002"+rest, string(got), "TCP is not filtered")

	// novelsc, filtered, parses; its Request-URI names the original scheme.
	msg, err := novelSchemeFilter(udp, readTorture(t, "novelsc"))
	require.NoError(t, err)
	m, err := newSIPParser(DefaultMaxMessageSize).ParseSIP(msg)
	require.NoError(t, err)
	req := m.(*sip.Request)
	scheme, ok := novelSchemeOf(req.Recipient)
	assert.True(t, ok)
	assert.Equal(t, "soap.beep", scheme)
	assert.Equal(t, "novelsc.asdfasser0q239nwsdfasdkl34", req.CallID().Value())
	_, ok = novelSchemeOf(sip.Uri{Scheme: "sip", Host: "example.com"})
	assert.False(t, ok)
}

// TestUDPResponseSizeLimit: sipgo sends UDP messages up to a datagram's
// size, no longer only up to 1,300 bytes.
func TestUDPResponseSizeLimit(t *testing.T) {
	assert.Equal(t, maxUDPPayload, sip.UDPMTUSize-200)
}
