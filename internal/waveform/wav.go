package waveform

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/callrec/callrec/internal/wavfile"
)

// RenderWAV decodes a 16-bit PCM WAV file from r with [DecodeWAV] and
// writes its picture to w with [Render].
func RenderWAV(w io.Writer, r io.Reader, opts Options) error {
	a, err := DecodeWAV(r)
	if err != nil {
		return err
	}
	return Render(w, a, opts)
}

// DecodeWAV reads a 16-bit PCM WAV file with 1 to [MaxChannels] channels
// into an [Audio], one slice per channel. A data chunk cut short (a
// recording whose writer stopped early) yields the whole frames present.
func DecodeWAV(r io.Reader) (Audio, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	h, err := wavfile.ReadHeader(br)
	if err != nil {
		return Audio{}, err
	}
	ch := int(h.Channels)
	switch {
	case h.Extensible || h.Format != wavfile.FormatPCM || h.BitsPerSample != 16:
		return Audio{}, fmt.Errorf("%w: format %d with %d bits per sample, want 16-bit PCM (1)", ErrInvalidWAV, h.Format, h.BitsPerSample)
	case ch < 1 || ch > MaxChannels:
		return Audio{}, fmt.Errorf("%w: %d channels, want 1 to %d", ErrInvalidWAV, ch, MaxChannels)
	case h.SampleRate == 0 || h.SampleRate > 1<<20:
		return Audio{}, fmt.Errorf("%w: sample rate %d", ErrInvalidWAV, h.SampleRate)
	}

	a := Audio{SampleRate: int(h.SampleRate), Channels: make([][]int16, ch)}
	frames := min(int(h.DataSize)/(2*ch), 1<<20) // a hint; the size field may lie
	for c := range a.Channels {
		a.Channels[c] = make([]int16, 0, frames)
	}
	data := io.LimitReader(br, int64(h.DataSize))
	buf := make([]byte, 2*ch*2048)
	for {
		n, err := io.ReadFull(data, buf)
		for f := buf[:n-n%(2*ch)]; len(f) > 0; f = f[2*ch:] {
			for c := range a.Channels {
				a.Channels[c] = append(a.Channels[c], int16(binary.LittleEndian.Uint16(f[2*c:])))
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return a, nil
		}
		if err != nil {
			return Audio{}, fmt.Errorf("waveform: read wav data: %w", err)
		}
	}
}
