package dialplan

import (
	"strings"
	"unicode/utf8"
)

// Normalize turns a number as a person or a switch writes it into the digit
// string the rules work on: national format, ASCII digits, with '#' and '*'
// kept because they change what the number is.
//
// It accepts hyphens and the other dash characters (U+2010–2015, U+2212,
// U+FF0D, the long-vowel mark U+30FC), spaces including the ideographic space,
// dots and parentheses as separators; full-width digits; an E.164 number
// (+81 3 …, +81 (0)3 …, or +81 03 … become 03 …; another country code
// becomes the international call 010 + country code + number); and the user
// part of a sip:, sips: or tel: URI (URI parameters and percent-encoding
// handled).
//
// Input that is already normalised is returned as is, without allocating.
// Anything else that is not a number is an error wrapping [ErrInvalidNumber].
func Normalize(s string) (string, error) {
	if isNormalized(s) {
		return s, nil
	}
	return normalizeSlow(s)
}

// isNormalized reports whether s is non-empty and made only of ASCII digits,
// '#' and '*', the output alphabet of Normalize.
func isNormalized(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDialChar(s[i]) {
			return false
		}
	}
	return true
}

func isDialChar(c byte) bool { return c >= '0' && c <= '9' || c == '#' || c == '*' }

func normalizeSlow(input string) (string, error) {
	fail := func(reason string) (string, error) {
		return "", &NumberError{Input: input, Reason: reason}
	}
	s, err := uriUser(strings.TrimFunc(input, isSpace))
	if err != "" {
		return fail(err)
	}

	var b strings.Builder
	b.Grow(len(s))
	plus := false
	openParen := -1 // index in b where the open parenthesis group started
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return fail("invalid UTF-8")
			}
		}
		switch {
		case r >= '0' && r <= '9':
			b.WriteByte(byte(r))
		case r >= '０' && r <= '９':
			b.WriteByte(byte(r-'０') + '0')
		case r == '#' || r == '＃':
			b.WriteByte('#')
		case r == '*' || r == '＊':
			b.WriteByte('*')
		case r == '+' || r == '＋':
			if plus || b.Len() > 0 || openParen >= 0 {
				return fail("'+' is only allowed at the start")
			}
			plus = true
		case r == '(' || r == '（':
			if openParen >= 0 {
				return fail("nested parenthesis")
			}
			openParen = b.Len()
		case r == ')' || r == '）':
			if openParen < 0 {
				return fail("unbalanced parenthesis")
			}
			// "+81 (0)3 …": the (0) marks the national trunk prefix, which
			// the international form leaves out.
			if plus && b.Len() == openParen+1 && b.String()[openParen] == '0' {
				trimmed := b.String()[:openParen]
				b.Reset()
				b.WriteString(trimmed)
			}
			openParen = -1
		case isSeparator(r):
		default:
			return fail("unexpected character " + quote(string(r)))
		}
	}
	if openParen >= 0 {
		return fail("unbalanced parenthesis")
	}
	digits := b.String()
	if digits == "" {
		return fail("no digits")
	}
	if !plus {
		return digits, nil
	}
	if strings.ContainsAny(digits, "#*") {
		return fail("'#' or '*' in an international number")
	}
	if national, ok := strings.CutPrefix(digits, "81"); ok {
		if national == "" {
			return fail("no digits after the country code")
		}
		if national[0] == '0' { // "+81 03 …": the trunk 0 written anyway
			return national, nil
		}
		return "0" + national, nil
	}
	return internationalPrefix + digits, nil
}

// uriUser returns the user part of a sip:, sips: or tel: URI, percent-decoded
// and without parameters, or s itself when it is not a URI. A non-empty
// second result says why the URI is unusable.
func uriUser(s string) (string, string) {
	var rest string
	var ok bool
	scheme := ""
	for _, sc := range [...]string{"sip:", "sips:", "tel:"} {
		if len(s) >= len(sc) && strings.EqualFold(s[:len(sc)], sc) {
			rest, ok, scheme = s[len(sc):], true, sc
			break
		}
	}
	if !ok {
		return s, ""
	}
	if scheme != "tel:" {
		at := strings.IndexByte(rest, '@')
		if at < 0 {
			// sip:0312345678;user=phone without a host still names a number.
			at = strings.IndexAny(rest, ";?")
			if at < 0 {
				at = len(rest)
			}
		}
		rest = rest[:at]
	}
	// tel:03-1234-5678;phone-context=… and sip:0312345678;isub=1@host.
	if i := strings.IndexByte(rest, ';'); i >= 0 {
		rest = rest[:i]
	}
	if !strings.Contains(rest, "%") {
		return rest, ""
	}
	var b strings.Builder
	for i := 0; i < len(rest); i++ {
		if rest[i] != '%' {
			b.WriteByte(rest[i])
			continue
		}
		if i+2 >= len(rest) {
			return "", "truncated percent-encoding"
		}
		hi, lo := unhex(rest[i+1]), unhex(rest[i+2])
		if hi < 0 || lo < 0 {
			return "", "bad percent-encoding"
		}
		b.WriteByte(byte(hi<<4 | lo))
		i += 2
	}
	return b.String(), ""
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\u3000' || r == '\u00a0'
}

// isSeparator reports the characters people and switches put between digit
// groups: spaces, dots and every dash a Japanese input method produces.
func isSeparator(r rune) bool {
	switch {
	case isSpace(r), r == '-', r == '.', r == '．':
		return true
	case r >= '\u2010' && r <= '\u2015', r == '\u2212', r == '\uff0d', r == '\u30fc', r == '\ufe63', r == '\uff70':
		return true
	}
	return false
}
