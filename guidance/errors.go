package guidance

import (
	"errors"

	"github.com/callrec/callrec/internal/wavfile"
)

// Sentinel errors. Functions wrap them with details and %w; branch on them
// with [errors.Is].
var (
	// ErrUnknownAnnouncement reports an announcement ID outside 1–5.
	ErrUnknownAnnouncement = errors.New("guidance: unknown announcement")

	// ErrInvalidWAV reports a prompt file that is not a well-formed RIFF/WAVE
	// file (bad magic, truncated or missing chunk). It is the same value as
	// recorder.ErrInvalidWAV: one meaning of a WAV file that cannot be read,
	// across the module.
	ErrInvalidWAV = wavfile.ErrInvalidWAV

	// ErrUnsupportedFormat reports a well-formed WAV file whose audio cannot
	// be used as a prompt: not 16-bit integer PCM, a sample rate outside
	// 8–48 kHz, or more than two channels.
	ErrUnsupportedFormat = errors.New("guidance: unsupported audio format")

	// ErrPromptLength reports a prompt shorter than one packet (20 ms) or
	// longer than [MaxPromptDuration].
	ErrPromptLength = errors.New("guidance: prompt length out of range")

	// ErrInvalidConfig reports a configuration field with an invalid value;
	// the message names the field.
	ErrInvalidConfig = errors.New("guidance: invalid config")

	// ErrNoPrompt reports an announcement that has no prompt to play, for
	// instance because a custom carrier name was configured without
	// supplying that announcement's recording.
	ErrNoPrompt = errors.New("guidance: no prompt for announcement")

	// ErrNoStream reports a nil [Stream] for a party that must hear the
	// guidance, or the same Stream passed for both parties.
	ErrNoStream = errors.New("guidance: missing stream")

	// ErrBusy reports a [Stream] that is already playing guidance.
	ErrBusy = errors.New("guidance: stream already playing guidance")

	// ErrInterrupted reports guidance cut short because its context ended,
	// typically because a party hung up. The error also wraps the context's
	// error.
	ErrInterrupted = errors.New("guidance: interrupted")
)
