package guidance

import (
	"bytes"
	"embed"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/callrec/callrec/internal/wavfile"
)

// SampleRate is the sample rate of every [Prompt], in Hz: G.711's 8 kHz.
const SampleRate = 8000

// Bounds on a prompt's duration. A prompt must fill at least one 20 ms
// packet; the upper bound keeps a misconfigured file from holding a call in
// guidance (and its memory) indefinitely.
const (
	MinPromptDuration = PacketDuration
	MaxPromptDuration = 60 * time.Second
)

// Accepted input sample rates for custom prompts, in Hz.
const (
	MinInputRate = 8000
	MaxInputRate = 48000
)

// maxWAVSize bounds how much of a custom prompt file is read: the longest
// accepted audio (60 s of 48 kHz 16-bit stereo) plus 1 MiB for other chunks.
const maxWAVSize = int64(MaxPromptDuration/time.Second)*MaxInputRate*2*2 + 1<<20

//go:embed prompts/announce1.wav prompts/announce2.wav prompts/announce3.wav prompts/announce4.wav prompts/announce5.wav
var embeddedPrompts embed.FS

// Prompt is a guidance recording as 8 kHz mono 16-bit linear PCM, ready to
// be packetised by a [Player]. A Prompt is immutable and safe to share
// between concurrent calls.
type Prompt struct {
	samples []int16
}

// EmbeddedPrompt returns the default recording of announcement id (1–5),
// synthesised Japanese speech with the carrier name [DefaultCarrier]. See
// the NOTICE file for the voice's licence.
func EmbeddedPrompt(id int) (*Prompt, error) {
	if _, err := Lookup(id); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("prompts/announce%d.wav", id)
	data, err := embeddedPrompts.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("%w: embedded %s: %w", ErrInvalidWAV, name, err)
	}
	p, err := parsePrompt(data)
	if err != nil {
		return nil, fmt.Errorf("embedded %s: %w", name, err)
	}
	return p, nil
}

// LoadPrompt reads a custom prompt from a WAV file; see [ReadPrompt] for the
// accepted formats.
func LoadPrompt(path string) (*Prompt, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("guidance: load prompt: %w", err)
	}
	defer f.Close()
	p, err := ReadPrompt(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// ReadPrompt reads a custom prompt from a WAV stream: 16-bit integer PCM
// (WAVE_FORMAT_PCM or WAVE_FORMAT_EXTENSIBLE with the PCM sub-format), mono
// or stereo, 8–48 kHz, between [MinPromptDuration] and [MaxPromptDuration]
// long. Stereo is mixed down to mono and other rates are converted to 8 kHz
// with a windowed-sinc low-pass resampler. Errors wrap [ErrInvalidWAV],
// [ErrUnsupportedFormat] or [ErrPromptLength], so a bad file is refused when
// the prompt is configured rather than during a call.
func ReadPrompt(r io.Reader) (*Prompt, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxWAVSize+1))
	if err != nil {
		return nil, fmt.Errorf("guidance: read prompt: %w", err)
	}
	if int64(len(data)) > maxWAVSize {
		return nil, fmt.Errorf("%w: file exceeds %d bytes", ErrPromptLength, maxWAVSize)
	}
	return parsePrompt(data)
}

// NewPrompt builds a prompt from interleaved 16-bit samples at sampleRate
// (8–48 kHz) with 1 or 2 channels, converting to 8 kHz mono as
// [ReadPrompt] does. The samples are copied.
func NewPrompt(samples []int16, sampleRate, channels int) (*Prompt, error) {
	if err := checkFormat(sampleRate, channels); err != nil {
		return nil, err
	}
	if len(samples)%channels != 0 {
		return nil, fmt.Errorf("%w: %d samples is not a whole number of %d-channel frames", ErrUnsupportedFormat, len(samples), channels)
	}
	return newPrompt(len(samples)/channels, sampleRate, channels, func(i int) int16 { return samples[i] })
}

// newPrompt checks the input duration, mixes down and resamples. sample(i)
// returns the i-th interleaved input sample.
func newPrompt(frames, rate, channels int, sample func(int) int16) (*Prompt, error) {
	d := time.Duration(frames) * time.Second / time.Duration(rate)
	if d < MinPromptDuration || d > MaxPromptDuration {
		return nil, fmt.Errorf("%w: %v (want %v to %v)", ErrPromptLength, d, MinPromptDuration, MaxPromptDuration)
	}
	mono := make([]float64, frames)
	for i := range mono {
		var sum float64
		for c := range channels {
			sum += float64(sample(i*channels + c))
		}
		mono[i] = sum / float64(channels)
	}
	out := resample(mono, rate)
	if len(out) < SamplesPerPacket {
		return nil, fmt.Errorf("%w: %d samples after resampling (want at least %d)", ErrPromptLength, len(out), SamplesPerPacket)
	}
	return &Prompt{samples: out}, nil
}

