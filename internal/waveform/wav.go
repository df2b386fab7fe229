package waveform

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/go-audio/wav"
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
// If r is not an [io.ReadSeeker] the file is read into memory first.
func DecodeWAV(r io.Reader) (Audio, error) {
	rs, ok := r.(io.ReadSeeker)
	if !ok {
		b, err := io.ReadAll(r)
		if err != nil {
			return Audio{}, fmt.Errorf("waveform: read wav: %w", err)
		}
		rs = bytes.NewReader(b)
	}
	start, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return Audio{}, fmt.Errorf("waveform: seek wav: %w", err)
	}
	if err := checkFmtSize(rs); err != nil {
		return Audio{}, err
	}
	if _, err := rs.Seek(start, io.SeekStart); err != nil {
		return Audio{}, fmt.Errorf("waveform: seek wav: %w", err)
	}

	dec := wav.NewDecoder(rs)
	dec.ReadInfo()
	if err := dec.Err(); err != nil {
		return Audio{}, fmt.Errorf("%w: %v", ErrInvalidWAV, err)
	}
	ch := int(dec.NumChans)
	switch {
	case dec.WavAudioFormat != 1 || dec.BitDepth != 16:
		return Audio{}, fmt.Errorf("%w: format %d with %d bits per sample, want 16-bit PCM (1)", ErrInvalidWAV, dec.WavAudioFormat, dec.BitDepth)
	case ch < 1 || ch > MaxChannels:
		return Audio{}, fmt.Errorf("%w: %d channels, want 1 to %d", ErrInvalidWAV, ch, MaxChannels)
	case dec.SampleRate == 0 || dec.SampleRate > 1<<20:
		return Audio{}, fmt.Errorf("%w: sample rate %d", ErrInvalidWAV, dec.SampleRate)
	}
	if err := dec.FwdToPCM(); err != nil || dec.PCMChunk == nil {
		return Audio{}, fmt.Errorf("%w: no data chunk: %v", ErrInvalidWAV, err)
	}

	a := Audio{SampleRate: int(dec.SampleRate), Channels: make([][]int16, ch)}
	frames := min(dec.PCMSize/(2*ch), 1<<20) // a hint; the size field may lie
	for c := range a.Channels {
		a.Channels[c] = make([]int16, 0, frames)
	}
	buf := make([]byte, 2*ch*2048)
	for {
		n, err := io.ReadFull(dec.PCMChunk, buf)
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

// checkFmtSize walks the RIFF chunks before the data chunk and rejects a
// "fmt " chunk larger than any real one: go-audio/wav allocates the size
// field's worth of memory for it before reading.
func checkFmtSize(r io.Reader) error {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil || string(hdr[:4]) != "RIFF" || string(hdr[8:]) != "WAVE" {
		return fmt.Errorf("%w: no RIFF WAVE header", ErrInvalidWAV)
	}
	for {
		var ck [8]byte
		if _, err := io.ReadFull(r, ck[:]); err != nil {
			return nil // the decoder reports the missing chunks
		}
		size := int64(binary.LittleEndian.Uint32(ck[4:]))
		switch string(ck[:4]) {
		case "data":
			return nil
		case "fmt ":
			if size > 1024 {
				return fmt.Errorf("%w: fmt chunk of %d bytes", ErrInvalidWAV, size)
			}
		}
		if _, err := io.CopyN(io.Discard, r, size+size%2); err != nil {
			return nil
		}
	}
}
