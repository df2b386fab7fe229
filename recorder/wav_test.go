package recorder_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/recorder/recordertest"
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

// TestRepairAs checks that a file killed before its header was complete
// becomes an empty recording of the mode the caller names, and that any
// longer file is left to Repair.
func TestRepairAs(t *testing.T) {
	for _, tt := range []struct {
		name     string
		size     int
		mode     recorder.Mode
		channels int
	}{
		{"empty file, stereo", 0, recorder.Stereo, 2},
		{"torn header, mono", 30, recorder.Mono, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r.wav")
			require.NoError(t, os.WriteFile(path, bytes.Repeat([]byte{0xff}, tt.size), 0o600))
			require.NoError(t, recorder.RepairAs(path, tt.mode))
			after := readFile(t, path)
			require.Len(t, after, recorder.HeaderSize)
			a := decodeWAV(t, after)
			require.Len(t, a.Channels, tt.channels)
			assert.Empty(t, a.Channels[0])
		})
	}
	t.Run("longer file is repaired as usual", func(t *testing.T) {
		c := newCall(t, nil)
		c.talk(0, time.Second, true, true)
		c.close(time.Second)
		orig := readFile(t, c.path)
		path := filepath.Join(t.TempDir(), "r.wav")
		require.NoError(t, os.WriteFile(path, orig[:recorder.HeaderSize+1001], 0o600))
		require.NoError(t, recorder.RepairAs(path, recorder.Mono))
		a := decodeWAV(t, readFile(t, path))
		require.Len(t, a.Channels, 2, "the file's own header wins over the mode")
		assert.Len(t, a.Channels[0], 250)
	})
	t.Run("not a wav file is refused", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "r.wav")
		data := []byte("hello, this is not audio at all, not at all, no")
		require.NoError(t, os.WriteFile(path, data, 0o600))
		require.ErrorIs(t, recorder.RepairAs(path, recorder.Stereo), recorder.ErrInvalidWAV)
		assert.Equal(t, data, readFile(t, path))
	})
	t.Run("missing file", func(t *testing.T) {
		require.ErrorIs(t, recorder.RepairAs(filepath.Join(t.TempDir(), "none.wav"), recorder.Stereo), os.ErrNotExist)
	})
}

// TestKilledProcessLeavesPlayableFile records in a child process that is
// killed with SIGKILL mid-call, then checks the file it left: it plays up
// to the last header update, and all of it after Repair.
func TestKilledProcessLeavesPlayableFile(t *testing.T) {
	if path := os.Getenv("RECORDER_CRASH_CHILD"); path != "" {
		crashChild(path) // never returns
	}
	path := filepath.Join(t.TempDir(), "killed.wav")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestKilledProcessLeavesPlayableFile$")
	cmd.Env = append(os.Environ(), "RECORDER_CRASH_CHILD="+path)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "recording\n", line)
	require.NoError(t, cmd.Process.Kill())
	err = cmd.Wait()
	require.Error(t, err)
	require.Contains(t, err.Error(), "killed", "the child died of SIGKILL, not of its own accord")

	killed := readFile(t, path)
	var h recorder.Header
	require.NoError(t, h.Unmarshal(killed))
	assert.GreaterOrEqual(t, h.Duration(), 2*time.Second, "the header was updated at least every second of 3.5 s")
	a := decodeWAV(t, killed)
	assertTone(t, a, left, 0, h.Duration(), 440, 1000)
	assertTone(t, a, right, 0, h.Duration(), 1000, 440)

	require.NoError(t, recorder.Repair(path))
	var rh recorder.Header
	require.NoError(t, rh.Unmarshal(readFile(t, path)))
	assert.GreaterOrEqual(t, rh.Duration(), h.Duration())
	assert.EqualValues(t, len(killed)-recorder.HeaderSize, rh.DataSize)
}

// crashChild records 3.5 s of a call to path, says so on stdout and waits
// to be killed.
func crashChild(path string) {
	now := t0
	rec, err := recorder.New(recorder.Config{Path: path, Clock: func() time.Time { return now }})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	caller, callee := newTone(440, 1), newTone(1000, 2)
	for i := range 175 {
		d := at(time.Duration(i) * 20 * time.Millisecond)
		for _, s := range []struct {
			leg *recorder.Leg
			g   *recordertest.Tone
		}{{rec.Caller(), caller}, {rec.Callee(), callee}} {
			raw, err := s.g.Next().Marshal()
			if err == nil {
				err = s.leg.Write(raw, d)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
		}
	}
	fmt.Println("recording")
	time.Sleep(time.Minute) // until killed
	os.Exit(3)
}
