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

func TestResultJSON(t *testing.T) {
	c := newCall(t, func(cfg *recorder.Config) { cfg.Mode = recorder.Mono })
	c.talk(0, 100*time.Millisecond, true, false)
	res, _ := c.close(100 * time.Millisecond)
	b, err := json.Marshal(res)
	require.NoError(t, err)
	var back recorder.Result
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, recorder.Mono, back.Mode)
	assert.Contains(t, string(b), `"Mode":"mono"`)
	assert.Equal(t, res.Caller.Decoded, back.Caller.Decoded)
	assert.True(t, res.Caller.First.Equal(back.Caller.First))
	require.Error(t, json.Unmarshal([]byte(`{"Mode":"quad"}`), &back))
}
