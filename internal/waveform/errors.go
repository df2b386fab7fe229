package waveform

import (
	"errors"
	"fmt"

	"github.com/callrec/callrec/internal/wavfile"
)

// Sentinel errors. Errors returned by this package wrap one of these (with
// details) so that callers branch with [errors.Is].
var (
	// ErrInvalidOptions reports an invalid [Options]; the wrapping
	// [OptionsError] names the field.
	ErrInvalidOptions = errors.New("waveform: invalid options")

	// ErrInvalidAudio reports an [Audio] that cannot be drawn: a sample rate
	// that is not positive, no channels, or more than [MaxChannels].
	ErrInvalidAudio = errors.New("waveform: invalid audio")

	// ErrInvalidWAV reports input that is not a 16-bit PCM WAV file with 1 to
	// [MaxChannels] channels. It is the same value as recorder.ErrInvalidWAV
	// and guidance.ErrInvalidWAV.
	ErrInvalidWAV = wavfile.ErrInvalidWAV
)

// OptionsError reports the [Options] field that failed validation. It wraps
// [ErrInvalidOptions].
type OptionsError struct {
	Field  string // name of the offending field, e.g. "Width" or "Spans[2].End"
	Reason string // what is wrong with it
}

// Error implements the error interface.
func (e *OptionsError) Error() string {
	return fmt.Sprintf("waveform: invalid options: %s: %s", e.Field, e.Reason)
}

// Unwrap returns [ErrInvalidOptions].
func (e *OptionsError) Unwrap() error { return ErrInvalidOptions }
