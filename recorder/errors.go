package recorder

import (
	"errors"
	"fmt"

	"github.com/callrec/callrec/internal/wavfile"
)

// Sentinel errors. Errors returned by this package wrap one of these (with
// details) so that callers branch with [errors.Is].
var (
	// ErrInvalidConfig reports an invalid [Config]; the wrapping [ConfigError] names
	// the field.
	ErrInvalidConfig = errors.New("recorder: invalid config")

	// ErrMalformed reports a packet that is not valid RTP (too short, wrong
	// version, inconsistent padding, CSRC or extension lengths). The packet
	// is counted in [Stats.Malformed] and the recording continues.
	ErrMalformed = errors.New("recorder: malformed rtp packet")

	// ErrClosed reports a call on a [Recording] or [Leg] after
	// [Recording.Close] began.
	ErrClosed = errors.New("recorder: recording closed")

	// ErrWrite reports that the output rejected a write or a seek. The error
	// is sticky: once the output failed, every later Write and Close
	// returns it, and the audio that could not be written is lost. Close
	// then finishes the file at its last good frame when the output can be
	// truncated (a file), and returns [ErrTruncated] wrapping it.
	ErrWrite = errors.New("recorder: write output")

	// ErrTruncated reports a recording whose output failed mid-call (a full
	// disk, an I/O error) and that Close then finished at the last frame
	// written whole: the file is a valid WAV whose sizes match its length,
	// and the Result, SHA256 included, describes it, with Result.Truncated
	// set. The error also wraps the [ErrWrite] that cut the recording short.
	ErrTruncated = errors.New("recorder: recording truncated at the last good frame")

	// ErrFileTooLarge reports that the WAV file reached the 4 GiB limit of
	// its 32-bit size fields (about 74 hours of 8 kHz stereo). Audio past
	// the limit is discarded; the file written so far stays valid.
	ErrFileTooLarge = errors.New("recorder: wav file size limit reached")

	// ErrInvalidWAV reports data that is not a PCM WAV file this package
	// can parse or repair. It is the same value as guidance.ErrInvalidWAV:
	// one meaning of a WAV file that cannot be read, across the module.
	ErrInvalidWAV = wavfile.ErrInvalidWAV

	// ErrSDP reports a session description without a usable audio stream.
	ErrSDP = errors.New("recorder: unusable sdp")
)

// ConfigError reports the [Config] field that failed validation. It wraps
// [ErrInvalidConfig].
type ConfigError struct {
	Field  string // name of the offending field, e.g. "JitterWindow"
	Reason string // what is wrong with it
}

// Error implements the error interface.
func (e *ConfigError) Error() string {
	return fmt.Sprintf("recorder: invalid config: %s: %s", e.Field, e.Reason)
}

// Unwrap returns [ErrInvalidConfig].
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }
