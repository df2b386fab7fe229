package recorder_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/recorder"
)

func TestDTMFEventJSON(t *testing.T) {
	events := []recorder.DTMFEvent{
		{Side: recorder.SideCallee, Event: 11, Digit: '#', At: 1500 * time.Millisecond, Duration: 100 * time.Millisecond},
		{Side: recorder.SideCaller, Event: 16, At: time.Second},
	}
	b, err := json.Marshal(events)
	require.NoError(t, err)
	assert.JSONEq(t, `[{"side":"callee","event":11,"digit":"#","at":1500000000,"duration":100000000},
		{"side":"caller","event":16,"at":1000000000,"duration":0}]`, string(b))
	var back []recorder.DTMFEvent
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, events, back)
	require.Error(t, json.Unmarshal([]byte(`{"side":"operator"}`), &back[0]))
}
