package sipadapter

import (
	"errors"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// This file holds what the B2BUA adds to sipgo so that it reads SIP the way
// RFC 3261 and the RFC 4475 torture tests ask (corpus and test in
// testdata/rfc4475 and rfc4475_test.go).

// newSIPParser returns sipgo's parser with the address and Via header
// parsers made tolerant of linear whitespace around separators.
//
// RFC 3261 (section 25.1: SEMI, EQUAL, SLASH, COMMA) allows whitespace and
// line folding around ";", "=", "/" and ",", but sipgo v1.7 keeps it inside
// parameter names and values: "From: <sip:a@b> ;  tag = 98asjd8" gives the
// parameter "tag " = " 98asjd8", so the From tag is missing, the transaction
// layer cannot make a key and answers 400 (RFC 4475's wsinv). sipgo has no
// switch for this, but it lets the header parsers be replaced
// (sip.WithHeadersParsers), so each of these is wrapped to compact the
// whitespace first; a header without such whitespace is parsed untouched.
func newSIPParser(maxMessage int) *sip.Parser {
	def := sip.DefaultHeadersParser()
	parsers := make(map[string]sip.HeaderParser, len(def))
	for name, p := range def { // a copy: the default map is sipgo's package state
		parsers[name] = p
	}
	for _, name := range []string{"from", "f", "to", "t", "contact", "m"} {
		if p := parsers[name]; p != nil {
			parsers[name] = lwsTolerant(p, true)
		}
	}
	for _, name := range []string{"via", "v"} {
		if p := parsers[name]; p != nil {
			parsers[name] = lwsTolerant(p, false)
		}
	}
	p := sip.NewParser(sip.WithHeadersParsers(parsers))
	p.MaxMessageLength = maxMessage
	return p
}

// errCommaText is the text of the error by which a sipgo header parser says
// "one value ends at this comma, more follow"; its type is unexported.
const errCommaText = "comma detected"

// errListSplit is returned when a header list compacted by lwsTolerant
// cannot be split like the original; the message is then dropped as
// unparsable, as it would have been without the wrapper.
var errListSplit = errors.New("sipadapter: header list with whitespace around separators cannot be split")

// errUnbracketed says that an address with "?" is not enclosed in <>.
var errUnbracketed = errors.New("sipadapter: an address with headers must be enclosed in <>")

// lwsTolerant wraps a sipgo header parser so that it parses the value with
// compactLWS applied. For an address header (address) it also refuses an
// addr-spec with URI headers outside <>, which sipgo would read as header
// parameters (RFC 3261 section 20; RFC 4475 regbadct).
func lwsTolerant(parse sip.HeaderParser, address bool) sip.HeaderParser {
	return func(name []byte, text string) (sip.Header, error) {
		if address && unbracketedQuery(text) {
			return nil, errUnbracketed
		}
		compact := compactLWS(text)
		if compact == text {
			return parse(name, text)
		}
		h, err := parse(name, compact)
		if err == nil || err.Error() != errCommaText {
			return h, err
		}
		// A list: sipgo's caller takes the comma's offset from the error
		// and goes on with the rest of the original text, so the offset
		// must be one in the original. compactLWS keeps every comma, and
		// the parsers find the first one before they parse the value.
		if _, errOrig := parse(name, text); errOrig != nil && errOrig.Error() == errCommaText {
			return h, errOrig
		}
		return nil, errListSplit
	}
}

// unbracketedQuery says whether the first value of an address header list
// has a "?" outside quoted strings and <…>.
func unbracketedQuery(s string) bool {
	inQuote, inAngle := false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case inQuote:
			if c == '\\' {
				i++
			} else if c == '"' {
				inQuote = false
			}
		case inAngle:
			inAngle = c != '>'
		case c == '"':
			inQuote = true
		case c == '<':
			inAngle = true
		case c == ',':
			return false
		case c == '?':
			return true
		}
	}
	return false
}

// compactLWS removes the whitespace around ";", "=", "/" and "," and turns
// other runs of whitespace into one space, outside quoted strings and
// <…>; leading and trailing whitespace goes.
func compactLWS(s string) string {
	if !strings.ContainsAny(s, " \t") {
		return s
	}
	isSep := func(c byte) bool { return c == ';' || c == '=' || c == '/' || c == ',' }
	var b strings.Builder
	b.Grow(len(s))
	var last byte // the last byte written
	inQuote, inAngle, space := false, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote:
			b.WriteByte(c)
			if c == '\\' && i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			} else if c == '"' {
				inQuote = false
			}
			last = c
			continue
		case inAngle:
			b.WriteByte(c)
			inAngle = c != '>'
			last = c
			continue
		case c == ' ' || c == '\t':
			space = true
			continue
		}
		if space && b.Len() > 0 && !isSep(c) && !isSep(last) {
			b.WriteByte(' ')
		}
		space = false
		b.WriteByte(c)
		last = c
		switch c {
		case '"':
			inQuote = true
		case '<':
			inAngle = true
		}
	}
	return b.String()
}