func checkFormat(rate, channels int) error {
	if rate < MinInputRate || rate > MaxInputRate {
		return fmt.Errorf("%w: sample rate %d Hz (want %d-%d)", ErrUnsupportedFormat, rate, MinInputRate, MaxInputRate)
	}
	if channels != 1 && channels != 2 {
		return fmt.Errorf("%w: %d channels (want 1 or 2)", ErrUnsupportedFormat, channels)
	}
	return nil
}

// Len returns the number of 8 kHz samples in the prompt.
func (p *Prompt) Len() int { return len(p.samples) }

// Duration returns the prompt's playing time.
func (p *Prompt) Duration() time.Duration {
	return time.Duration(len(p.samples)) * time.Second / SampleRate
}

// Packets returns the number of 20 ms packets a [Player] sends for the
// prompt; the last one is padded with silence.
func (p *Prompt) Packets() int {
	return (len(p.samples) + SamplesPerPacket - 1) / SamplesPerPacket
}

// Samples returns a copy of the prompt's 8 kHz mono samples.
func (p *Prompt) Samples() []int16 {
	return append([]int16(nil), p.samples...)
}

// WriteWAV writes the prompt to w as an 8 kHz 16-bit mono PCM WAV file.
func (p *Prompt) WriteWAV(w io.Writer) error {
	n := len(p.samples) * 2
	buf := make([]byte, 44+n)
	copy(buf[0:], "RIFF")
	binary.LittleEndian.PutUint32(buf[4:], uint32(36+n))
	copy(buf[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(buf[16:], 16)
	binary.LittleEndian.PutUint16(buf[20:], wavfile.FormatPCM)
	binary.LittleEndian.PutUint16(buf[22:], 1)
	binary.LittleEndian.PutUint32(buf[24:], SampleRate)
	binary.LittleEndian.PutUint32(buf[28:], SampleRate*2)
	binary.LittleEndian.PutUint16(buf[32:], 2)
	binary.LittleEndian.PutUint16(buf[34:], 16)
	copy(buf[36:], "data")
	binary.LittleEndian.PutUint32(buf[40:], uint32(n))
	for i, s := range p.samples {
		binary.LittleEndian.PutUint16(buf[44+2*i:], uint16(s))
	}
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("guidance: write wav: %w", err)
	}
	return nil
}

// parsePrompt decodes a whole RIFF/WAVE file held in data.
func parsePrompt(data []byte) (*Prompt, error) {
	h, err := wavfile.ReadHeader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	size, rest := int64(h.DataSize), int64(len(data))-h.DataOffset
	if size > rest {
		// Streaming writers leave the data size unset (0xFFFFFFFF); take the
		// rest of the file then, otherwise the file is cut.
		if size != 0xFFFFFFFF {
			return nil, fmt.Errorf("%w: chunk \"data\" declares %d bytes, %d present", ErrInvalidWAV, size, rest)
		}
		size = rest
	}
	pcm := data[h.DataOffset : h.DataOffset+size]
	channels, rate, err := checkHeader(h)
	if err != nil {
		return nil, err
	}
	frame := 2 * channels
	if len(pcm)%frame != 0 {
		return nil, fmt.Errorf("%w: data chunk of %d bytes is not a whole number of %d-byte frames", ErrInvalidWAV, len(pcm), frame)
	}
	return newPrompt(len(pcm)/frame, rate, channels, func(i int) int16 {
		return int16(binary.LittleEndian.Uint16(pcm[2*i:]))
	})
}

// checkHeader checks that a WAV header describes audio a prompt can be made
// of and returns its channel count and rate.
func checkHeader(h wavfile.Header) (channels, rate int, err error) {
	channels, rate = int(h.Channels), int(h.SampleRate)
	if h.Extensible && !h.StandardSubformat {
		return 0, 0, fmt.Errorf("%w: extensible sub-format is not a standard format GUID", ErrUnsupportedFormat)
	}
	if h.Format != wavfile.FormatPCM {
		return 0, 0, fmt.Errorf("%w: format tag 0x%04x (want integer PCM)", ErrUnsupportedFormat, h.Format)
	}
	if h.BitsPerSample != 16 {
		return 0, 0, fmt.Errorf("%w: %d bits per sample (want 16)", ErrUnsupportedFormat, h.BitsPerSample)
	}
	if err := checkFormat(rate, channels); err != nil {
		return 0, 0, err
	}
	if int(h.BlockAlign) != 2*channels {
		return 0, 0, fmt.Errorf("%w: block align %d for %d 16-bit channels", ErrInvalidWAV, h.BlockAlign, channels)
	}
	return channels, rate, nil
}
