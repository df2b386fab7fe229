package sipadapter

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"

	"github.com/callrec/callrec/dialplan"
	"github.com/emiago/sipgo/sip"
)

// Limits on the network-asserted headers the B2BUA reads: anything beyond
// them is treated as absent rather than parsed at length.
const (
	maxHistoryEntries = 32
	maxAssertedLen    = 2048
)

// diversion is what the network says about a forwarded (or freecall
// translated) incoming call: the original target and why it was
// retargeted.
type diversion struct {
	from   string // the original target's URI, as the header wrote it
	reason string // RFC 5806 reason, or "cause=N" of RFC 4458
	header string // "History-Info" or "Diversion"
}

// trusted reports whether req comes from a source whose network-asserted
// headers (History-Info, Diversion, P-Visited-Network-ID,
// P-Access-Network-Info) are believed: [SideConfig.Trusted], or the side's
// Networks when Trusted is empty. A side with neither trusts no one.
func (s *side) trusted(req *sip.Request) bool {
	nets := s.cfg.Trusted
	if len(nets) == 0 {
		nets = s.cfg.Networks
	}
	if len(nets) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, p := range nets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// diversionOf reads the original target of a forwarded call from
// History-Info (RFC 7044) or, failing that, Diversion (RFC 5806). It
// reports false when neither is present or usable; malformed headers are
// ignored, never half-read.
func diversionOf(req *sip.Request) (diversion, bool) {
	if d, ok := historyInfo(headerValues(req, "History-Info")); ok {
		return d, true
	}
	return diversionHeader(headerValues(req, "Diversion"))
}

// headerValues joins every header named name into one list of
// comma-separated entries, or nil when they are too long to be genuine.
func headerValues(req *sip.Request, name string) []string {
	var out []string
	total := 0
	for _, h := range req.GetHeaders(name) {
		v := h.Value()
		total += len(v)
		if total > maxAssertedLen {
			return nil
		}
		entries, ok := splitEntries(v)
		if !ok {
			return nil
		}
		out = append(out, entries...)
	}
	if len(out) > maxHistoryEntries {
		return nil
	}
	return out
}

// splitEntries splits a header value at the commas that separate its
// entries: those outside quoted strings and angle brackets.
func splitEntries(v string) ([]string, bool) {
	var out []string
	inQuote, inAngle, start := false, false, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '<':
			if inAngle {
				return nil, false
			}
			inAngle = true
		case c == '>':
			if !inAngle {
				return nil, false
			}
			inAngle = false
		case c == ',' && !inAngle:
			out = append(out, strings.TrimSpace(v[start:i]))
			start = i + 1
		}
	}
	if inQuote || inAngle {
		return nil, false
	}
	return append(out, strings.TrimSpace(v[start:])), true
}

// entry is one name-addr with its header parameters.
type entry struct {
	uri    string
	params map[string]string
}

// parseEntry reads `"name" <uri>;p=v;…`. The URI must be in angle
// brackets, as both RFCs' grammars require for entries with parameters.
func parseEntry(e string) (entry, bool) {
	lt := strings.LastIndexByte(e, '<')
	gt := strings.LastIndexByte(e, '>')
	if lt < 0 || gt < lt {
		return entry{}, false
	}
	out := entry{uri: strings.TrimSpace(e[lt+1 : gt]), params: map[string]string{}}
	if out.uri == "" {
		return entry{}, false
	}
	for _, p := range strings.Split(e[gt+1:], ";") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		out.params[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(v), `"`)
	}
	return out, true
}

// historyInfo takes the first entry as the original target (entries are
// in the order the request visited them) and the cause (RFC 4458) of the
// entry it was retargeted to as the reason.
func historyInfo(values []string) (diversion, bool) {
	if len(values) < 2 {
		// One entry is the request's own target: nothing was retargeted.
		return diversion{}, false
	}
	var entries []entry
	for _, v := range values {
		e, ok := parseEntry(v)
		if !ok {
			return diversion{}, false
		}
		entries = append(entries, e)
	}
	d := diversion{from: entries[0].uri, header: "History-Info"}
	for _, e := range entries[1:] {
		if c := uriParam(e.uri, "cause"); c != "" {
			d.reason = causeReason(c)
			break
		}
		if _, ok := e.params["mp"]; ok {
			d.reason = "mp"
		}
	}
	if d.reason == "" {
		d.reason = "retargeted"
	}
	return d, true
}

// diversionHeader takes the last Diversion entry, the oldest (RFC 5806
// lists the most recent first), as the original target.
func diversionHeader(values []string) (diversion, bool) {
	if len(values) == 0 {
		return diversion{}, false
	}
	var last entry
	for _, v := range values {
		e, ok := parseEntry(v)
		if !ok {
			return diversion{}, false
		}
		last = e
	}
	reason := last.params["reason"]
	if reason == "" || !isToken(reason) {
		reason = "unknown"
	}
	return diversion{from: last.uri, reason: reason, header: "Diversion"}, true
}

// uriParam returns a URI parameter of the host part of uri.
func uriParam(uri, name string) string {
	if at := strings.IndexByte(uri, '@'); at >= 0 {
		uri = uri[at:]
	}
	if q := strings.IndexByte(uri, '?'); q >= 0 {
		uri = uri[:q]
	}
	for _, p := range strings.Split(uri, ";")[1:] {
		k, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// causeReason names an RFC 4458 cause with the matching RFC 5806 reason.
func causeReason(cause string) string {
	n, err := strconv.Atoi(cause)
	if err != nil || n < 100 || n > 699 {
		return "unknown"
	}
	switch n {
	case 302:
		return "unconditional"
	case 486:
		return "user-busy"
	case 408:
		return "no-answer"
	case 480, 487:
		return "deflection"
	case 503:
		return "unavailable"
	case 404:
		return "unknown"
	}
	return "cause=" + strconv.Itoa(n)
}

func isToken(s string) bool {
	if len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return s != ""
}

// decideIncoming asks the dial plan about a call from the network. A
// History-Info or Diversion header counts only from a trusted source
// (see [SideConfig.Trusted]): from anyone else it could turn any call into
// a recorded one. A call recorded because it was forwarded from a company
// number belongs to that number's line.
func (c *call) decideIncoming(req *sip.Request) (dialplan.Decision, error) {
	b := c.b
	in := dialplan.IncomingCall{Called: req.Recipient.User, Caller: req.From().Address.User}
	if in.Called == "" {
		in.Called = req.To().Address.User
	}
	if d, ok := diversionOf(req); ok {
		if c.in.trusted(req) {
			c.div, in.ForwardedFrom = d, d.from
		} else {
			b.log.Info("ignoring "+d.header+" from an untrusted source", "call_id", c.callID, "source", req.Source())
		}
	}
	dec, err := b.cfg.Plan.DecideIncoming(in)
	if err != nil || !dec.Record {
		return dec, err
	}
	number := dec.Destination
	if dec.ForwardedFrom != "" {
		direct, _ := b.cfg.Plan.DecideIncoming(dialplan.IncomingCall{Called: in.Called})
		if !direct.Record {
			number = dec.ForwardedFrom
		}
	}
	if c.line, err = b.cfg.Lines.Line(c.ctx, number, c.src); err != nil {
		if !errors.Is(err, ErrUnknownLine) {
			return dec, &lineLookupError{number: number, err: err}
		}
		// A company number the dial plan records but provisioning
		// does not know: the documented default line.
		b.log.Info("unknown line: default fixed line", "call_id", c.callID, "number", number, "error", err)
		c.line = Line{Kind: dialplan.LineFixed, Number: number}
	}
	return dec, nil
}
