package sipadapter

import (
	"context"
	"testing"
	"time"

	"github.com/callrec/callrec/sipadapter/internal/fakeclock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const callerHz = 700.0

// TestGuidanceReachesBothParties decodes what each party received: first
// the guidance prompt (and nothing of the other party meanwhile), then the
// other party's voice.
func TestGuidanceReachesBothParties(t *testing.T) {
	e := newEnv(t, nil)
	callee := newPeer(t, int(e.outsideHop.Port()), calleeHz)
	caller := newPeer(t, 0, callerHz)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	d, err := caller.call(ctx, e.b.Addr(Inside), "0077270312345678")
	require.NoError(t, err)
	e.events.wait(t, EventRecordingStarted, 1, 5*time.Second)
	time.Sleep(600 * time.Millisecond)
	require.NoError(t, d.Bye(ctx))
	e.events.wait(t, EventDelivered, 1, 10*time.Second)

	for name, tc := range map[string]struct {
		p     *peer
		other float64
	}{"caller": {caller, calleeHz}, "callee": {callee, callerHz}} {
		tones := tc.p.heardTones(guidanceHz, tc.other)
		lastGuidance, firstOther, guidance, other := -1, -1, 0, 0
		for i, k := range tones {
			switch k {
			case 0:
				guidance++
				lastGuidance = i
			case 1:
				other++
				if firstOther < 0 {
					firstOther = i
				}
			}
		}
		t.Logf("%s heard %d packets: %d guidance, %d of the other party", name, len(tones), guidance, other)
		assert.GreaterOrEqual(t, guidance, 28, "%s must hear the 600 ms prompt", name)
		assert.Greater(t, other, 10, "%s must hear the other party after the guidance", name)
		assert.Greater(t, firstOther, lastGuidance, "%s heard the other party during the guidance", name)
	}
	cdrs := e.cdr.cdrs(t)
	require.Len(t, cdrs, 1)
	assert.False(t, cdrs[0].BillingStart.Before(cdrs[0].Answer))
}

func TestTimeoutsEndCallWithByeToBoth(t *testing.T) {
	tests := map[string]struct {
		cfg     func(*Config)
		advance time.Duration
		cause   string
	}{
		"rtp inactivity": {func(c *Config) {}, 61 * time.Second, CauseRTPTimeout},
		"max call length": {func(c *Config) {
			c.InactivityTimeout = -1
			c.MaxCallDuration = 10 * time.Minute
		}, 11 * time.Minute, CauseMaxDuration},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			clk := fakeclock.New(time.Unix(1_800_000_000, 0))
			e := newEnv(t, func(c *Config) { c.Clock = clk; tc.cfg(c) })
			callee := newPeer(t, int(e.outsideHop.Port()), 0) // silent parties
			caller := newPeer(t, 0, 0)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			d, err := caller.call(ctx, e.b.Addr(Inside), "0077270312345678")
			if err != nil && d != nil && d.InviteResponse != nil {
				t.Logf("%s", d.InviteResponse)
			}
			require.NoError(t, err)
			e.events.wait(t, EventRecordingStarted, 1, 5*time.Second)
			clk.Advance(tc.advance / 2)
			assert.Zero(t, e.events.count(EventEnded), "ended after half the timeout")
			clk.Advance(tc.advance - tc.advance/2)
			caller.waitBye(t, 5*time.Second)
			callee.waitBye(t, 5*time.Second)
			cdr := e.lastCDR(t, 1)
			assert.Equal(t, tc.cause, cdr.Cause)
			assert.Equal(t, PartyB2BUA, cdr.HungUp)
			e.events.wait(t, EventDelivered, 1, 10*time.Second)
		})
	}
}
