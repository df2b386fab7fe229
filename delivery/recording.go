package delivery

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Direction says which way a recorded call went relative to the company
// (its contract line): the text of dialplan.Direction, the SDK's one word
// for it, kept as text so that this package stands alone.
type Direction string

// Directions of a recorded call as seen from the contract line.
const (
	// Outgoing is a call placed from the contract line.
	Outgoing Direction = "outgoing"
	// Incoming is a call received on the contract line.
	Incoming Direction = "incoming"
)

// Recording is one recorded call handed to [Queue.Enqueue]: an audio file
// and the metadata that travels with it.
type Recording struct {
	// AudioPath is the audio file to deliver. Enqueue moves it into the spool
	// (a hard link, or a copy across file systems) and removes it once the
	// spooled copy is durable.
	AudioPath string
	// Metadata describes the call. Its ID, SHA256, Size, AudioExt and
	// Enqueued fields are filled in by Enqueue when empty.
	Metadata Metadata
}

// Metadata describes a recorded call. It is written as a JSON sidecar next
// to the audio in the spool and at every destination.
type Metadata struct {
	// ID uniquely identifies the recording: it names the spool entry and is
	// the idempotency key sinks send. Enqueue assigns a time-ordered ID when
	// empty; a caller-supplied ID must match [A-Za-z0-9._-]{1,128} and not
	// start with a dot.
	ID string `json:"id"`
	// CallID is the SIP Call-ID of the recorded call. Sinks name the
	// delivered files after it.
	CallID string `json:"call_id"`
	// Instance names the recorder that made the recording, when several
	// deliver to one place. Sinks append it to the Call-ID in the names they
	// store under (see [Metadata.BaseName]), so that two instances never
	// write the same name, whatever Call-IDs they see.
	Instance string `json:"instance,omitempty"`
	// Direction is Outgoing or Incoming.
	Direction Direction `json:"direction,omitempty"`
	// Caller and Callee are the parties' numbers as signalled.
	Caller string `json:"caller,omitempty"`
	Callee string `json:"callee,omitempty"`
	// Line is the contract line's kind ("fixed" or "mobile").
	Line string `json:"line,omitempty"`
	// LineNumber is the contract line's own number.
	LineNumber string `json:"line_number,omitempty"`
	// Dialled is the number as dialled, prefix included.
	Dialled string `json:"dialled,omitempty"`
	// Destination is the number the call was forwarded to.
	Destination string `json:"destination,omitempty"`
	// DivertedFrom is the company number a forwarded incoming call was
	// first placed to, and DiversionReason why the network forwarded it
	// (e.g. "unconditional", "user-busy", "no-answer").
	DivertedFrom    string `json:"diverted_from,omitempty"`
	DiversionReason string `json:"diversion_reason,omitempty"`
	// Start is when the call was set up; Answer when it was answered.
	Start  time.Time `json:"start"`
	Answer time.Time `json:"answer,omitzero"`
	// GuidanceStart is when the recording announcement started: the billing
	// start of the call.
	GuidanceStart time.Time `json:"guidance_start,omitzero"`
	// End is when the call ended.
	End time.Time `json:"end,omitzero"`
	// Duration is the length of the recorded audio.
	Duration time.Duration `json:"-"`
	// Channels is 1 for a mono mix, 2 for stereo (one party per channel).
	Channels int `json:"channels,omitempty"`
	// AnnouncementID identifies the recording announcement that was played.
	AnnouncementID string `json:"announcement_id,omitempty"`
	// SHA256 is the hex SHA-256 of the audio. Enqueue computes it, and
	// rejects the recording with [ErrChecksumMismatch] when a non-empty value
	// differs.
	SHA256 string `json:"sha256"`
	// Size is the audio's length in bytes, set by Enqueue.
	Size int64 `json:"size"`
	// AudioExt is the audio file's extension including the dot, ".wav" by
	// default; Enqueue takes it from AudioPath when empty.
	AudioExt string `json:"audio_ext"`
	// Enqueued is when the recording was accepted into the spool, set by
	// Enqueue.
	Enqueued time.Time `json:"enqueued,omitzero"`
	// RecorderStats carries the recorder's statistics as opaque JSON, so that
	// this package does not depend on the recorder.
	RecorderStats json.RawMessage `json:"recorder_stats,omitempty"`
	// Truncated reports a recording cut short mid-call by a failed write (a
	// full disk, an I/O error): the audio is valid but ends early, at the
	// last frame written whole. TruncatedReason says why, e.g. "no_space"
	// or "io_error".
	Truncated       bool   `json:"truncated,omitempty"`
	TruncatedReason string `json:"truncated_reason,omitempty"`
	// EndedDuringAnnouncement reports a call that ended (a hang-up, or the
	// recorder's crash) while its recording announcement played: the
	// parties were told of the recording but never connected, so the
	// audio is empty (a WAV header and no frames). The recording exists so
	// that every announced call has one.
	EndedDuringAnnouncement bool `json:"ended_during_announcement,omitempty"`
}

