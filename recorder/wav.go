package recorder

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/callrec/callrec/internal/wavfile"
)

// HeaderSize is the size of the canonical PCM WAV header that
// [Header.MarshalTo] writes: RIFF, a 16-byte fmt chunk and the data chunk
// header.
const HeaderSize = 44

// maxDataSize is the largest data chunk whose RIFF size still fits 32 bits.
const maxDataSize = math.MaxUint32 - (HeaderSize - 8)

// formatPCM is the WAVE_FORMAT_PCM format tag.
const formatPCM = 1

// Header is the header of a 16-bit PCM WAV file.
//
// [Header.MarshalTo] writes the canonical 44-byte form; [Header.Unmarshal]
// also reads files with other chunks (LIST, fact, an extensible fmt chunk)
// before the data, as written by other tools.
type Header struct {
	Channels      uint16 // 1 mono, 2 stereo
	SampleRate    uint32 // frames per second
	BitsPerSample uint16 // 16 for the files this package writes
	// DataSize is the size of the audio data in bytes, as recorded in the
	// data chunk header.
	DataSize uint32
	// DataOffset is where the audio data starts in the file. Unmarshal sets
	// it; MarshalTo ignores it and always writes HeaderSize-byte headers.
	DataOffset int64
}

// BlockAlign returns the size of one frame (one sample of every channel) in
// bytes.
func (h *Header) BlockAlign() int {
	return int(h.Channels) * int(h.BitsPerSample) / 8
}

// Duration returns the playing time of DataSize bytes of audio.
func (h *Header) Duration() time.Duration {
	if h.BlockAlign() == 0 || h.SampleRate == 0 {
		return 0
	}
	frames := int64(h.DataSize) / int64(h.BlockAlign())
	return time.Duration(frames * int64(time.Second) / int64(h.SampleRate))
}

// MarshalSize returns the size of the marshalled header: [HeaderSize].
func (h *Header) MarshalSize() int { return HeaderSize }

// Marshal returns the header in its canonical 44-byte form.
func (h *Header) Marshal() ([]byte, error) {
	buf := make([]byte, h.MarshalSize())
	n, err := h.MarshalTo(buf)
	return buf[:n], err
}

// MarshalTo writes the canonical 44-byte header into buf and returns the
// number of bytes written, or [io.ErrShortBuffer] when buf is too small.
//
// The recorder writes its header with MarshalTo rather than with
// go-audio/wav's Encoder, which reading uses: a [Recording] rewrites the
// header in place every second, so that a process killed mid-call leaves a
// file that plays up to the last second, and it does so from a buffer it
// reuses, allocating nothing. The Encoder writes the sizes only on Close
// and allocates on every write.
func (h *Header) MarshalTo(buf []byte) (int, error) {
	if len(buf) < HeaderSize {
		return 0, io.ErrShortBuffer
	}
	le := binary.LittleEndian
	blockAlign := uint16(h.BlockAlign())
	riffSize := uint64(h.DataSize) + HeaderSize - 8
	if riffSize > math.MaxUint32 {
		riffSize = math.MaxUint32
	}
	copy(buf[0:4], "RIFF")
	le.PutUint32(buf[4:8], uint32(riffSize))
	copy(buf[8:12], "WAVE")
	copy(buf[12:16], "fmt ")
	le.PutUint32(buf[16:20], 16)
	le.PutUint16(buf[20:22], formatPCM)
	le.PutUint16(buf[22:24], h.Channels)
	le.PutUint32(buf[24:28], h.SampleRate)
	le.PutUint32(buf[28:32], h.SampleRate*uint32(blockAlign))
	le.PutUint16(buf[32:34], blockAlign)
	le.PutUint16(buf[34:36], h.BitsPerSample)
	copy(buf[36:40], "data")
	le.PutUint32(buf[40:44], h.DataSize)
	return HeaderSize, nil
}

