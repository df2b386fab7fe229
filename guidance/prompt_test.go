package guidance

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-audio/wav"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/internal/wavfile"
)

// TestEmbeddedPrompts decodes each shipped WAV with go-audio/wav, an
// independent decoder, and checks the format, loudness and length, and
// that EmbeddedPrompt yields exactly its samples.
func TestEmbeddedPrompts(t *testing.T) {
	for id := 1; id <= NumAnnouncements; id++ {
		t.Run(filepath.Base(promptFile(id)), func(t *testing.T) {
			data, err := embeddedPrompts.ReadFile(promptFile(id))
			require.NoError(t, err)
			dec := wav.NewDecoder(bytes.NewReader(data))
			require.True(t, dec.IsValidFile(), "go-audio/wav rejects the file: %v", dec.Err())
			buf, err := dec.FullPCMBuffer()
			require.NoError(t, err)
			assert.Equal(t, uint16(wavFormatPCM), dec.WavAudioFormat)
			assert.Equal(t, uint32(8000), dec.SampleRate)
			assert.Equal(t, uint16(1), dec.NumChans)
			assert.Equal(t, uint16(16), dec.BitDepth)

			samples := make([]int16, len(buf.Data))
			for i, v := range buf.Data {
				samples[i] = int16(v)
			}
			d := time.Duration(len(samples)) * time.Second / 8000
			assert.GreaterOrEqual(t, d, 2*time.Second)
			assert.LessOrEqual(t, d, 15*time.Second)
			level := 20 * math.Log10(rms(samples)/math.MaxInt16)
			assert.Greater(t, level, -30.0, "speech too quiet: %.1f dBFS RMS", level)
			peak := 0
			for _, v := range samples {
				peak = max(peak, int(math.Abs(float64(v))))
			}
			assert.Less(t, peak, math.MaxInt16, "normalised without clipping")
			// Trimmed: speech starts and ends within 100 ms of the edges.
			assert.Greater(t, rms(samples[:800]), 30.0, "leading silence not trimmed")
			assert.Greater(t, rms(samples[len(samples)-800:]), 30.0, "trailing silence not trimmed")

			p, err := EmbeddedPrompt(id)
			require.NoError(t, err)
			assert.Equal(t, samples, p.Samples())
			assert.Equal(t, d, p.Duration())
		})
	}
	_, err := EmbeddedPrompt(6)
	assert.ErrorIs(t, err, ErrUnknownAnnouncement)
}

func promptFile(id int) string { return "prompts/announce" + string(rune('0'+id)) + ".wav" }

// wavFile builds a WAV file; fmtExtra lets a test corrupt or extend it.
type wavSpec struct {
	tag        uint16
	channels   uint16
	rate       uint32
	bits       uint16
	blockAlign uint16 // 0: channels*bits/8
	data       []byte
	before     []byte // raw chunks inserted before fmt
	between    []byte // raw chunks between fmt and data
	extensible []byte // sub-format GUID for WAVE_FORMAT_EXTENSIBLE
}

func (w wavSpec) bytes() []byte {
	var b bytes.Buffer
	b.WriteString("RIFF\x00\x00\x00\x00WAVE")
	b.Write(w.before)
	fmtLen := 16
	if w.extensible != nil {
		fmtLen = 40
	}
	b.WriteString("fmt ")
	le := binary.LittleEndian
	b.Write(le.AppendUint32(nil, uint32(fmtLen)))
	align := w.blockAlign
	if align == 0 {
		align = w.channels * w.bits / 8
	}
	b.Write(le.AppendUint16(nil, w.tag))
	b.Write(le.AppendUint16(nil, w.channels))
	b.Write(le.AppendUint32(nil, w.rate))
	b.Write(le.AppendUint32(nil, w.rate*uint32(align)))
	b.Write(le.AppendUint16(nil, align))
	b.Write(le.AppendUint16(nil, w.bits))
	if w.extensible != nil {
		b.Write(le.AppendUint16(nil, 22))
		b.Write(le.AppendUint16(nil, w.bits))
		b.Write(le.AppendUint32(nil, 0))
		b.Write(w.extensible)
	}
	b.Write(w.between)
	b.WriteString("data")
	b.Write(le.AppendUint32(nil, uint32(len(w.data))))
	b.Write(w.data)
	out := b.Bytes()
	le.PutUint32(out[4:], uint32(len(out)-8))
	return out
}

