package sipadapter

import (
	"encoding/binary"
	"os"
	"path/filepath"
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
	// A sidecar update the crash tore: its temporary file.
	require.NoError(t, os.WriteFile(filepath.Join(recordDir, "."+md.ID+partialExt+".part-0a1b2c3d4e5f"), []byte(`{"id":`), 0o640))

	e := newEnv(t, func(c *Config) { c.RecordDir = recordDir })
	e.events.wait(t, EventDelivered, 1, 10*time.Second)
	wavs, metas := e.delivered(t)
	require.Len(t, wavs, 1)
	require.Len(t, metas, 1)
	assert.Equal(t, md.CallID, metas[0].CallID)
	assert.Equal(t, md.ID, metas[0].ID)
	assert.False(t, metas[0].End.IsZero(), "End is taken from the file's modification time")
	ch := readWAV(t, wavs[0])
	require.Len(t, ch, 2)
	assert.Len(t, ch[0], 8000, "the repaired file has every whole frame and no partial one")
	left, err := os.ReadDir(recordDir)
	require.NoError(t, err)
	assert.Empty(t, left, "sidecars and audio leave the record directory")
}
