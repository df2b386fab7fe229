package testenv

import (
	"encoding/binary"
	"fmt"
	"os"

	"github.com/go-audio/wav"

	"github.com/callrec/callrec/recorder"
)

// CheckWAV verifies that the file at path is a complete recording: its RIFF
// size and data chunk size match the file's length, it holds whole frames,
// and an independent decoder (go-audio/wav) reads exactly that many
// frames. It returns the frames and channels.
func CheckWAV(path string) (frames int64, channels int, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	var h recorder.Header
	if err := h.Unmarshal(raw); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	if riff := binary.LittleEndian.Uint32(raw[4:8]); int64(riff) != int64(len(raw))-8 {
		return 0, 0, fmt.Errorf("%s: RIFF size %d, file %d bytes", path, riff, len(raw))
	}
	data := int64(len(raw)) - h.DataOffset
	if int64(h.DataSize) != data {
		return 0, 0, fmt.Errorf("%s: data chunk size %d, %d bytes of data in the file", path, h.DataSize, data)
	}
	align := int64(h.BlockAlign())
	if data%align != 0 {
		return 0, 0, fmt.Errorf("%s: %d data bytes are not whole %d-byte frames", path, data, align)
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	d := wav.NewDecoder(f)
	if !d.IsValidFile() {
		return 0, 0, fmt.Errorf("%s: go-audio/wav: not a valid file", path)
	}
	buf, err := d.FullPCMBuffer()
	if err != nil {
		return 0, 0, fmt.Errorf("%s: go-audio/wav: %w", path, err)
	}
	frames = data / align
	if int64(len(buf.Data)) != frames*int64(h.Channels) {
		return 0, 0, fmt.Errorf("%s: decoded %d samples, want %d", path, len(buf.Data), frames*int64(h.Channels))
	}
	return frames, int(h.Channels), nil
}