func pcm16(samples ...int16) []byte {
	b := make([]byte, 2*len(samples))
	for i, s := range samples {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	return b
}

// sine returns n interleaved frames of a sine at freq Hz for rate and
// channels, the same on every channel.
func sine(n, rate, channels int, freq, amp float64) []int16 {
	s := make([]int16, n*channels)
	for i := range n {
		v := int16(math.Round(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate))))
		for c := range channels {
			s[i*channels+c] = v
		}
	}
	return s
}

// pcmGUIDTail is bytes 2–15 of KSDATAFORMAT_SUBTYPE_PCM.
const pcmGUIDTail = "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71"

const (
	wavFormatPCM        = wavfile.FormatPCM
	wavFormatExtensible = wavfile.FormatExtensible
)

func TestReadPrompt(t *testing.T) {
	second := sine(8000, 8000, 1, 440, 8000)
	stereo48 := sine(48000, 48000, 2, 440, 8000)
	tests := map[string]struct {
		file    []byte
		wantErr error
		wantLen int
	}{
		"8k mono":    {file: wavSpec{tag: 1, channels: 1, rate: 8000, bits: 16, data: pcm16(second...)}.bytes(), wantLen: 8000},
		"48k stereo": {file: wavSpec{tag: 1, channels: 2, rate: 48000, bits: 16, data: pcm16(stereo48...)}.bytes(), wantLen: 8000},
		"44.1k mono": {file: wavSpec{tag: 1, channels: 1, rate: 44100, bits: 16, data: pcm16(sine(44100, 44100, 1, 440, 8000)...)}.bytes(), wantLen: 8000},
		"extensible pcm": {file: wavSpec{tag: wavFormatExtensible, channels: 1, rate: 16000, bits: 16,
			data: pcm16(sine(16000, 16000, 1, 440, 8000)...), extensible: []byte("\x01\x00" + pcmGUIDTail)}.bytes(), wantLen: 8000},
		"list chunk before fmt and odd chunk between": {file: wavSpec{tag: 1, channels: 1, rate: 8000, bits: 16, data: pcm16(second...),
			before: []byte("LIST\x04\x00\x00\x00INFO"), between: []byte("junk\x03\x00\x00\x00abc\x00")}.bytes(), wantLen: 8000},
		"streaming data size": {file: func() []byte {
			b := wavSpec{tag: 1, channels: 1, rate: 8000, bits: 16, data: pcm16(second...)}.bytes()
			binary.LittleEndian.PutUint32(b[40:], 0xFFFFFFFF)
			return b
		}(), wantLen: 8000},

		"empty":                            {file: nil, wantErr: ErrInvalidWAV},
		"not riff":                         {file: []byte("RIFX\x00\x00\x00\x00WAVEfmt "), wantErr: ErrInvalidWAV},
		"no fmt":                           {file: []byte("RIFF\x04\x00\x00\x00WAVEdata\x00\x00\x00\x00"), wantErr: ErrInvalidWAV},
		"no data":                          {file: wavSpec{tag: 1, channels: 1, rate: 8000, bits: 16}.bytes()[:36], wantErr: ErrInvalidWAV},
		"truncated data":                   {file: wavSpec{tag: 1, channels: 1, rate: 8000, bits: 16, data: pcm16(second...)}.bytes()[:1000], wantErr: ErrInvalidWAV},
		"truncated header":                 {file: wavSpec{tag: 1, channels: 1, rate: 8000, bits: 16, data: pcm16(second...)}.bytes()[:16], wantErr: ErrInvalidWAV},
		"short fmt":                        {file: []byte("RIFF\x00\x00\x00\x00WAVEfmt \x04\x00\x00\x00\x01\x00\x01\x00data\x00\x00\x00\x00"), wantErr: ErrInvalidWAV},
		"half frame":                       {file: wavSpec{tag: 1, channels: 2, rate: 8000, bits: 16, data: append(pcm16(sine(8000, 8000, 2, 440, 1)...), 1, 2)}.bytes(), wantErr: ErrInvalidWAV},
		"bad block align":                  {file: wavSpec{tag: 1, channels: 1, rate: 8000, bits: 16, blockAlign: 4, data: pcm16(second...)}.bytes(), wantErr: ErrInvalidWAV},
		"8-bit":                            {file: wavSpec{tag: 1, channels: 1, rate: 8000, bits: 8, data: make([]byte, 8000)}.bytes(), wantErr: ErrUnsupportedFormat},
		"24-bit":                           {file: wavSpec{tag: 1, channels: 1, rate: 8000, bits: 24, data: make([]byte, 24000)}.bytes(), wantErr: ErrUnsupportedFormat},
		"float":                            {file: wavSpec{tag: 3, channels: 1, rate: 8000, bits: 32, data: make([]byte, 32000)}.bytes(), wantErr: ErrUnsupportedFormat},
		"a-law":                            {file: wavSpec{tag: 6, channels: 1, rate: 8000, bits: 8, data: make([]byte, 8000)}.bytes(), wantErr: ErrUnsupportedFormat},
		"extensible float":                 {file: wavSpec{tag: wavFormatExtensible, channels: 1, rate: 8000, bits: 16, data: pcm16(second...), extensible: []byte("\x03\x00" + pcmGUIDTail)}.bytes(), wantErr: ErrUnsupportedFormat},
		"extensible other":                 {file: wavSpec{tag: wavFormatExtensible, channels: 1, rate: 8000, bits: 16, data: pcm16(second...), extensible: make([]byte, 16)}.bytes(), wantErr: ErrUnsupportedFormat},
		"6 kHz":                            {file: wavSpec{tag: 1, channels: 1, rate: 6000, bits: 16, data: pcm16(second...)}.bytes(), wantErr: ErrUnsupportedFormat},
		"96 kHz":                           {file: wavSpec{tag: 1, channels: 1, rate: 96000, bits: 16, data: pcm16(second...)}.bytes(), wantErr: ErrUnsupportedFormat},
		"3 channels":                       {file: wavSpec{tag: 1, channels: 3, rate: 8000, bits: 16, data: pcm16(sine(800, 8000, 3, 440, 1)...)}.bytes(), wantErr: ErrUnsupportedFormat},
		"too short":                        {file: wavSpec{tag: 1, channels: 1, rate: 8000, bits: 16, data: pcm16(second[:159]...)}.bytes(), wantErr: ErrPromptLength},
		"silence is fine but empty is not": {file: wavSpec{tag: 1, channels: 1, rate: 8000, bits: 16}.bytes(), wantErr: ErrPromptLength},
		"too long":                         {file: wavSpec{tag: 1, channels: 1, rate: 8000, bits: 16, data: make([]byte, 2*8000*61)}.bytes(), wantErr: ErrPromptLength},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := ReadPrompt(bytes.NewReader(tc.file))
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.Nil(t, p)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantLen, p.Len())
			assert.Greater(t, rms(p.Samples()), 1000.0)
		})
	}
}

