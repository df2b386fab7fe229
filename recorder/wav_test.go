package recorder_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/recorder"
)

func TestHeaderRoundTrip(t *testing.T) {
	h := recorder.Header{Channels: 2, SampleRate: 8000, BitsPerSample: 16, DataSize: 32000}
	buf, err := h.Marshal()
	require.NoError(t, err)
	require.Len(t, buf, recorder.HeaderSize)
	assert.Equal(t, "RIFF", string(buf[:4]))
	assert.EqualValues(t, 32036, binary.LittleEndian.Uint32(buf[4:]))

	var got recorder.Header
	require.NoError(t, got.Unmarshal(buf))
	h.DataOffset = recorder.HeaderSize
	assert.Equal(t, h, got)
	assert.Equal(t, 4, got.BlockAlign())
	assert.Equal(t, time.Second, got.Duration())

	n, err := h.MarshalTo(make([]byte, recorder.HeaderSize-1))
	assert.ErrorIs(t, err, io.ErrShortBuffer)
	assert.Zero(t, n)
}

func TestHeaderUnmarshal(t *testing.T) {
	valid, err := (&recorder.Header{Channels: 1, SampleRate: 8000, BitsPerSample: 16}).Marshal()
	require.NoError(t, err)
	withList := append(append(append([]byte{}, valid[:36]...), "LIST\x05\x00\x00\x00abcde\x00"...), valid[36:]...)
	float := bytes.Clone(valid)
	float[20] = 3 // IEEE float
	tests := map[string]struct {
		buf     []byte
		wantErr error
		offset  int64
	}{
		"canonical":             {buf: valid, offset: 44},
		"odd chunk before data": {buf: withList, offset: 58},
		"empty":                 {buf: nil, wantErr: io.ErrUnexpectedEOF},
		"not riff":              {buf: append([]byte("RIFX"), valid[4:]...), wantErr: recorder.ErrInvalidWAV},
		"float samples":         {buf: float, wantErr: recorder.ErrInvalidWAV},
		"cut in the chunks":     {buf: valid[:40], wantErr: io.ErrUnexpectedEOF},
		"data before fmt":       {buf: append(append([]byte{}, valid[:12]...), valid[36:]...), wantErr: recorder.ErrInvalidWAV},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var h recorder.Header
			err := h.Unmarshal(tt.buf)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.ErrorIs(t, err, recorder.ErrInvalidWAV)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.offset, h.DataOffset)
			assert.EqualValues(t, 1, h.Channels)
		})
	}
}

// FuzzHeaderUnmarshal checks that whatever Unmarshal accepts marshals back
// to a canonical header that unmarshals to the same format.
func FuzzHeaderUnmarshal(f *testing.F) {
	valid, err := (&recorder.Header{Channels: 2, SampleRate: 8000, BitsPerSample: 16, DataSize: 4}).Marshal()
	require.NoError(f, err)
	f.Add(valid)
	f.Add(valid[:20])
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEdata\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h recorder.Header
		if err := h.Unmarshal(b); err != nil {
			require.ErrorIs(t, err, recorder.ErrInvalidWAV)
			return
		}
		require.LessOrEqual(t, h.DataOffset, int64(len(b)))
		out, err := h.Marshal()
		require.NoError(t, err)
		var back recorder.Header
		require.NoError(t, back.Unmarshal(out))
		h.DataOffset = recorder.HeaderSize
		require.Equal(t, h, back)
	})
}

// TestCrashLeavesPlayableFile records without closing, as a killed process
// would, and checks that the file on disk plays up to the last header
// update, and all of it after Repair.
func TestCrashLeavesPlayableFile(t *testing.T) {
	c := newCall(t, nil)
	t.Cleanup(func() { _, _ = c.rec.Close(context.Background()) })
	c.talk(0, 3500*time.Millisecond, true, true)

	crashed := readFile(t, c.path)
	var h recorder.Header
	require.NoError(t, h.Unmarshal(crashed))
	assert.GreaterOrEqual(t, h.Duration(), 2*time.Second, "header updated at least every second")
	a := decodeWAV(t, crashed)
	assert.Equal(t, h.Duration(), a.Duration())
	assertTone(t, a, left, 0, h.Duration(), 440, 1000)
	assertTone(t, a, right, 0, h.Duration(), 1000, 440)

	copyPath := filepath.Join(t.TempDir(), "crashed.wav")
	require.NoError(t, os.WriteFile(copyPath, crashed, 0o600))
	require.NoError(t, recorder.Repair(copyPath))
	repaired := readFile(t, copyPath)
	var rh recorder.Header
	require.NoError(t, rh.Unmarshal(repaired))
	assert.EqualValues(t, len(crashed)-recorder.HeaderSize, rh.DataSize)
	assert.Greater(t, rh.Duration(), h.Duration())
	assertTone(t, decodeWAV(t, repaired), left, 0, rh.Duration(), 440, 1000)
}

func TestRepair(t *testing.T) {
	complete := func(t *testing.T) []byte {
		c := newCall(t, nil)
		c.talk(0, time.Second, true, true)
		c.close(time.Second)
		return readFile(t, c.path)
	}
	tests := map[string]struct {
		mutate   func(t *testing.T, b []byte) []byte
		wantErr  error
		wantData int // data bytes after repair
	}{
		"complete file is unchanged": {
			mutate:   func(t *testing.T, b []byte) []byte { return b },
			wantData: 32000,
		},
		"sizes never written": {
			mutate: func(t *testing.T, b []byte) []byte {
				clear(b[4:8])
				clear(b[40:44])
				return b
			},
			wantData: 32000,
		},
		"truncated inside a frame": {
			mutate:   func(t *testing.T, b []byte) []byte { return b[:recorder.HeaderSize+1001] },
			wantData: 1000,
		},
		"header only": {
			mutate:   func(t *testing.T, b []byte) []byte { return b[:recorder.HeaderSize] },
			wantData: 0,
		},
		"not a wav file": {
			mutate:  func(t *testing.T, b []byte) []byte { return []byte("hello, this is not audio at all, not at all") },
			wantErr: recorder.ErrInvalidWAV,
		},
		"cut inside the header": {
			mutate:  func(t *testing.T, b []byte) []byte { return b[:30] },
			wantErr: recorder.ErrInvalidWAV,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			orig := complete(t)
			path := filepath.Join(t.TempDir(), "r.wav")
			data := tt.mutate(t, bytes.Clone(orig))
			require.NoError(t, os.WriteFile(path, data, 0o600))
			err := recorder.Repair(path)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				after, rerr := os.ReadFile(path)
				require.NoError(t, rerr)
				assert.Equal(t, data, after, "a file that is not repaired is left alone")
				return
			}
			require.NoError(t, err)
			after, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Len(t, after, recorder.HeaderSize+tt.wantData)
			assert.True(t, bytes.Equal(orig[recorder.HeaderSize:len(after)], after[recorder.HeaderSize:]),
				"the repaired audio is the original cut to whole frames")
			var h recorder.Header
			require.NoError(t, h.Unmarshal(after))
			assert.EqualValues(t, tt.wantData, h.DataSize)
			assert.EqualValues(t, len(after)-8, binary.LittleEndian.Uint32(after[4:]))
			a := decodeWAV(t, after)
			assert.Len(t, a.Channels[0], tt.wantData/4)
		})
	}
	t.Run("missing file", func(t *testing.T) {
		require.ErrorIs(t, recorder.Repair(filepath.Join(t.TempDir(), "none.wav")), os.ErrNotExist)
	})
}
