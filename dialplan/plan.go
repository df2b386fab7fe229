package dialplan

import (
	"fmt"
	"regexp"
	"strings"
)

// Default recording prefixes, in normalised form.
const (
	DefaultMobilePrefix = "007726" // 0077-26: office mobile / office number service
	DefaultFixedPrefix  = "007727" // 0077-27: fixed fibre line
)

// Config configures a [Plan]. The zero value is the service as offered: the
// default prefixes, the default extension pattern and no company numbers
// (every geographic or 050 number called from outside counts as the
// company's).
type Config struct {
	// MobilePrefix is the recording prefix of mobile lines, in any format
	// Normalize accepts. It must be a carrier identification code (00XY…),
	// which no national number starts with. Default 0077-26.
	MobilePrefix string
	// FixedPrefix is the recording prefix of fixed lines. Default 0077-27.
	FixedPrefix string
	// ExtensionPattern is a regular expression that an extension number
	// matches in full. Default: 2–4 digits not starting with 0
	// ("[1-9][0-9]{1,3}"). Emergency and 1XY service codes take precedence
	// over it.
	ExtensionPattern string
	// CompanyNumbers are the company's own fixed numbers (0ABJ or 050) whose
	// incoming calls are recorded. When empty, every incoming call to a
	// geographic or 050 number is recorded.
	CompanyNumbers []string
}

// Plan decides, per call, whether it is recorded and where it goes. A Plan
// is immutable and safe for concurrent use.
type Plan struct {
	mobilePrefix string
	fixedPrefix  string
	isExtension  func(string) bool
	company      map[string]struct{}
	// Explanations of a prefix on the wrong kind of line, naming this
	// plan's prefixes.
	reasonOnMobileLine, reasonOnFixedLine reasonText
}

// New validates cfg and returns a Plan. Errors wrap [ErrInvalidConfig] and
// name the offending field.
func New(cfg Config) (*Plan, error) {
	p := &Plan{isExtension: defaultExtension}
	var err error
	if p.mobilePrefix, err = configPrefix("MobilePrefix", cfg.MobilePrefix, DefaultMobilePrefix); err != nil {
		return nil, err
	}
	if p.fixedPrefix, err = configPrefix("FixedPrefix", cfg.FixedPrefix, DefaultFixedPrefix); err != nil {
		return nil, err
	}
	if strings.HasPrefix(p.mobilePrefix, p.fixedPrefix) || strings.HasPrefix(p.fixedPrefix, p.mobilePrefix) {
		return nil, fmt.Errorf("%w: MobilePrefix %s and FixedPrefix %s overlap", ErrInvalidConfig, p.mobilePrefix, p.fixedPrefix)
	}
	p.reasonOnMobileLine, p.reasonOnFixedLine = mismatchReasons(p.mobilePrefix, p.fixedPrefix)
	if cfg.ExtensionPattern != "" {
		re, err := regexp.Compile(`^(?:` + cfg.ExtensionPattern + `)$`)
		if err != nil {
			return nil, fmt.Errorf("%w: ExtensionPattern: %w", ErrInvalidConfig, err)
		}
		p.isExtension = re.MatchString
	}
	if len(cfg.CompanyNumbers) > 0 {
		p.company = make(map[string]struct{}, len(cfg.CompanyNumbers))
	}
	for i, raw := range cfg.CompanyNumbers {
		n, err := Normalize(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: CompanyNumbers[%d]: %w", ErrInvalidConfig, i, err)
		}
		if c := classify(n, LineFixed, p.isExtension).class; c != ClassGeographic && c != ClassIPPhone {
			return nil, fmt.Errorf("%w: CompanyNumbers[%d]: %s is a %s number, not a fixed (0ABJ or 050) number", ErrInvalidConfig, i, n, c)
		}
		p.company[n] = struct{}{}
	}
	return p, nil
}

