package waveform

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRenderWAVRoundTrip(t *testing.T) {
	const d = 2 * time.Second
	left, right := tone(d, 0, time.Second, 0.8), tone(d, time.Second, d, 0.3)
	opts := Options{Title: "round trip", Spans: []Span{{Start: 0, End: 500 * time.Millisecond, Kind: Guidance}}}
	for name, tc := range map[string]struct {
		a      Audio
		seeker bool
	}{
		"stereo file":   {a: Audio{SampleRate: rate, Channels: [][]int16{left, right}}, seeker: true},
		"stereo stream": {a: Audio{SampleRate: rate, Channels: [][]int16{left, right}}},
		"mono file":     {a: Audio{SampleRate: 16000, Channels: [][]int16{left}}, seeker: true},
		"empty":         {a: Audio{SampleRate: rate, Channels: [][]int16{{}, {}}}, seeker: true},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "call.wav")
			writeWAV(t, path, tc.a)
			open := func() io.Reader {
				f, err := os.Open(path)
				require.NoError(t, err)
				t.Cleanup(func() { require.NoError(t, f.Close()) })
				if tc.seeker {
					return f
				}
				return struct{ io.Reader }{f} // hides Seek
			}

			a, err := DecodeWAV(open())
			require.NoError(t, err)
			assert.Equal(t, tc.a.SampleRate, a.SampleRate)
			require.Len(t, a.Channels, len(tc.a.Channels))
			for c := range a.Channels {
				assert.Equal(t, len(tc.a.Channels[c]), len(a.Channels[c]))
				assert.True(t, slicesEqual(tc.a.Channels[c], a.Channels[c]), "channel %d samples differ", c)
			}

			var buf bytes.Buffer
			require.NoError(t, RenderWAV(&buf, open(), opts))
			img, err := png.Decode(&buf)
			require.NoError(t, err)
			got, ok := img.(*image.Paletted)
			require.True(t, ok)
			want := render(t, tc.a, opts)
			require.Equal(t, want.Bounds(), got.Bounds())
			require.True(t, bytes.Equal(want.Pix, got.Pix), "picture differs from Render of the samples")
		})
	}
}

func slicesEqual(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// wavBytes builds a WAV file by hand: a fmt chunk of fmtSize bytes
// (at least 16, padded up to 64) with the given fields, then a data chunk whose size field
// says dataSize, holding data.
func wavBytes(format, channels uint16, sampleRate uint32, bits uint16, fmtSize, dataSize uint32, data []byte) []byte {
	var b bytes.Buffer
	le := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	le(uint32(4 + 8 + fmtSize + 8 + uint32(len(data))))
	b.WriteString("WAVEfmt ")
	le(fmtSize)
	block := channels * bits / 8
	le(format)
	le(channels)
	le(sampleRate)
	le(sampleRate * uint32(block))
	le(block)
	le(bits)
	b.Write(make([]byte, min(max(fmtSize, 16), 64)-16)) // a lying size gets no padding
	b.WriteString("data")
	le(dataSize)
	b.Write(data)
	return b.Bytes()
}

func TestDecodeWAV(t *testing.T) {
	frames := []byte{1, 0, 2, 0, 3, 0, 4, 0, 5, 0} // 2.5 stereo frames
	for name, tc := range map[string]struct {
		in        []byte
		wantErr   bool
		wantLeft  []int16
		wantRight []int16
	}{
		"stereo":        {in: wavBytes(1, 2, rate, 16, 16, 8, frames[:8]), wantLeft: []int16{1, 3}, wantRight: []int16{2, 4}},
		"truncated":     {in: wavBytes(1, 2, rate, 16, 16, 800, frames), wantLeft: []int16{1, 3}, wantRight: []int16{2, 4}},
		"extended fmt":  {in: wavBytes(1, 2, rate, 16, 18, 4, frames[:4]), wantLeft: []int16{1}, wantRight: []int16{2}},
		"empty input":   {in: nil, wantErr: true},
		"not riff":      {in: []byte("RIFX\x00\x00\x00\x00WAVEfmt "), wantErr: true},
		"8-bit":         {in: wavBytes(1, 1, rate, 8, 16, 4, frames[:4]), wantErr: true},
		"float":         {in: wavBytes(3, 1, rate, 32, 16, 4, frames[:4]), wantErr: true},
		"zero channels": {in: wavBytes(1, 0, rate, 16, 16, 4, frames[:4]), wantErr: true},
		"nine channels": {in: wavBytes(1, 9, rate, 16, 16, 0, nil), wantErr: true},
		"zero rate":     {in: wavBytes(1, 1, 0, 16, 16, 4, frames[:4]), wantErr: true},
		"huge fmt":      {in: wavBytes(1, 1, rate, 16, 1<<31, 4, frames[:4]), wantErr: true},
		"no data":       {in: wavBytes(1, 1, rate, 16, 16, 0, nil)[:36], wantErr: true},
	} {
		t.Run(name, func(t *testing.T) {
			a, err := DecodeWAV(bytes.NewReader(tc.in))
			if tc.wantErr {
				require.ErrorIs(t, err, ErrInvalidWAV)
				return
			}
			require.NoError(t, err)
			require.Len(t, a.Channels, 2)
			assert.Equal(t, rate, a.SampleRate)
			assert.Equal(t, tc.wantLeft, a.Channels[0])
			assert.Equal(t, tc.wantRight, a.Channels[1])
		})
	}
}

func FuzzRenderWAV(f *testing.F) {
	f.Add(wavBytes(1, 2, rate, 16, 16, 8, []byte{1, 0, 2, 0, 3, 0, 4, 0}))
	f.Add(wavBytes(1, 1, rate, 16, 16, 1000, []byte{1, 0, 2}))
	f.Add(wavBytes(1, 1, rate, 16, 40, 0, nil))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVELIST\xff\xff\xff\x7f"))
	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := DecodeWAV(bytes.NewReader(in))
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidWAV)
			return
		}
		require.NotEmpty(t, a.Channels)
		n := len(a.Channels[0])
		for _, c := range a.Channels {
			require.Len(t, c, n, "channels of one file differ in length")
		}
		require.LessOrEqual(t, 2*n*len(a.Channels), len(in), "more samples than input bytes")
		var buf bytes.Buffer
		require.NoError(t, RenderWAV(&buf, bytes.NewReader(in), Options{Width: 300, Height: 140 * len(a.Channels)}))
		cfg, err := png.DecodeConfig(&buf)
		require.NoError(t, err)
		assert.Equal(t, 300, cfg.Width)
	})
}