func TestReadPromptOversizedFile(t *testing.T) {
	big := make([]byte, maxWAVSize+1)
	copy(big, wavSpec{tag: 1, channels: 1, rate: 8000, bits: 16}.bytes())
	_, err := ReadPrompt(bytes.NewReader(big))
	assert.ErrorIs(t, err, ErrPromptLength)
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestReadPromptReadError(t *testing.T) {
	_, err := ReadPrompt(failingReader{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "disk on fire")
}

func TestLoadPrompt(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.wav")
	require.NoError(t, os.WriteFile(good, wavSpec{tag: 1, channels: 2, rate: 16000, bits: 16, data: pcm16(sine(16000, 16000, 2, 440, 8000)...)}.bytes(), 0o600))
	p, err := LoadPrompt(good)
	require.NoError(t, err)
	assert.Equal(t, time.Second, p.Duration())
	assert.Equal(t, 50, p.Packets())

	bad := filepath.Join(dir, "bad.wav")
	require.NoError(t, os.WriteFile(bad, []byte("not a wav"), 0o600))
	_, err = LoadPrompt(bad)
	require.ErrorIs(t, err, ErrInvalidWAV)
	assert.Contains(t, err.Error(), "bad.wav")

	_, err = LoadPrompt(filepath.Join(dir, "missing.wav"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestNewPrompt(t *testing.T) {
	// Stereo channels are averaged: left +8000, right -2000 → +3000.
	frames := 320
	s := make([]int16, 2*frames)
	for i := range frames {
		s[2*i], s[2*i+1] = 8000, -2000
	}
	p, err := NewPrompt(s, 8000, 2)
	require.NoError(t, err)
	for _, v := range p.Samples() {
		require.Equal(t, int16(3000), v)
	}
	_, err = NewPrompt(s[:3], 8000, 2)
	assert.ErrorIs(t, err, ErrUnsupportedFormat)
	_, err = NewPrompt(s, 7999, 1)
	assert.ErrorIs(t, err, ErrUnsupportedFormat)
	_, err = NewPrompt(s, 8000, 0)
	assert.ErrorIs(t, err, ErrUnsupportedFormat)
}

func TestPromptSamplesIsACopy(t *testing.T) {
	p := tonePrompt(t, 440, 8000, 100*time.Millisecond)
	s := p.Samples()
	s[0] = 12345
	assert.NotEqual(t, int16(12345), p.Samples()[0])
}

func TestWriteWAVRoundTrip(t *testing.T) {
	p := tonePrompt(t, 440, 20000, 730*time.Millisecond)
	var buf bytes.Buffer
	require.NoError(t, p.WriteWAV(&buf))

	dec := wav.NewDecoder(bytes.NewReader(buf.Bytes()))
	require.True(t, dec.IsValidFile())
	pcm, err := dec.FullPCMBuffer()
	require.NoError(t, err)
	assert.Equal(t, uint32(8000), dec.SampleRate)
	require.Len(t, pcm.Data, p.Len())

	back, err := ReadPrompt(&buf)
	require.NoError(t, err)
	assert.Equal(t, p.Samples(), back.Samples())
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("pipe closed") }

func TestWriteWAVError(t *testing.T) {
	p := tonePrompt(t, 440, 20000, 100*time.Millisecond)
	err := p.WriteWAV(failingWriter{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "pipe closed")
}

// FuzzReadPrompt asserts that any input is either refused with one of the
// documented errors or yields a prompt within bounds that survives a
// WriteWAV/ReadPrompt round trip unchanged.
func FuzzReadPrompt(f *testing.F) {
	f.Add(wavSpec{tag: 1, channels: 1, rate: 8000, bits: 16, data: pcm16(sine(400, 8000, 1, 440, 9000)...)}.bytes())
	f.Add(wavSpec{tag: 1, channels: 2, rate: 11025, bits: 16, data: pcm16(sine(600, 11025, 2, 440, 9000)...)}.bytes())
	f.Add(wavSpec{tag: wavFormatExtensible, channels: 1, rate: 8000, bits: 16, data: pcm16(sine(400, 8000, 1, 440, 9000)...), extensible: []byte("\x01\x00" + pcmGUIDTail)}.bytes())
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVE"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ReadPrompt(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrInvalidWAV) && !errors.Is(err, ErrUnsupportedFormat) && !errors.Is(err, ErrPromptLength) {
				t.Fatalf("undocumented error: %v", err)
			}
			return
		}
		if p.Duration() < MinPromptDuration-time.Millisecond || p.Duration() > MaxPromptDuration {
			t.Fatalf("duration %v out of bounds", p.Duration())
		}
		var buf bytes.Buffer
		if err := p.WriteWAV(&buf); err != nil {
			t.Fatal(err)
		}
		back, err := ReadPrompt(&buf)
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if !slicesEqual(p.Samples(), back.Samples()) {
			t.Fatal("round trip changed the samples")
		}
	})
}

func slicesEqual(a, b []int16) bool {
	return bytes.Equal(pcm16(a...), pcm16(b...))
}
