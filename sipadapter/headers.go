package sipadapter

import (
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// quote returns s as a SIP quoted-string (RFC 3261 §25.1): backslash and
// double quote escaped, control characters (CR, LF, …) dropped, so that a
// header value built from it can never be split or ended early. Non-ASCII
// UTF-8 passes through, as the grammar allows.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// reasonHeader is a Reason header (RFC 3326) with protocol SIP.
func reasonHeader(code int, text string) sip.Header {
	return sip.NewHeader("Reason", "SIP;cause="+strconv.Itoa(code)+";text="+quote(text))
}

// warning is a Warning header (RFC 3261 §20.43) with code 399
// (miscellaneous) from the side's address.
func warning(s *side, text string) sip.Header {
	return sip.NewHeader("Warning", "399 "+s.addr.String()+" "+quote(text))
}
