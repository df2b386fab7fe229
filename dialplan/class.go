package dialplan

import "fmt"

// Class is the kind of number a digit string is under Japan's national
// numbering plan, as far as the recording service cares.
type Class uint8

// The classes. [ClassInvalid] is the zero value: a number of the wrong length
// for its class, or input that is not a number at all.
const (
	ClassInvalid       Class = iota
	ClassGeographic          // 0ABJ fixed numbers, 10 digits (03, 06, 0250 …)
	ClassIPPhone             // 050, 11 digits
	ClassMobile              // 060-[1-9], 070, 080, 090, 11 digits
	ClassFreecall            // 0120 (10 digits), 0800 (11 digits)
	ClassNaviDial            // 0570, 10 digits
	ClassInternational       // 010 + 7 to 15 digits
	ClassEmergency           // 110, 118, 119 (and 112, 911 from a mobile line)
	ClassService             // 1XY service numbers, 184/186, # and * dialling
	ClassCarrierCode         // 00XY, 002YZ, 0091XY, 001
	ClassOther0A0            // 020, 0200, 0600, unassigned 030/040
	ClassOther0AB0           // 0170, 0180, 0990 and the 091 special block
	ClassLocal               // a local number dialled without its area code
	ClassExtension           // a PBX extension, by the plan's extension pattern
)

var classNames = [...]string{
	ClassInvalid:       "invalid",
	ClassGeographic:    "geographic",
	ClassIPPhone:       "ip-phone",
	ClassMobile:        "mobile",
	ClassFreecall:      "freecall",
	ClassNaviDial:      "navi-dial",
	ClassInternational: "international",
	ClassEmergency:     "emergency",
	ClassService:       "service",
	ClassCarrierCode:   "carrier-code",
	ClassOther0A0:      "other-0a0",
	ClassOther0AB0:     "other-0ab0",
	ClassLocal:         "local",
	ClassExtension:     "extension",
}

// String returns the class's name as used in JSON and logs, e.g. "ip-phone".
func (c Class) String() string { return enumString(classNames[:], int(c), "Class") }

// MarshalText implements [encoding.TextMarshaler].
func (c Class) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler].
func (c *Class) UnmarshalText(b []byte) error {
	return enumParse(classNames[:], b, "class", (*uint8)(c))
}

// Reachable reports whether a call dialled with a recording prefix may go to
// a number of this class (before the 050-line restriction is applied).
func (c Class) Reachable() bool {
	switch c {
	case ClassGeographic, ClassIPPhone, ClassMobile, ClassFreecall, ClassNaviDial, ClassInternational:
		return true
	}
	return false
}

// Verdict is what the recording point does with a call.
type Verdict uint8

// The verdicts. Every verdict but [VerdictRecord] and
// [VerdictConnectUnrecorded] refuses the call; see [Decision.Refused].
const (
	// VerdictInvalid: a dialling error (wrong length, junk input).
	VerdictInvalid Verdict = iota
	// VerdictRecord: connect to the destination and record.
	VerdictRecord
	// VerdictConnectUnrecorded: connect as dialled, without recording or guidance.
	VerdictConnectUnrecorded
	// VerdictNotRecordable: the destination cannot be reached with the
	// recording prefix; the user must dial again without it, unrecorded.
	VerdictNotRecordable
	// VerdictEmergency: an emergency number was dialled with the prefix; the
	// PBX must route it immediately, without the prefix.
	VerdictEmergency
	// VerdictRestrictedFrom050: a 050 line dialled freecall or navi dial.
	VerdictRestrictedFrom050
	// VerdictPrefixLineMismatch: the prefix does not belong to the line's kind.
	VerdictPrefixLineMismatch
)

var verdictNames = [...]string{
	VerdictInvalid:            "invalid",
	VerdictRecord:             "record",
	VerdictConnectUnrecorded:  "connect-unrecorded",
	VerdictNotRecordable:      "not-recordable",
	VerdictEmergency:          "emergency",
	VerdictRestrictedFrom050:  "restricted-from-050",
	VerdictPrefixLineMismatch: "prefix-line-mismatch",
}

// String returns the verdict's name, e.g. "connect-unrecorded".
func (v Verdict) String() string { return enumString(verdictNames[:], int(v), "Verdict") }

// MarshalText implements [encoding.TextMarshaler].
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler].
func (v *Verdict) UnmarshalText(b []byte) error {
	return enumParse(verdictNames[:], b, "verdict", (*uint8)(v))
}

// LineKind is the kind of contract line a call is made from; it selects
// which recording prefix the line may use.
type LineKind uint8

// The line kinds. The zero value is a fixed line, the default of dialcheck.
const (
	LineFixed  LineKind = iota // a fixed fibre line: prefix 0077-27
	LineMobile                 // an office mobile / office number service line: prefix 0077-26
)

var lineKindNames = [...]string{LineFixed: "fixed", LineMobile: "mobile"}

// String returns "fixed" or "mobile".
func (k LineKind) String() string { return enumString(lineKindNames[:], int(k), "LineKind") }

// MarshalText implements [encoding.TextMarshaler].
func (k LineKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler]; it accepts "fixed"
// and "mobile".
func (k *LineKind) UnmarshalText(b []byte) error {
	return enumParse(lineKindNames[:], b, "line kind", (*uint8)(k))
}

// Direction says which way a call goes relative to the company. Its text
// ("outgoing", "incoming") is the SDK's one word for it: delivery.Direction
// holds that text, so a decision's direction goes into a recording's
// metadata as delivery.Direction(d.Direction.String()).
type Direction uint8

// The directions.
const (
	Outgoing Direction = iota // dialled by the company's user
	Incoming                  // to one of the company's numbers
)

var directionNames = [...]string{Outgoing: "outgoing", Incoming: "incoming"}

// String returns "outgoing" or "incoming".
func (d Direction) String() string { return enumString(directionNames[:], int(d), "Direction") }

// MarshalText implements [encoding.TextMarshaler].
func (d Direction) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func enumString(names []string, i int, typ string) string {
	if i >= 0 && i < len(names) {
		return names[i]
	}
	return fmt.Sprintf("%s(%d)", typ, i)
}

func enumParse(names []string, b []byte, what string, dst *uint8) error {
	for i, n := range names {
		if n == string(b) {
			*dst = uint8(i)
			return nil
		}
	}
	return fmt.Errorf("dialplan: unknown %s %q", what, b)
}