func configPrefix(field, value, def string) (string, error) {
	if value == "" {
		return def, nil
	}
	n, err := Normalize(value)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrInvalidConfig, field, err)
	}
	if !isDigits(n) {
		return "", fmt.Errorf("%w: %s: %q must be digits only", ErrInvalidConfig, field, value)
	}
	// A prefix shaped like a national number (03…, 090…) would swallow the
	// calls to those numbers; the service's prefixes are carrier
	// identification codes, which no national number starts with.
	if !strings.HasPrefix(n, "00") || classifyCarrierCode(n).class != ClassCarrierCode {
		return "", fmt.Errorf("%w: %s: %q is not a carrier identification code (00XY…)", ErrInvalidConfig, field, value)
	}
	return n, nil
}

// Line is the contract line a call is made from.
type Line struct {
	Kind LineKind
	// Number is the line's own number, in any format Normalize accepts. It
	// may be empty when unknown; a 050 number restricts the destinations.
	Number string
}

// OutgoingCall is a call dialled by one of the company's users.
type OutgoingCall struct {
	Line    Line
	Dialled string // the digits as dialled, prefix included
	Roaming bool   // the user is roaming abroad
}

// IncomingCall is a call from the network to one of the company's numbers.
type IncomingCall struct {
	Called string // the called number (Request-URI user or To)
	// Caller is the calling number; empty, "anonymous" or anything that
	// does not normalise counts as a withheld caller ID, which is not an error.
	Caller string
	// ForwardedFrom is the number the call was first placed to, when the
	// network forwarded it (Diversion or History-Info); empty otherwise.
	ForwardedFrom string
}

// Decision is a plan's answer for one call.
type Decision struct {
	Verdict   Verdict
	Class     Class // the destination's class (outgoing) or the called number's (incoming)
	Record    bool
	Direction Direction
	Line      LineKind
	// Prefixed reports that the dialled number began with a recording prefix.
	Prefixed bool
	// Dialled is the normalised number as dialled, prefix included.
	Dialled string
	// Destination is the normalised number the call goes to, prefix stripped.
	Destination string
	// Caller is the normalised calling number of an incoming call, empty
	// when the caller ID is withheld.
	Caller string
	// Reason and ReasonJA explain the verdict in English and Japanese.
	Reason, ReasonJA string
}

// Refused reports whether the call must not be forwarded: every verdict
// except [VerdictRecord] and [VerdictConnectUnrecorded].
func (d Decision) Refused() bool {
	return d.Verdict != VerdictRecord && d.Verdict != VerdictConnectUnrecorded
}

func (d *Decision) explain(r reasonText) { d.Reason, d.ReasonJA = r.en, r.ja }

