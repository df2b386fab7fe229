package wavfile_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	"github.com/go-audio/wav"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/guidance"
	"github.com/callrec/callrec/internal/waveform"
	"github.com/callrec/callrec/internal/wavfile"
	"github.com/callrec/callrec/recorder"
)

// chunk returns a RIFF chunk with the given id and body, padded to an even
// size, whose size field says size (len(body) when size < 0).
func chunk(id string, size int, body []byte) []byte {
	if size < 0 {
		size = len(body)
	}
	b := append([]byte(id), binary.LittleEndian.AppendUint32(nil, uint32(size))...)
	b = append(b, body...)
	if len(body)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

func fmtBody(format, channels uint16, rate uint32, bits uint16) []byte {
	b := binary.LittleEndian.AppendUint16(nil, format)
	b = binary.LittleEndian.AppendUint16(b, channels)
	b = binary.LittleEndian.AppendUint32(b, rate)
	b = binary.LittleEndian.AppendUint32(b, rate*uint32(channels*bits/8))
	b = binary.LittleEndian.AppendUint16(b, channels*bits/8)
	return binary.LittleEndian.AppendUint16(b, bits)
}

func extensible(sub uint16, tail string) []byte {
	b := fmtBody(wavfile.FormatExtensible, 2, 16000, 16)
	b = binary.LittleEndian.AppendUint16(b, 22)  // cbSize
	b = binary.LittleEndian.AppendUint16(b, 16)  // valid bits
	b = binary.LittleEndian.AppendUint32(b, 3)   // channel mask
	b = binary.LittleEndian.AppendUint16(b, sub) // sub-format tag …
	return append(b, tail...)                    // … and the rest of its GUID
}

const pcmTail = "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71"

func riff(chunks ...[]byte) []byte {
	body := []byte("WAVE")
	for _, c := range chunks {
		body = append(body, c...)
	}
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

func TestReadHeader(t *testing.T) {
	pcm := chunk("fmt ", -1, fmtBody(1, 2, 8000, 16))
	data := chunk("data", -1, []byte{1, 0, 2, 0, 3, 0, 4, 0})
	unpatched := riff(pcm, chunk("data", 0, []byte{1, 0, 2, 0, 3, 0, 4, 0}))
	clear(unpatched[4:8])
	for name, tc := range map[string]struct {
		in      []byte
		want    wavfile.Header
		wantEOF bool // error also wraps io.ErrUnexpectedEOF
		wantErr bool
	}{
		"canonical": {in: riff(pcm, data),
			want: wavfile.Header{Format: 1, Channels: 2, SampleRate: 8000, BlockAlign: 4, BitsPerSample: 16, DataSize: 8, DataOffset: 44}},
		"LIST before fmt, odd chunk before data": {in: riff(chunk("LIST", -1, []byte("INFOabcd")), pcm, chunk("junk", -1, []byte("abc")), data),
			want: wavfile.Header{Format: 1, Channels: 2, SampleRate: 8000, BlockAlign: 4, BitsPerSample: 16, DataSize: 8, DataOffset: 44 + 16 + 12}},
		"sizes never patched after a crash": {in: unpatched,
			want: wavfile.Header{Format: 1, Channels: 2, SampleRate: 8000, BlockAlign: 4, BitsPerSample: 16, DataSize: 0, DataOffset: 44}},
		"streaming data size": {in: riff(pcm, chunk("data", 0xFFFFFFFF, nil)),
			want: wavfile.Header{Format: 1, Channels: 2, SampleRate: 8000, BlockAlign: 4, BitsPerSample: 16, DataSize: 0xFFFFFFFF, DataOffset: 44}},
		"extensible PCM": {in: riff(chunk("fmt ", -1, extensible(1, pcmTail)), data),
			want: wavfile.Header{Format: 1, Extensible: true, StandardSubformat: true, Channels: 2, SampleRate: 16000, BlockAlign: 4, BitsPerSample: 16, DataSize: 8, DataOffset: 68}},
		"extensible, other GUID": {in: riff(chunk("fmt ", -1, extensible(1, string(make([]byte, 14)))), data),
			want: wavfile.Header{Format: 1, Extensible: true, Channels: 2, SampleRate: 16000, BlockAlign: 4, BitsPerSample: 16, DataSize: 8, DataOffset: 68}},
		"second fmt chunk is skipped": {in: riff(pcm, chunk("fmt ", -1, fmtBody(3, 1, 1, 32)), data),
			want: wavfile.Header{Format: 1, Channels: 2, SampleRate: 8000, BlockAlign: 4, BitsPerSample: 16, DataSize: 8, DataOffset: 68}},

		"empty":                  {in: nil, wantErr: true, wantEOF: true},
		"not RIFF":               {in: append([]byte("RIFX"), riff(pcm, data)[4:]...), wantErr: true},
		"not WAVE":               {in: append(riff(pcm, data)[:8:8], append([]byte("AVI "), riff(pcm, data)[12:]...)...), wantErr: true},
		"cut in a chunk header":  {in: riff(pcm, data)[:40], wantErr: true, wantEOF: true},
		"cut in the fmt chunk":   {in: riff(pcm, data)[:30], wantErr: true, wantEOF: true},
		"no data chunk":          {in: riff(pcm), wantErr: true, wantEOF: true},
		"data before fmt":        {in: riff(data, pcm), wantErr: true},
		"no fmt chunk":           {in: riff(data), wantErr: true},
		"short fmt":              {in: riff(chunk("fmt ", -1, fmtBody(1, 1, 8000, 16)[:4]), data), wantErr: true},
		"short extensible fmt":   {in: riff(chunk("fmt ", -1, extensible(1, pcmTail)[:30]), data), wantErr: true},
		"fmt size of 2 GiB":      {in: riff(chunk("fmt ", 1<<31, fmtBody(1, 1, 8000, 16)), data), wantErr: true},
		"LIST runs past the end": {in: riff(pcm, chunk("LIST", 1<<30, []byte("INFOIART\xff\xff\xff\xff")), data), wantErr: true, wantEOF: true},
		"fmt runs past the end":  {in: riff(chunk("fmt ", 40, fmtBody(1, 1, 8000, 16))), wantErr: true, wantEOF: true},
	} {
		t.Run(name, func(t *testing.T) {
			h, err := wavfile.ReadHeader(bytes.NewReader(tc.in))
			if tc.wantErr {
				require.ErrorIs(t, err, wavfile.ErrInvalidWAV)
				if tc.wantEOF {
					require.ErrorIs(t, err, io.ErrUnexpectedEOF)
				} else {
					require.NotErrorIs(t, err, io.ErrUnexpectedEOF)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, h)
		})
	}
}

// TestReadHeaderLeavesReaderAtData checks that the reader stands at the
// first sample afterwards, also when the file does not start at offset 0.
func TestReadHeaderLeavesReaderAtData(t *testing.T) {
	file := riff(chunk("LIST", -1, []byte("INFOab")), chunk("fmt ", -1, fmtBody(1, 1, 8000, 16)), chunk("data", -1, []byte{7, 0, 8, 0}))
	r := bytes.NewReader(append([]byte("prefix"), file...))
	_, err := r.Seek(6, io.SeekStart)
	require.NoError(t, err)
	h, err := wavfile.ReadHeader(r)
	require.NoError(t, err)
	rest, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, []byte{7, 0, 8, 0}, rest)
	assert.EqualValues(t, len(file)-4, h.DataOffset)
}

// TestReadHeaderAgreesWithGoAudio reads a file with other chunks with both
// ReadHeader and go-audio/wav's own decoder.
func TestReadHeaderAgreesWithGoAudio(t *testing.T) {
	file := riff(chunk("bext", -1, make([]byte, 31)), chunk("fmt ", -1, fmtBody(1, 2, 44100, 16)), chunk("fact", -1, []byte{4, 0, 0, 0}), chunk("data", -1, make([]byte, 400)))
	h, err := wavfile.ReadHeader(bytes.NewReader(file))
	require.NoError(t, err)
	dec := wav.NewDecoder(bytes.NewReader(file))
	require.NoError(t, dec.FwdToPCM())
	assert.Equal(t, dec.WavAudioFormat, h.Format)
	assert.Equal(t, dec.NumChans, h.Channels)
	assert.Equal(t, dec.SampleRate, h.SampleRate)
	assert.Equal(t, dec.BitDepth, h.BitsPerSample)
	assert.EqualValues(t, dec.PCMSize, h.DataSize)
}

// TestOneInvalidWAV checks that the packages reading WAVs share one
// ErrInvalidWAV.
func TestOneInvalidWAV(t *testing.T) {
	assert.Same(t, wavfile.ErrInvalidWAV, recorder.ErrInvalidWAV)
	assert.Same(t, wavfile.ErrInvalidWAV, guidance.ErrInvalidWAV)
	assert.Same(t, wavfile.ErrInvalidWAV, waveform.ErrInvalidWAV)
}
