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
	// CompanyNumbers are the company's own numbers whose incoming calls are
	// recorded: fixed numbers (0ABJ or 050) and the freecall numbers (0120,
	// 0800) that terminate on its lines. An incoming call is the company's
	// when the Request-URI or the original target of a forwarded call
	// (History-Info, Diversion) is one of them. When empty, every incoming
	// call to a geographic or 050 number is recorded, and no freecall one.
	CompanyNumbers []string
	// IncomingExtensions are extension numbers of the carrier's business
	// extension network whose incoming calls are recorded. Outgoing
	// extension calls are never recorded.
	IncomingExtensions []string
	// IncomingExtensionPattern is a regular expression that the called
	// number of a recorded incoming extension call matches in full, besides
	// IncomingExtensions. Empty matches nothing.
	IncomingExtensionPattern string
}

// Plan decides, per call, whether it is recorded and where it goes. A Plan
// is immutable and safe for concurrent use.
type Plan struct {
	mobilePrefix string
	fixedPrefix  string
	isExtension  func(string) bool
	company      map[string]struct{}
	// incomingExt reports the extensions whose incoming calls are recorded.
	incomingExt func(string) bool
	// Explanations of a prefix on the wrong kind of line, naming this
	// plan's prefixes.
	reasonOnMobileLine, reasonOnFixedLine reasonText
}