// DecideOutgoing decides an outgoing call. Input that does not normalise
// returns a [VerdictInvalid] decision together with an error wrapping
// [ErrInvalidNumber], and a line kind other than [LineFixed] and
// [LineMobile] one wrapping [ErrInvalidLineKind]; every other outcome,
// refusals included, is a decision with a nil error. For already normalised input it does not allocate.
func (p *Plan) DecideOutgoing(c OutgoingCall) (Decision, error) {
	d := Decision{Direction: Outgoing, Line: c.Line.Kind}
	if c.Line.Kind > LineMobile {
		d.explain(reasonUnknownLine)
		return d, fmt.Errorf("%w: %d", ErrInvalidLineKind, c.Line.Kind)
	}
	dialled, err := Normalize(c.Dialled)
	if err != nil {
		d.explain(reasonJunk)
		return d, err
	}
	lineIs050 := false
	if c.Line.Number != "" {
		ln, err := Normalize(c.Line.Number)
		if err != nil {
			d.explain(reasonJunk)
			return d, fmt.Errorf("line number: %w", err)
		}
		lineIs050 = classify(ln, LineFixed, defaultExtension).class == ClassIPPhone
	}

	d.Dialled, d.Destination = dialled, dialled
	prefixKind, prefixed := p.prefixOf(dialled)
	if prefixed {
		d.Prefixed = true
		d.Destination = dialled[len(p.prefixFor(prefixKind)):]
	}
	if d.Destination == "" {
		d.Class, d.Verdict = ClassInvalid, VerdictInvalid
		d.explain(reasonNoDestination)
		return d, nil
	}
	s := classify(d.Destination, c.Line.Kind, p.isExtension)
	d.Class = s.class

	switch {
	case c.Roaming:
		d.Verdict = VerdictConnectUnrecorded
		d.explain(reasonRoaming)
	case !prefixed:
		d.Verdict = VerdictConnectUnrecorded
		if s.class == ClassExtension {
			d.explain(reasonExtension)
		} else {
			d.explain(reasonUnprefixed)
		}
	case s.class == ClassEmergency:
		// Before the line check: whatever prefix was used, the user must be
		// told at once to dial the emergency number alone.
		d.Verdict = VerdictEmergency
		d.explain(reasonEmergency)
	case prefixKind != c.Line.Kind:
		d.Verdict = VerdictPrefixLineMismatch
		if c.Line.Kind == LineMobile {
			d.explain(p.reasonOnMobileLine)
		} else {
			d.explain(p.reasonOnFixedLine)
		}
	case s.class == ClassInvalid && d.Destination[0] != '0':
		// Only national numbers (0…) can follow the prefix; whatever else
		// was dialled is the caller's to place without it.
		d.Verdict = VerdictNotRecordable
		d.explain(reasonNotNational)
	case s.class == ClassInvalid:
		d.Verdict = VerdictInvalid
		d.explain(invalidReason(s.looksAs))
	case !s.class.Reachable():
		d.Verdict = VerdictNotRecordable
		d.explain(notRecordableReasons[s.class])
	case lineIs050 && (s.class == ClassFreecall || s.class == ClassNaviDial):
		d.Verdict = VerdictRestrictedFrom050
		d.explain(reasonRestricted050)
	default:
		d.Verdict, d.Record = VerdictRecord, true
		d.explain(reasonRecord)
	}
	return d, nil
}

// DecideIncoming decides a call from the network. Calls to the company's
// fixed numbers (geographic and 050), including forwarded calls and calls
// with a withheld caller ID, are recorded; calls to mobile numbers are not.
// A called number that does not normalise returns a [VerdictInvalid]
// decision and an error wrapping [ErrInvalidNumber].
func (p *Plan) DecideIncoming(c IncomingCall) (Decision, error) {
	d := Decision{Direction: Incoming}
	called, err := Normalize(c.Called)
	if err != nil {
		d.explain(reasonJunk)
		return d, err
	}
	d.Dialled, d.Destination = called, called
	if c.Caller != "" {
		if caller, err := Normalize(c.Caller); err == nil {
			d.Caller = caller
		}
	}
	s := classify(called, LineFixed, defaultExtension)
	d.Class = s.class
	d.Verdict = VerdictConnectUnrecorded
	switch {
	case p.isCompanyFixed(called, s.class):
		d.Verdict, d.Record = VerdictRecord, true
		d.explain(reasonIncomingRecord)
	case c.ForwardedFrom != "" && p.isCompanyFixedRaw(c.ForwardedFrom):
		d.Verdict, d.Record = VerdictRecord, true
		d.explain(reasonIncomingForwarded)
	case s.class == ClassMobile:
		d.explain(reasonIncomingMobile)
	default:
		d.explain(reasonIncomingOther)
	}
	return d, nil
}

func (p *Plan) isCompanyFixedRaw(number string) bool {
	n, err := Normalize(number)
	if err != nil {
		return false
	}
	return p.isCompanyFixed(n, classify(n, LineFixed, defaultExtension).class)
}

func (p *Plan) isCompanyFixed(n string, c Class) bool {
	if c != ClassGeographic && c != ClassIPPhone {
		return false
	}
	if p.company == nil {
		return true
	}
	_, ok := p.company[n]
	return ok
}

// prefixOf reports which line kind's recording prefix n starts with.
func (p *Plan) prefixOf(n string) (LineKind, bool) {
	switch {
	case strings.HasPrefix(n, p.mobilePrefix):
		return LineMobile, true
	case strings.HasPrefix(n, p.fixedPrefix):
		return LineFixed, true
	}
	return 0, false
}

func (p *Plan) prefixFor(k LineKind) string {
	if k == LineMobile {
		return p.mobilePrefix
	}
	return p.fixedPrefix
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
