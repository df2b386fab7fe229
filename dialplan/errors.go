package dialplan

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// ErrInvalidNumber reports input that is not a dialable number: letters,
// stray punctuation, an empty string, a misplaced '+'. The wrapping error
// names the offending input.
var ErrInvalidNumber = errors.New("dialplan: invalid number")

// ErrInvalidConfig reports a [Config] that [New] cannot build a [Plan] from.
// The wrapping error names the offending field.
var ErrInvalidConfig = errors.New("dialplan: invalid config")

// ErrInvalidLineKind reports an [OutgoingCall] whose line kind is neither
// [LineFixed] nor [LineMobile]: the plan cannot tell which prefix the line
// may use.
var ErrInvalidLineKind = errors.New("dialplan: invalid line kind")

// ErrInvalidRecordMode reports an [OutgoingCall] whose line's record mode
// is none of [RecordPrefix], [RecordAll] and [RecordOnDemand].
var ErrInvalidRecordMode = errors.New("dialplan: invalid record mode")

// NumberError is the error returned for input that does not normalise. It
// unwraps to [ErrInvalidNumber].
type NumberError struct {
	Input  string // the input as given
	Reason string // what is wrong with it, lower case
}

func (e *NumberError) Error() string {
	return "dialplan: invalid number " + quote(e.Input) + ": " + e.Reason
}

// Unwrap returns [ErrInvalidNumber].
func (e *NumberError) Unwrap() error { return ErrInvalidNumber }

// quote keeps hostile input readable in an error message: control and
// invalid bytes are escaped and very long input is cut at a rune boundary.
func quote(s string) string {
	const maxLen = 64
	if len(s) > maxLen {
		cut := maxLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}