// New validates cfg and returns a Plan. Errors wrap [ErrInvalidConfig] and
// name the offending field.
func New(cfg Config) (*Plan, error) {
	p := &Plan{isExtension: defaultExtension, incomingExt: func(string) bool { return false }}
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
		if c := classify(n, LineFixed, p.isExtension).class; c != ClassGeographic && c != ClassIPPhone && c != ClassFreecall {
			return nil, fmt.Errorf("%w: CompanyNumbers[%d]: %s is a %s number, not a fixed (0ABJ, 050) or freecall (0120, 0800) number", ErrInvalidConfig, i, n, c)
		}
		p.company[n] = struct{}{}
	}
	if err := p.setIncomingExtensions(cfg.IncomingExtensions, cfg.IncomingExtensionPattern); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Plan) setIncomingExtensions(list []string, pattern string) error {
	exts := make(map[string]struct{}, len(list))
	for i, raw := range list {
		n, err := Normalize(raw)
		if err != nil {
			return fmt.Errorf("%w: IncomingExtensions[%d]: %w", ErrInvalidConfig, i, err)
		}
		if !isDigits(n) || n[0] == '0' {
			return fmt.Errorf("%w: IncomingExtensions[%d]: %q is not an extension number (digits, not starting with 0)", ErrInvalidConfig, i, raw)
		}
		if c := classify(n, LineFixed, func(string) bool { return false }).class; c == ClassEmergency || c == ClassService {
			return fmt.Errorf("%w: IncomingExtensions[%d]: %s is a %s number", ErrInvalidConfig, i, n, c)
		}
		exts[n] = struct{}{}
	}
	var re *regexp.Regexp
	if pattern != "" {
		var err error
		if re, err = regexp.Compile(`^(?:` + pattern + `)$`); err != nil {
			return fmt.Errorf("%w: IncomingExtensionPattern: %w", ErrInvalidConfig, err)
		}
	}
	if len(exts) == 0 && re == nil {
		return nil
	}
	p.incomingExt = func(n string) bool {
		if _, ok := exts[n]; ok {
			return true
		}
		// A national number is never an extension, whatever the pattern.
		return re != nil && n[0] != '0' && re.MatchString(n)
	}
	return nil
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
	// Mode says which outgoing calls are recorded; the zero value records
	// prefixed calls only.
	Mode RecordMode
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
	// network forwarded it or translated a freecall number (Diversion or
	// History-Info); empty otherwise. Only a trusted network's word may go
	// here: it can make a call recorded.
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
	// ForwardedFrom is the normalised original target of a forwarded
	// incoming call (IncomingCall.ForwardedFrom), empty otherwise.
	ForwardedFrom string
	// WithholdCallerID reports an outgoing call dialled with 184 in front of
	// the number (or of the prefix): the caller ID must be withheld toward
	// the callee. PresentCallerID reports 186, presenting it.
	WithholdCallerID, PresentCallerID bool
	// OnDemand reports an unrecorded call of a [RecordOnDemand] line whose
	// recording the company's user may start during the call.
	OnDemand bool
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
// [LineMobile] one wrapping [ErrInvalidLineKind] (a record mode out of
// range, [ErrInvalidRecordMode]); every other outcome, refusals included,
// is a decision with a nil error. For already normalised input it does not
// allocate.
//
// 184 or 186 dialled in front of the recording prefix (184-0077-27-03…)
// is taken off and reported in [Decision.WithholdCallerID] or
// [Decision.PresentCallerID]; the rest is decided as if dialled alone. In
// front of an unprefixed number it stays part of the destination, unless a
// [RecordAll] line records the call.
func (p *Plan) DecideOutgoing(c OutgoingCall) (Decision, error) {
	d := Decision{Direction: Outgoing, Line: c.Line.Kind}
	if c.Line.Kind > LineMobile {
		d.explain(reasonUnknownLine)
		return d, fmt.Errorf("%w: %d", ErrInvalidLineKind, c.Line.Kind)
	}
	if c.Line.Mode > RecordOnDemand {
		d.explain(reasonUnknownMode)
		return d, fmt.Errorf("%w: %d", ErrInvalidRecordMode, c.Line.Mode)
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
	cid, number := cutCallerIDCode(dialled)
	prefixKind, prefixed := p.prefixOf(number)
	if !prefixed && (c.Line.Mode == RecordPrefix || cid != "" && number[0] != '0') {
		// 184/186 before an unprefixed number: the network's business.
		cid, number = "", dialled
		prefixKind, prefixed = p.prefixOf(number)
	}
	d.Destination = number
	if prefixed {
		d.Prefixed = true
		d.Destination = number[len(p.prefixFor(prefixKind)):]
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
		allowed := s.class.Reachable() && !(lineIs050 && (s.class == ClassFreecall || s.class == ClassNaviDial))
		switch {
		case allowed && c.Line.Mode == RecordAll:
			d.Verdict, d.Record = VerdictRecord, true
			d.explain(reasonRecordAll)
		case allowed && c.Line.Mode == RecordOnDemand && cid == "":
			d.OnDemand = true
			d.explain(reasonOnDemand)
		case s.class == ClassExtension:
			d.explain(reasonExtension)
		default:
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
	switch {
	case cid == "":
	case d.Record:
		d.WithholdCallerID, d.PresentCallerID = cid == codeWithhold, cid == codePresent
	case d.Verdict == VerdictConnectUnrecorded:
		// Connected without recording: the network applies the code.
		d.Destination = cid + d.Destination
	}
	return d, nil
}

// DecideIncoming decides a call from the network. Calls to the company's
// numbers (geographic, 050 and freecall, see [Config.CompanyNumbers]),
// including calls forwarded from them and calls with a withheld caller ID,
// are recorded, as are calls to the recorded incoming extensions; calls to
// other numbers, mobile ones included, are not. A called number that does
// not normalise returns a [VerdictInvalid] decision and an error wrapping
// [ErrInvalidNumber].
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
	var fwdClass Class
	if c.ForwardedFrom != "" {
		if n, err := Normalize(c.ForwardedFrom); err == nil {
			d.ForwardedFrom = n
			fwdClass = classify(n, LineFixed, defaultExtension).class
		}
	}
	s := classify(called, LineFixed, defaultExtension)
	d.Class = s.class
	d.Verdict = VerdictConnectUnrecorded
	switch {
	case p.isCompany(called, s.class):
		d.Verdict, d.Record = VerdictRecord, true
		if s.class == ClassFreecall {
			d.explain(reasonIncomingFreecall)
		} else {
			d.explain(reasonIncomingRecord)
		}
	case d.ForwardedFrom != "" && p.isCompany(d.ForwardedFrom, fwdClass):
		d.Verdict, d.Record = VerdictRecord, true
		if fwdClass == ClassFreecall {
			d.explain(reasonIncomingFreecall)
		} else {
			d.explain(reasonIncomingForwarded)
		}
	case isDigits(called) && p.incomingExt(called):
		d.Class = ClassExtension
		d.Verdict, d.Record = VerdictRecord, true
		d.explain(reasonIncomingExtension)
	case s.class == ClassMobile:
		d.explain(reasonIncomingMobile)
	default:
		d.explain(reasonIncomingOther)
	}
	return d, nil
}

// isCompany reports whether n, of class c, is one of the company's
// numbers: a listed one, or any fixed one when none is listed.
func (p *Plan) isCompany(n string, c Class) bool {
	switch {
	case c == ClassFreecall:
		_, ok := p.company[n]
		return ok
	case c != ClassGeographic && c != ClassIPPhone:
		return false
	case p.company == nil:
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
