package waveform

import (
	"fmt"
	"time"
)

// Size defaults and limits.
const (
	// DefaultWidth is the picture width when [Options.Width] is zero.
	DefaultWidth = 1200
	// DefaultChannelHeight is the picture height per channel when
	// [Options.Height] is zero: 260 for mono, 520 for stereo.
	DefaultChannelHeight = 260
	// MaxSize bounds [Options.Width] and [Options.Height], in pixels.
	MaxSize = 16384
	// MaxChannels is the largest number of channels (panels) drawn.
	MaxChannels = 8
)

// Audio is a recording to draw: one slice of signed 16-bit samples per
// channel, all at SampleRate. Channels may differ in length; the time axis
// covers the longest. Render only reads the slices.
type Audio struct {
	SampleRate int       // samples per second per channel, e.g. 8000
	Channels   [][]int16 // one entry per channel, in panel order (left first)
}

// Frames returns the length of the longest channel, in samples.
func (a Audio) Frames() int {
	n := 0
	for _, c := range a.Channels {
		n = max(n, len(c))
	}
	return n
}

// Duration returns the length of the longest channel. It is zero if the
// sample rate is not positive.
func (a Audio) Duration() time.Duration {
	if a.SampleRate <= 0 {
		return 0
	}
	return time.Duration(a.Frames()) * time.Second / time.Duration(a.SampleRate)
}

func (a Audio) validate() error {
	switch {
	case a.SampleRate <= 0:
		return fmt.Errorf("%w: SampleRate %d is not positive", ErrInvalidAudio, a.SampleRate)
	case len(a.Channels) == 0:
		return fmt.Errorf("%w: no channels", ErrInvalidAudio)
	case len(a.Channels) > MaxChannels:
		return fmt.Errorf("%w: %d channels, at most %d", ErrInvalidAudio, len(a.Channels), MaxChannels)
	}
	return nil
}

// SpanKind says how a [Span] is marked.
type SpanKind uint8

// Span kinds. The zero value is not a valid kind.
const (
	// Guidance marks the recording announcement (the billing start) with an
	// amber band.
	Guidance SpanKind = iota + 1
	// Pause marks a pause in the recording with a grey hatched band.
	Pause
)

// String returns the kind's legend text, "guidance" or "pause".
func (k SpanKind) String() string {
	switch k {
	case Guidance:
		return "guidance"
	case Pause:
		return "pause"
	}
	return fmt.Sprintf("SpanKind(%d)", uint8(k))
}

// Span is a time range of the recording marked in every panel, with its
// Label written above the first panel. Times are from the recording's start;
// the part beyond the recording is not drawn.
type Span struct {
	Start, End time.Duration
	Label      string // short text such as "announcement"; may be empty
	Kind       SpanKind
}

// Options controls the picture. The zero value draws a 1200 px wide picture,
// 260 px high per channel, with default channel labels and no marks.
//
// Text is drawn with a 7×13 pixel bitmap font that covers printable ASCII;
// other characters are drawn as a replacement box.
type Options struct {
	// Width and Height are the picture size in pixels. Zero means
	// [DefaultWidth] and [DefaultChannelHeight] per channel.
	Width, Height int
	// Title is written at the top left, followed by the sample rate,
	// channel count and duration.
	Title string
	// Labels names the channels' panels in order. Missing or empty entries
	// get the defaults "mixed" for mono, "caller (L)" and "callee (R)" for
	// stereo, "channel N" otherwise; extra entries are ignored.
	Labels []string
	// Spans are the time ranges to mark, drawn in order.
	Spans []Span
}

func (o *Options) validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"Width", o.Width}, {"Height", o.Height}} {
		if f.v < 0 || f.v > MaxSize {
			return &OptionsError{Field: f.name, Reason: fmt.Sprintf("%d is outside 0..%d", f.v, MaxSize)}
		}
	}
	for i, s := range o.Spans {
		field := fmt.Sprintf("Spans[%d]", i)
		switch {
		case s.Kind != Guidance && s.Kind != Pause:
			return &OptionsError{Field: field + ".Kind", Reason: "unknown " + s.Kind.String()}
		case s.Start < 0:
			return &OptionsError{Field: field + ".Start", Reason: fmt.Sprintf("%v is negative", s.Start)}
		case s.End < s.Start:
			return &OptionsError{Field: field + ".End", Reason: fmt.Sprintf("%v is before Start %v", s.End, s.Start)}
		}
	}
	return nil
}

// label returns the panel label of channel ch of n.
func (o *Options) label(ch, n int) string {
	if ch < len(o.Labels) && o.Labels[ch] != "" {
		return o.Labels[ch]
	}
	switch {
	case n == 1:
		return "mixed"
	case n == 2 && ch == 0:
		return "caller (L)"
	case n == 2:
		return "callee (R)"
	}
	return fmt.Sprintf("channel %d", ch+1)
}
