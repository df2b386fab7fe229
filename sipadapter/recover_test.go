package sipadapter

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// crashedWAV writes what a killed recorder leaves: a stereo 8 kHz header
// whose sizes were last updated at 0 bytes, followed by frames of audio
// and half a frame.
func crashedWAV(t testing.TB, path string, frames int) {
	t.Helper()
	le := binary.LittleEndian
	b := []byte("RIFF\x00\x00\x00\x00WAVEfmt ")
	b = le.AppendUint32(b, 16)
	b = le.AppendUint16(b, 1)    // PCM
	b = le.AppendUint16(b, 2)    // channels
	b = le.AppendUint32(b, 8000) // rate
	b = le.AppendUint32(b, 8000*4)
	b = le.AppendUint16(b, 4)
	b = le.AppendUint16(b, 16)
	b = append(b, "data\x00\x00\x00\x00"...)
	for i := range frames {
		b = le.AppendUint16(b, uint16(i))
		b = le.AppendUint16(b, uint16(-i))
	}
	b = append(b, 0x01, 0x02) // a partial frame
	require.NoError(t, os.WriteFile(path, b, 0o640))
}

func TestCrashRecoveryRepairsAndEnqueues(t *testing.T) {
	recordDir := t.TempDir()
	md := delivery.Metadata{
		ID: "20261123T000000.000Z-0123456789ab", CallID: "crashed-call@pbx", Direction: delivery.Outgoing,
		Caller: lineFixed, Callee: "0312345678", Start: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), Channels: 2,
		AudioExt: audioExt,
	}
	require.NoError(t, writeSidecar(filepath.Join(recordDir, md.ID+partialExt), md))
	crashedWAV(t, filepath.Join(recordDir, md.ID+audioExt), 8000)
	// A sidecar whose audio was already enqueued before the crash.
	stale := md
	stale.ID, stale.CallID = "20261123T000001.000Z-ba9876543210", "enqueued-call@pbx"
	require.NoError(t, writeSidecar(filepath.Join(recordDir, stale.ID+partialExt), stale))
	// A mono recording killed between creating its file and writing the
	// header: nothing was recorded, yet the call has its (empty) recording.
	headless := md
	headless.ID, headless.CallID, headless.Channels = "20261123T000002.000Z-00000000cafe", "headless-call@pbx", 1
	require.NoError(t, writeSidecar(filepath.Join(recordDir, headless.ID+partialExt), headless))
	require.NoError(t, os.WriteFile(filepath.Join(recordDir, headless.ID+audioExt), nil, 0o640))
	// A sidecar update the crash tore: its temporary file.
	require.NoError(t, os.WriteFile(filepath.Join(recordDir, "."+md.ID+partialExt+".part-0a1b2c3d4e5f"), []byte(`{"id":`), 0o640))

	e := newEnv(t, func(c *Config) { c.RecordDir = recordDir })
	e.events.wait(t, EventDelivered, 2, 10*time.Second)
	wavs, metas := e.delivered(t)
	require.Len(t, wavs, 2)
	require.Len(t, metas, 2)
	byID := map[string]delivery.Metadata{}
	for _, m := range metas {
		byID[m.ID] = m
	}
	wavOf := func(callID string) string { // the destination names files by Call-ID
		for _, w := range wavs {
			if strings.HasPrefix(filepath.Base(w), callID) {
				return w
			}
		}
		t.Fatalf("no audio delivered for %s in %v", callID, wavs)
		return ""
	}
	require.Contains(t, byID, md.ID)
	require.Contains(t, byID, headless.ID)
	assert.Equal(t, md.CallID, byID[md.ID].CallID)
	assert.False(t, byID[md.ID].End.IsZero(), "End is taken from the file's modification time")
	ch := readWAV(t, wavOf(md.CallID))
	require.Len(t, ch, 2)
	assert.Len(t, ch[0], 8000, "the repaired file has every whole frame and no partial one")
	empty := readWAV(t, wavOf(headless.CallID))
	require.Len(t, empty, 1, "the header written on recovery is mono, as the sidecar says")
	assert.Empty(t, empty[0])
	left, err := os.ReadDir(recordDir)
	require.NoError(t, err)
	assert.Empty(t, left, "sidecars and audio leave the record directory")
}