// Unmarshal parses the start of a WAV file: the RIFF header and every chunk
// up to the header of the data chunk, which must lie within buf. Only 16-bit
// integer PCM is accepted. The data chunk's size is taken as written, even
// when it does not match the file (a writer that stopped early, see
// [Repair]). The error wraps [ErrInvalidWAV], and also [io.ErrUnexpectedEOF]
// when buf ends before the data chunk.
func (h *Header) Unmarshal(buf []byte) error {
	w, err := wavfile.ReadHeader(bytes.NewReader(buf))
	if err != nil {
		return err
	}
	if w.Format != formatPCM || w.BitsPerSample != 16 || w.Channels == 0 || w.SampleRate == 0 {
		return fmt.Errorf("%w: format %d, %d channels, %d Hz, %d bits: want 16-bit PCM",
			ErrInvalidWAV, w.Format, w.Channels, w.SampleRate, w.BitsPerSample)
	}
	*h = Header{Channels: w.Channels, SampleRate: w.SampleRate, BitsPerSample: w.BitsPerSample,
		DataSize: w.DataSize, DataOffset: w.DataOffset}
	return nil
}

// RepairAs is [Repair] for a file the caller knows was created as a
// recording of mode. A file too short to hold a WAV header can only come
// from a writer stopped between creating the file and writing its header
// (the header is its first write, in one piece), so it holds no audio:
// RepairAs gives it the header of an empty recording of mode instead of
// failing, and the recording can be delivered like any other.
func RepairAs(path string, mode Mode) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("recorder: repair: %w", err)
	}
	if fi.Size() >= HeaderSize {
		return Repair(path)
	}
	channels := uint16(2)
	if mode == Mono {
		channels = 1
	}
	h := Header{Channels: channels, SampleRate: SampleRate, BitsPerSample: 16}
	var buf [HeaderSize]byte
	if _, err := h.MarshalTo(buf[:]); err != nil {
		return fmt.Errorf("recorder: repair %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("recorder: repair: %w", err)
	}
	_, err = f.WriteAt(buf[:], 0)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("recorder: repair %s: %w", path, err)
	}
	return nil
}

// repairScan is how much of a file Repair reads to find the data chunk.
const repairScan = 64 << 10

// Repair fixes the size fields of a 16-bit PCM WAV file whose writer stopped
// before finishing it, for example a [Recording] whose process was killed:
// the RIFF and data chunk sizes are set from the file's actual length, and a
// trailing partial frame is cut off. Repair of a complete file changes
// nothing. The error wraps [ErrInvalidWAV] when path is not such a WAV file.
func Repair(path string) (err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("recorder: repair: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("recorder: repair: %w", cerr))
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("recorder: repair: %w", err)
	}
	buf := make([]byte, min(fi.Size(), repairScan))
	if _, err := io.ReadFull(f, buf); err != nil {
		return fmt.Errorf("recorder: repair %s: %w", path, err)
	}
	var h Header
	if err := h.Unmarshal(buf); err != nil {
		return fmt.Errorf("recorder: repair %s: %w", path, err)
	}
	align := int64(h.BlockAlign())
	data := fi.Size() - h.DataOffset
	data -= data % align
	if limit := maxDataSize - maxDataSize%align; data > limit {
		data = limit // the rest cannot be described; leave it in place
	} else if end := h.DataOffset + data; end != fi.Size() {
		if err := f.Truncate(end); err != nil { // drop a partial frame
			return fmt.Errorf("recorder: repair %s: %w", path, err)
		}
	}
	le := binary.LittleEndian
	var field [4]byte
	le.PutUint32(field[:], uint32(min(h.DataOffset+data-8, math.MaxUint32)))
	if _, err := f.WriteAt(field[:], 4); err != nil {
		return fmt.Errorf("recorder: repair %s: %w", path, err)
	}
	le.PutUint32(field[:], uint32(data))
	if _, err := f.WriteAt(field[:], h.DataOffset-4); err != nil {
		return fmt.Errorf("recorder: repair %s: %w", path, err)
	}
	return nil
}
