package recorder_test

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/recorder"
)

var wantStats = recorder.Stats{
	Received: 1000, Decoded: 950, ComfortNoise: 20, EventPackets: 12, Skipped: 3, Late: 10, Duplicated: 5,
	Malformed: 2, Lost: 7, Reordered: 4, SSRCChanges: 1, Reanchors: 2, DTMFEvents: 3,
	First: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Last: time.Date(2026, 1, 2, 3, 5, 5, 5e8, time.UTC),
}

func TestStatsJSONIsSnakeCase(t *testing.T) {
	b, err := json.Marshal(wantStats)
	require.NoError(t, err)
	assert.JSONEq(t, `{"received":1000,"decoded":950,"comfort_noise":20,"event_packets":12,"skipped":3,"late":10,
		"duplicated":5,"malformed":2,"lost":7,"reordered":4,"ssrc_changes":1,"reanchors":2,"dtmf_events":3,
		"first":"2026-01-02T03:04:05Z","last":"2026-01-02T03:05:05.5Z"}`, string(b))
	var back recorder.Stats
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, wantStats, back)
}

// TestStatsJSONReadsGoFieldNames reads recorder_stats as written before the
// fields had JSON tags (testdata/stats-go-names.json).
func TestStatsJSONReadsGoFieldNames(t *testing.T) {
	b, err := os.ReadFile("testdata/stats-go-names.json")
	require.NoError(t, err)
	var got recorder.Stats
	require.NoError(t, json.Unmarshal(b, &got))
	assert.Equal(t, wantStats, got)

	require.Error(t, json.Unmarshal([]byte(`{"received":"many"}`), &got))
	require.Error(t, json.Unmarshal([]byte(`{"ComfortNoise":-1}`), &got))
}
