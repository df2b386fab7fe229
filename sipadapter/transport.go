package sipadapter

import (
	"strings"

	"github.com/emiago/sipgo/sip"
)

// This file holds what the B2BUA changes in sipgo's transport layer so that
// it answers the RFC 4475 messages novelsc and longreq as RFC 3261 asks
// (corpus and test in testdata/rfc4475 and rfc4475_test.go).

// maxUDPPayload is the largest UDP payload over IPv4 (65,535 − 8-byte UDP
// header − 20-byte IP header).
const maxUDPPayload = 65507

// sipgoDefaultUDPMTU is sip.UDPMTUSize as sipgo v1.7 ships it.
const sipgoDefaultUDPMTU = 1500

// sipgo v1.7 refuses to send any UDP message longer than sip.UDPMTUSize −
// 200 = 1,300 bytes (ErrUDPMTUCongestion), a response included. RFC 3261
// puts that bound on requests only (section 18.1.1, where a client must
// then switch to TCP, which sipgo does not do either); a response goes back
// over the transport the request came on (section 18.2.2), whatever its
// size, and it echoes the request's Via, From, To and Call-ID, so a valid
// request of 1,300 bytes or more (RFC 4475 longreq, 3.1.1.7) got no answer
// at all. sipgo has no per-transport option for it, only this exported
// variable, read on every UDP write; it is set here, before any goroutine
// can read it, to what a UDP datagram can carry, and only if nobody changed
// sipgo's default. Requests the B2BUA sends over UDP above 1,300 bytes are
// then sent too (fragmented by IP) instead of failing the call.
func init() {
	if sip.UDPMTUSize == sipgoDefaultUDPMTU {
		sip.UDPMTUSize = maxUDPPayload + 200
	}
}

// novelScheme is the scheme the read filter puts in front of a
// Request-URI whose scheme sipgo cannot parse; the original URI follows it
// unchanged, as the opaque part sipgo keeps ([sip.Uri.Raw]). It is letters
// only, so sipgo parses it, and is never sip, sips or tel, so conform
// answers the request 416.
const novelScheme = "unsupportedscheme"

// novelSchemeFilter is the transport read filter of both sides. RFC 3261
// (section 25.1) defines a URI scheme as ALPHA *( ALPHA / DIGIT / "+" / "-"
// / "." ), but sipgo v1.7's URI parser accepts letters only, so a valid
// request whose Request-URI scheme has a digit, "+", "-" or "." (RFC 4475
// novelsc, 3.3.3: "soap.beep://…") fails to parse and is dropped, where
// RFC 3261 section 8.2.2.1 asks for 416 Unsupported URI Scheme. For such a
// UDP datagram the filter prefixes the Request-URI with novelScheme, so
// that the message parses and reaches the transaction layer and conform
// like any other: the source check, the 416, and its retransmissions and
// ACK are sipgo's and the B2BUA's usual ones. Nothing else in the datagram
// changes, and a scheme that RFC 3261 does not allow is left to fail as
// before.
//
// TCP is not filtered: a TCP read is not aligned with a message, so a
// start line cannot be told from a body there.
func novelSchemeFilter(props sip.TransportReadProps, data []byte) ([]byte, error) {
	if !strings.EqualFold(props.Transport, "UDP") {
		return data, nil
	}
	return prefixNovelScheme(data), nil
}

// prefixNovelScheme returns data with novelScheme ":" inserted before the
// Request-URI when data starts with a request line whose Request-URI
// scheme is valid for RFC 3261 but not letters only; otherwise data itself.
func prefixNovelScheme(data []byte) []byte {
	sp := 0
	for sp < len(data) && isTokenChar(data[sp]) {
		sp++
	}
	// "SIP/2.0" is no token ("/"), so a response never gets past here.
	if sp == 0 || sp >= len(data) || data[sp] != ' ' {
		return data
	}
	uri := data[sp+1:]
	colon := 0
	letters := true
	for ; colon < len(uri) && isSchemeChar(uri[colon]); colon++ {
		letters = letters && isAlpha(uri[colon])
	}
	if colon == 0 || colon >= len(uri) || uri[colon] != ':' || !isAlpha(uri[0]) || letters {
		return data
	}
	out := make([]byte, 0, len(data)+len(novelScheme)+1)
	out = append(out, data[:sp+1]...)
	out = append(out, novelScheme...)
	out = append(out, ':')
	return append(out, uri...)
}

// novelSchemeOf returns the scheme of a Request-URI that
// novelSchemeFilter prefixed, and whether it was prefixed.
func novelSchemeOf(u sip.Uri) (string, bool) {
	if !strings.EqualFold(u.Scheme, novelScheme) {
		return "", false
	}
	scheme, _, _ := strings.Cut(u.Raw(), ":")
	return scheme, true
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// isSchemeChar: ALPHA / DIGIT / "+" / "-" / "." (RFC 3261 section 25.1).
func isSchemeChar(c byte) bool {
	return isAlpha(c) || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'
}

// isTokenChar: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" /
// "'" / "~" (RFC 3261 section 25.1), the characters of a method.
func isTokenChar(c byte) bool {
	return isAlpha(c) || '0' <= c && c <= '9' || strings.IndexByte("-.!%*_+`'~", c) >= 0
}