// singleValued are the headers that RFC 3261 (section 7.3.1, 20) allows
// once per request; a request with two of one is answered 400
// (RFC 4475 multi01, mcl01).
var singleValued = []string{"From", "To", "Call-ID", "CSeq", "Max-Forwards", "Content-Length"}

// conform applies the checks RFC 3261 (section 8.2) asks of a UAS before
// it acts on a request, and answers a request that fails one. An ACK is
// never answered, so it is not checked.
func (b *B2BUA) conform(s *side, req *sip.Request, tx sip.ServerTransaction) bool {
	if req.IsAck() {
		return true
	}
	refuse := func(code int, reason, why string, hdrs ...sip.Header) bool {
		b.log.Info("request refused", "method", req.Method, "code", code, "reason", why, "source", req.Source())
		res := sip.NewResponseFromRequest(req, code, reason, nil)
		res.SipVersion = "SIP/2.0"
		for _, h := range append(hdrs, warning(s, why)) {
			res.AppendHeader(h)
		}
		_ = tx.Respond(res)
		return false
	}
	if req.SipVersion != "SIP/2.0" { // RFC 3261 section 21.5.6; RFC 4475 badvers
		return refuse(505, "Version Not Supported", "SIP version "+req.SipVersion+" not supported")
	}
	for _, name := range singleValued {
		if hs := req.GetHeaders(name); len(hs) > 1 {
			return refuse(sip.StatusBadRequest, "Bad Request", "more than one "+name)
		}
	}
	// sipgo upper-cases the request line's method but not the CSeq's.
	if cseq := req.CSeq(); cseq != nil && !strings.EqualFold(strings.TrimSpace(string(cseq.MethodName)), string(req.Method)) {
		return refuse(sip.StatusBadRequest, "Bad Request", "CSeq method does not match the request method")
	}
	switch strings.ToLower(req.Recipient.Scheme) {
	case "sip", "sips", "tel":
	default: // RFC 3261 section 8.2.2.1; RFC 4475 unkscm, novelsc
		scheme := req.Recipient.Scheme
		if novel, ok := novelSchemeOf(req.Recipient); ok {
			scheme = novel
		}
		return refuse(416, "Unsupported URI Scheme", "Request-URI scheme "+scheme+" not supported")
	}
	if req.Recipient.Headers != nil && req.Recipient.Headers.Length() > 0 { // RFC 3261 section 19.1.5; RFC 4475 escruri
		return refuse(sip.StatusBadRequest, "Bad Request", "headers in the Request-URI")
	}
	if !req.IsCancel() { // RFC 3261 section 8.2.2.3: no extension is supported
		var unsupported []string
		for _, h := range req.GetHeaders("Require") {
			for _, opt := range strings.Split(h.Value(), ",") {
				if opt = strings.TrimSpace(opt); opt != "" {
					unsupported = append(unsupported, opt)
				}
			}
		}
		if len(unsupported) > 0 {
			return refuse(420, "Bad Extension", "extension required",
				sip.NewHeader("Unsupported", strings.Join(unsupported, ", ")))
		}
	}
	if hs := req.GetHeaders("Accept"); req.IsInvite() && len(hs) > 0 && !acceptsSDP(hs) { // RFC 3261 section 21.4.7; RFC 4475 sdp01
		return refuse(406, "Not Acceptable", "the answer would be application/sdp")
	}
	if req.IsInvite() && len(req.Body()) > 0 {
		if ct := req.ContentType(); ct != nil && !isSDP(ct.Value()) { // RFC 3261 section 8.2.3; RFC 4475 invut
			return refuse(415, "Unsupported Media Type", "body of type "+ct.Value()+" not supported",
				sip.NewHeader("Accept", "application/sdp"))
		}
	}
	return true
}

// isSDP says whether a Content-Type value names application/sdp.
func isSDP(contentType string) bool {
	media, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(media), "application/sdp")
}

// acceptsSDP says whether Accept headers allow an application/sdp body; an
// empty Accept allows none (RFC 3261 section 20.1).
func acceptsSDP(accept []sip.Header) bool {
	for _, h := range accept {
		for _, r := range strings.Split(h.Value(), ",") {
			media, _, _ := strings.Cut(r, ";")
			switch strings.ToLower(strings.TrimSpace(media)) {
			case "application/sdp", "application/*", "*/*":
				return true
			}
		}
	}
	return false
}
