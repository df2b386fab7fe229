package dialplan

import "strings"

const internationalPrefix = "010"

// Length rules of the national numbering plan.
const (
	geographicLen       = 10 // 0ABJ-EFGHJK, whatever the split between area code and local number
	nonGeographicLen    = 11 // 050, 060, 070, 080, 090, 0800, 020, 0600
	m2mLongLen          = 14 // 0200 M2M numbers
	serviceLen          = 10 // 0120, 0570, 0170, 0180, 0990
	intlMinDigits       = 7  // after 010: country code + national number
	intlMaxDigits       = 15 // E.164's maximum
	localMinLen         = 5  // a local number without the area code
	localMaxLen         = 8
	serviceCodeLen      = 3 // 1XY
	minCarrierCodeLen   = 4 // 00XY
	carrier002Len       = 5 // 002YZ
	carrier0091Len      = 6 // 0091XY
	kddiIntlCarrierCode = "001"
)

// shape pairs the class a number falls in with the class its leading digits
// announce. They differ only when the class is [ClassInvalid]: a number with
// the wrong length for what it looks like, which the reason names.
type shape struct {
	class   Class
	looksAs Class
}

func invalidAs(c Class) shape { return shape{class: ClassInvalid, looksAs: c} }

func valid(c Class) shape { return shape{class: c, looksAs: c} }

// lengthIs returns c when the number has the class's exact length, and an
// invalid shape that remembers c otherwise.
func lengthIs(n string, c Class, want int) shape {
	if len(n) == want {
		return valid(c)
	}
	return invalidAs(c)
}

// Classify returns the class of a number under the national numbering plan.
// It normalises the number first (see [Normalize]) and returns an error
// wrapping [ErrInvalidNumber] when that fails.
//
// Classify knows no line or PBX: it reports 112 and 911 as the service and
// local shapes they have from a fixed line, and any 2–4 digit number not
// starting with 0 as an extension (the default extension pattern). Use
// [Plan.DecideOutgoing] for the line-aware decision.
func Classify(number string) (Class, error) {
	n, err := Normalize(number)
	if err != nil {
		return ClassInvalid, err
	}
	return classify(n, LineFixed, defaultExtension).class, nil
}

// classify decides the shape of a normalised number. isExtension is the
// plan's extension pattern; it is consulted after the emergency and 1XY
// service codes, which the network routes before any PBX numbering.
func classify(n string, line LineKind, isExtension func(string) bool) shape {
	if strings.ContainsAny(n, "#*") {
		return valid(ClassService) // # dialling, feature codes
	}
	if n[0] == '0' {
		return classifyZero(n)
	}
	if len(n) == serviceCodeLen {
		switch n {
		case "110", "118", "119":
			return valid(ClassEmergency)
		case "112", "911":
			// Mobile networks send these to the police (110); from a fixed
			// line they are not emergency numbers.
			if line == LineMobile {
				return valid(ClassEmergency)
			}
		}
	}
	if n[0] == '1' {
		if len(n) == serviceCodeLen {
			return valid(ClassService)
		}
		// 184/186 + number: withhold or send the caller ID for one call.
		if len(n) > serviceCodeLen && (n[:3] == "184" || n[:3] == "186") && n[3] == '0' {
			return valid(ClassService)
		}
	}
	if isExtension(n) {
		return valid(ClassExtension)
	}
	if n[0] != '1' && len(n) >= localMinLen && len(n) <= localMaxLen {
		return valid(ClassLocal)
	}
	return invalidAs(ClassInvalid)
}

// classifyZero classifies numbers starting with 0 by their leading digits.
// Service codes are matched from explicit lists, never from digit patterns:
// many real area codes (0250, 0470, 0740, 0820, 0880, 0980 …) are shaped
// like 0AB0 service codes.
func classifyZero(n string) shape {
	if len(n) < 3 {
		return invalidAs(ClassGeographic)
	}
	switch {
	case n[1] == '0':
		return classifyCarrierCode(n)
	case n[:3] == internationalPrefix:
		if d := len(n) - len(internationalPrefix); d >= intlMinDigits && d <= intlMaxDigits {
			return valid(ClassInternational)
		}
		return invalidAs(ClassInternational)
	case n[2] == '0': // 0A0 with A in 2..9
		return classify0A0(n)
	case n[:3] == "091":
		return valid(ClassOther0AB0) // special block; lengths vary by use
	}
	if len(n) >= 4 {
		switch n[:4] {
		case "0120":
			return lengthIs(n, ClassFreecall, serviceLen)
		case "0570":
			return lengthIs(n, ClassNaviDial, serviceLen)
		case "0170", "0180", "0990":
			return lengthIs(n, ClassOther0AB0, serviceLen)
		}
	}
	return lengthIs(n, ClassGeographic, geographicLen)
}

func classify0A0(n string) shape {
	fourth := byte(0)
	if len(n) >= 4 {
		fourth = n[3]
	}
	switch n[1] {
	case '2': // M2M and pagers
		if fourth == '0' {
			return lengthIs(n, ClassOther0A0, m2mLongLen)
		}
		return lengthIs(n, ClassOther0A0, nonGeographicLen)
	case '3', '4': // unassigned
		return valid(ClassOther0A0)
	case '5':
		return mobileLike(n, ClassIPPhone)
	case '6':
		if fourth == '0' { // 0600: FMC
			return lengthIs(n, ClassOther0A0, nonGeographicLen)
		}
		return mobileLike(n, ClassMobile) // 060-[1-9]: mobile since 2026
	case '8':
		if fourth == '0' { // 080-0123-4567 is the freecall 0800-123-4567
			return lengthIs(n, ClassFreecall, nonGeographicLen)
		}
	}
	return mobileLike(n, ClassMobile) // 070, 080, 090
}

// mobileLike checks the 11-digit 0A0-CDEF-GHJK shape whose fourth digit is
// never 0.
func mobileLike(n string, c Class) shape {
	if len(n) >= 4 && n[3] == '0' {
		return invalidAs(c)
	}
	return lengthIs(n, c, nonGeographicLen)
}

// classifyCarrierCode handles 00…: carrier selection codes. Anything dialled
// after the code belongs to that carrier, so only the code's own length is
// checked.
func classifyCarrierCode(n string) shape {
	if len(n) < carrierCodeLen(n) {
		return invalidAs(ClassCarrierCode)
	}
	return valid(ClassCarrierCode)
}

// carrierCodeLen returns the length of the carrier identification code that
// n, a number starting with 00, begins with.
func carrierCodeLen(n string) int {
	switch {
	case strings.HasPrefix(n, kddiIntlCarrierCode):
		return len(kddiIntlCarrierCode)
	case strings.HasPrefix(n, "002"):
		return carrier002Len
	case strings.HasPrefix(n, "0091"):
		return carrier0091Len
	}
	return minCarrierCodeLen
}

// defaultExtension is the default extension pattern: 2–4 digits, not
// starting with 0.
func defaultExtension(n string) bool {
	return len(n) >= 2 && len(n) <= 4 && n[0] != '0' && isDigits(n)
}
