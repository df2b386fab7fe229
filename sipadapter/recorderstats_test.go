package sipadapter

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/recorder"
)

// TestSidecarStatsReadsGoFieldNames reads a sidecar written before
// recorder.Stats had JSON tags (testdata/sidecar-go-names.json), as a
// stranded recording from that version would be on restart.
func TestSidecarStatsReadsGoFieldNames(t *testing.T) {
	raw, err := os.ReadFile("testdata/sidecar-go-names.json")
	require.NoError(t, err)
	var md delivery.Metadata
	require.NoError(t, json.Unmarshal(raw, &md))
	s := sidecarStats(md)
	require.NotNil(t, s)
	assert.Equal(t, uint64(3000), s.Caller.Received)
	assert.Equal(t, uint64(7), s.Caller.Lost)
	assert.Equal(t, uint64(4), s.Caller.ComfortNoise)
	assert.Equal(t, uint64(6), s.Caller.EventPackets)
	assert.Equal(t, uint64(1), s.Caller.DTMFEvents)
	assert.Equal(t, uint64(1), s.Callee.SSRCChanges)
	assert.Equal(t, uint64(12), s.Callee.Lost)
	assert.Equal(t, uint64(4), s.CallerDropped)

	// Written again, the stats are snake_case throughout.
	out, err := json.Marshal(s)
	require.NoError(t, err)
	var top map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(out, &top))
	var caller map[string]any
	require.NoError(t, json.Unmarshal(top["caller"], &caller))
	assert.Contains(t, caller, "comfort_noise")
	assert.Contains(t, caller, "received")
	assert.NotContains(t, caller, "Received")
}

func TestSidecarStatsAbsentOrMalformed(t *testing.T) {
	assert.Nil(t, sidecarStats(delivery.Metadata{}))
	assert.Nil(t, sidecarStats(delivery.Metadata{RecorderStats: json.RawMessage(`{"caller":`)}))
	assert.Equal(t, &RecorderStats{Caller: recorder.Stats{Lost: 2}},
		sidecarStats(delivery.Metadata{RecorderStats: json.RawMessage(`{"caller":{"lost":2}}`)}))
}
