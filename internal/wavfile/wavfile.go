package wavfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/go-audio/wav"
)

// ErrInvalidWAV reports bytes that are not a RIFF/WAVE file a package of
// this module can read: a bad signature, a missing or truncated chunk, a
// chunk where it cannot be, or audio in a format the reader does not take.
// recorder, guidance and internal/waveform export this same value.
var ErrInvalidWAV = errors.New("invalid wav")

// Format tags of the fmt chunk.
const (
	FormatPCM        = 0x0001
	FormatExtensible = 0xFFFE
)

// maxFmtSize bounds the fmt chunk: 40 bytes for the extensible form, with
// room for writers that pad it.
const maxFmtSize = 1024

// pcmSubformatTail is bytes 2–15 of KSDATAFORMAT_SUBTYPE_PCM; bytes 0–1 of
// an extensible sub-format GUID hold the format tag.
var pcmSubformatTail = []byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71}

// Header is what a WAV file says before its audio.
type Header struct {
	// Format is the format tag; for WAVE_FORMAT_EXTENSIBLE, the tag in the
	// sub-format GUID.
	Format uint16
	// Extensible is true when the fmt chunk is WAVE_FORMAT_EXTENSIBLE;
	// StandardSubformat then says whether its sub-format GUID is a
	// standard KSDATAFORMAT_SUBTYPE_* one (Format's tag plus the fixed tail).
	Extensible, StandardSubformat bool
	Channels                      uint16
	SampleRate                    uint32
	BlockAlign                    uint16
	BitsPerSample                 uint16
	// DataSize is the data chunk's size field as written: 0 or stale in a
	// file whose writer stopped early, 0xFFFFFFFF from a streaming writer.
	DataSize uint32
	// DataOffset is where the audio data starts, counted from where the
	// reader stood when ReadHeader was called.
	DataOffset int64
}

// ReadHeader reads the header of the WAV file r holds, up to the start of
// the audio data, and leaves r there. Chunks other than fmt and data are
// skipped. Errors wrap [ErrInvalidWAV], and also [io.ErrUnexpectedEOF] when
// the file ends before the data chunk begins.
func ReadHeader(r io.Reader) (Header, error) {
	var h Header
	var hdr [12]byte
	if n, err := io.ReadFull(r, hdr[:]); err != nil {
		return h, fmt.Errorf("%w: %w: %d bytes", ErrInvalidWAV, io.ErrUnexpectedEOF, n)
	}
	if string(hdr[:4]) != "RIFF" || string(hdr[8:]) != "WAVE" {
		return h, fmt.Errorf("%w: no RIFF/WAVE signature", ErrInvalidWAV)
	}
	haveFmt := false
	for off := int64(len(hdr)); ; {
		var ck [8]byte
		if _, err := io.ReadFull(r, ck[:]); err != nil {
			return h, fmt.Errorf("%w: %w: no data chunk in %d bytes", ErrInvalidWAV, io.ErrUnexpectedEOF, off)
		}
		id := string(ck[:4])
		size := int64(binary.LittleEndian.Uint32(ck[4:]))
		off += int64(len(ck))
		switch {
		case id == "data":
			if !haveFmt {
				return h, fmt.Errorf("%w: data chunk before fmt chunk", ErrInvalidWAV)
			}
			h.DataOffset, h.DataSize = off, uint32(size)
			return h, nil
		case id == "fmt " && !haveFmt:
			if size < 16 || size > maxFmtSize {
				return h, fmt.Errorf("%w: fmt chunk of %d bytes", ErrInvalidWAV, size)
			}
			body := make([]byte, size+size&1) // chunks are padded to even sizes
			if _, err := io.ReadFull(r, body); err != nil {
				return h, fmt.Errorf("%w: %w: fmt chunk runs past the end", ErrInvalidWAV, io.ErrUnexpectedEOF)
			}
			if err := h.decodeFmt(body[:size]); err != nil {
				return h, err
			}
			haveFmt = true
			off += int64(len(body))
		default:
			n, err := io.CopyN(io.Discard, r, size+size&1)
			if err != nil {
				return h, fmt.Errorf("%w: %w: chunk %q declares %d bytes, %d present", ErrInvalidWAV, io.ErrUnexpectedEOF, id, size, n)
			}
			off += n
		}
	}
}

// decodeFmt decodes the body of a fmt chunk with go-audio/wav's decoder,
// given a file of that one chunk (so that it meets none of the chunks it
// mishandles), and reads the extensible sub-format, which it skips.
func (h *Header) decodeFmt(body []byte) error {
	file := make([]byte, 0, 20+len(body))
	file = append(file, "RIFF\x00\x00\x00\x00WAVEfmt "...)
	file = binary.LittleEndian.AppendUint32(file, uint32(len(body)))
	dec := wav.NewDecoder(bytes.NewReader(append(file, body...)))
	dec.ReadInfo()
	if err := dec.Err(); err != nil {
		return fmt.Errorf("%w: fmt chunk: %w", ErrInvalidWAV, err)
	}
	h.Format, h.Channels, h.SampleRate = dec.WavAudioFormat, dec.NumChans, dec.SampleRate
	h.BitsPerSample = dec.BitDepth
	h.BlockAlign = binary.LittleEndian.Uint16(body[12:]) // the decoder keeps it unexported
	if h.Format == FormatExtensible {
		if len(body) < 40 {
			return fmt.Errorf("%w: extensible fmt chunk of %d bytes (want 40)", ErrInvalidWAV, len(body))
		}
		h.Extensible = true
		h.Format = binary.LittleEndian.Uint16(body[24:])
		h.StandardSubformat = bytes.Equal(body[26:40], pcmSubformatTail)
	}
	return nil
}