// metadataJSON is Metadata's wire form: the duration as milliseconds.
type metadataJSON struct {
	metadataAlias
	DurationMS int64 `json:"duration_ms"`
}

type metadataAlias Metadata

// MarshalJSON encodes m with its Duration as integer milliseconds
// ("duration_ms").
func (m Metadata) MarshalJSON() ([]byte, error) {
	return json.Marshal(metadataJSON{metadataAlias: metadataAlias(m), DurationMS: m.Duration.Milliseconds()})
}

// UnmarshalJSON decodes the form written by [Metadata.MarshalJSON].
func (m *Metadata) UnmarshalJSON(b []byte) error {
	var w metadataJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*m = Metadata(w.metadataAlias)
	m.Duration = time.Duration(w.DurationMS) * time.Millisecond
	return nil
}

// Clone returns a copy of m that shares no memory with it.
func (m Metadata) Clone() Metadata {
	if m.RecorderStats != nil {
		m.RecorderStats = append(json.RawMessage(nil), m.RecorderStats...)
	}
	return m
}

// validateID checks a caller-supplied or spooled recording ID.
func validateID(id string) error {
	if id == "" || len(id) > 128 || id[0] == '.' {
		return fmt.Errorf("%w: id %q", ErrInvalidRecording, id)
	}
	for _, c := range id {
		if !isNameChar(c) {
			return fmt.Errorf("%w: id %q has character %q", ErrInvalidRecording, id, c)
		}
	}
	return nil
}

func isNameChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// validateExt checks an audio extension such as ".wav".
func validateExt(ext string) error {
	if len(ext) < 2 || len(ext) > 16 || ext[0] != '.' {
		return fmt.Errorf("%w: audio extension %q", ErrInvalidRecording, ext)
	}
	for _, c := range ext[1:] {
		if !isNameChar(c) || c == '.' {
			return fmt.Errorf("%w: audio extension %q", ErrInvalidRecording, ext)
		}
	}
	return nil
}

// BaseName returns the file name, without extension, under which sinks store
// the recording: the Call-ID with every character outside [A-Za-z0-9._@-]
// replaced by '_', or the ID when the Call-ID is empty, followed by '_' and
// the Instance when it is set.
func (m Metadata) BaseName() string {
	name := m.CallID
	if name == "" {
		name = m.ID
	}
	base := sanitizeName(name)
	if m.Instance != "" {
		base += "_" + sanitizeName(m.Instance)
	}
	return base
}

// sanitizeName replaces every character of name outside [A-Za-z0-9._@-]
// by '_' (a leading dot too), keeping at most about 160 bytes.
func sanitizeName(name string) string {
	var b strings.Builder
	for i, c := range name {
		switch {
		case i == 0 && c == '.':
			b.WriteByte('_')
		case isNameChar(c) || c == '@':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 160 {
			break
		}
	}
	if b.Len() == 0 {
		return "recording"
	}
	return b.String()
}

// DatePath returns the date partition of the recording, "2006/01/02" in
// loc (UTC when nil), taken from Start, or from Enqueued when Start is zero.
func (m Metadata) DatePath(loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	t := m.Start
	if t.IsZero() {
		t = m.Enqueued
	}
	return filepath.ToSlash(t.In(loc).Format("2006/01/02"))
}
