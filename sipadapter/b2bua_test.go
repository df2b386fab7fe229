package sipadapter

import (
	"context"
	"net/netip"
	"strings"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/dialplan"
	"github.com/emiago/sipgo/sip"
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
	require.NoError(t, d.Hangup(ctx))
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
			_, err := caller.call(ctx, e.b.Addr(Inside), "0077270312345678")
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

// TestRecordedCallLimit fills the recording capacity with one call: the
// next ordinary call gets 503, a call the Priority predicate marks is
// connected unrecorded.
func TestRecordedCallLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.MaxRecordedCalls = 1
		c.Priority = func(req *sip.Request) bool {
			h := req.GetHeader("Priority")
			return h != nil && h.Value() == "emergency"
		}
	})
	newPeer(t, int(e.outsideHop.Port()), calleeHz)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	first, err := newPeer(t, 0, callerHz).call(ctx, e.b.Addr(Inside), "0077270312345678")
	require.NoError(t, err)
	e.events.wait(t, EventRecordingStarted, 1, 5*time.Second)
	_, recorded := e.b.ActiveCalls()
	require.Equal(t, 1, recorded)

	_, err = newPeer(t, 0, callerHz).call(ctx, e.b.Addr(Inside), "0077270312345678")
	res := failureResponse(t, err)
	assert.Equal(t, 503, res.StatusCode)
	require.NotNil(t, res.GetHeader("Retry-After"))

	prio, err := newPeer(t, 0, callerHz).call(ctx, e.b.Addr(Inside), "0077270312345678", sip.NewHeader("Priority", "emergency"))
	require.NoError(t, err)
	calls, recorded := e.b.ActiveCalls()
	assert.Equal(t, 2, calls)
	assert.Equal(t, 1, recorded, "the priority call is not recorded")
	require.NoError(t, prio.Hangup(ctx))
	require.NoError(t, first.Hangup(ctx))
	e.events.wait(t, EventDelivered, 1, 10*time.Second)
	cdrs := e.cdr.cdrs(t)
	require.Len(t, cdrs, 3)
	byCause := map[string]int{}
	for _, c := range cdrs {
		byCause[c.Cause]++
		if c.Priority {
			assert.False(t, c.Recorded)
		}
	}
	assert.Equal(t, map[string]int{CauseCongested: 1, CauseBye: 2}, byCause)
}

func TestConfigValidation(t *testing.T) {
	valid := func() Config {
		plan, err := dialplan.New(dialplan.Config{})
		require.NoError(t, err)
		return Config{
			Inside:  SideConfig{Listen: "127.0.0.1:0", NextHop: "127.0.0.1:5070", Networks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
			Outside: SideConfig{Listen: "127.0.0.1:0", NextHop: "127.0.0.1:5080"},
			Plan:    plan, Lines: testLines, RecordDir: t.TempDir(), Delivery: nopDelivery{},
		}
	}
	tests := map[string]struct {
		mutate func(*Config)
		field  string
	}{
		"listen not ip:port":    {func(c *Config) { c.Inside.Listen = "pbx:5060" }, "Inside.Listen"},
		"next hop missing":      {func(c *Config) { c.Outside.NextHop = "" }, "Outside.NextHop"},
		"next hop port 0":       {func(c *Config) { c.Outside.NextHop = "127.0.0.1:0" }, "Outside.NextHop"},
		"transport":             {func(c *Config) { c.Outside.Transport = "sctp" }, "Outside.Transport"},
		"inside networks":       {func(c *Config) { c.Inside.Networks = nil }, "Inside.Networks"},
		"plan":                  {func(c *Config) { c.Plan = nil }, "Plan"},
		"lines":                 {func(c *Config) { c.Lines = nil }, "Lines"},
		"record dir":            {func(c *Config) { c.RecordDir = "" }, "RecordDir"},
		"delivery":              {func(c *Config) { c.Delivery = nil }, "Delivery"},
		"instance id":           {func(c *Config) { c.InstanceID = "rec/a" }, "InstanceID"},
		"recorded calls":        {func(c *Config) { c.MaxRecordedCalls = -1 }, "MaxRecordedCalls"},
		"spool free without fn": {func(c *Config) { c.MinSpoolFree = 1 }, "SpoolFree"},
		"media addr":            {func(c *Config) { c.Inside.Listen = "0.0.0.0:0" }, "MediaAddr"},
		"media ports":           {func(c *Config) { c.MediaPortMin, c.MediaPortMax = 20001, 20100 }, "PortMin"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := valid()
			tc.mutate(&cfg)
			_, err := New(cfg)
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.field)
		})
	}
	b, err := New(valid())
	require.NoError(t, err)
	require.NoError(t, b.Close())
	require.NoError(t, b.Close(), "Close is idempotent")
	require.ErrorIs(t, b.Serve(context.Background()), ErrClosed)
}

type nopDelivery struct{}

func (nopDelivery) Enqueue(context.Context, delivery.Recording) error { return nil }

// TestEarlyMediaRelayedNotRecorded: the callee's 183 with SDP and its early
// media reach the caller before the answer; the recording starts only after
// the guidance, so none of it is in the file.
func TestEarlyMediaRelayedNotRecorded(t *testing.T) {
	e := newEnv(t, nil)
	newPeer(t, int(e.outsideHop.Port()), calleeHz, earlyMedia(500*time.Millisecond))
	caller := newPeer(t, 0, 0) // silent: the file's left channel must stay empty
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	d, err := caller.call(ctx, e.b.Addr(Inside), "0077270312345678")
	require.NoError(t, err)
	caller.mu.Lock()
	early := caller.heardEarly
	caller.mu.Unlock()
	assert.Greater(t, early, 15, "early media reaches the caller before the answer")
	tones := caller.heardTones(calleeHz)
	for i := range early {
		assert.Equal(t, 0, tones[i], "early packet %d is the callee's tone", i)
	}
	e.events.wait(t, EventRecordingStarted, 1, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, d.Hangup(ctx))
	e.events.wait(t, EventDelivered, 1, 10*time.Second)
	assert.Equal(t, 1, e.events.count(EventRinging))
	_, metas := e.delivered(t)
	require.Len(t, metas, 1)
	assert.Less(t, metas[0].Duration, 600*time.Millisecond, "only the time after the guidance is recorded")
}

// TestDrain takes the B2BUA out of service with a call up: OPTIONS and new
// INVITEs (priority ones too) get 503 with Retry-After, the call goes on,
// and Drain returns when it ends.
func TestDrain(t *testing.T) {
	e := newEnv(t, nil)
	newPeer(t, int(e.outsideHop.Port()), calleeHz)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	up, err := newPeer(t, 0, callerHz).call(ctx, e.b.Addr(Inside), "0077270312345678")
	require.NoError(t, err)
	e.events.wait(t, EventRecordingStarted, 1, 5*time.Second)
	raw := newRawClient(t)
	options := func() string { // a new transaction each time
		return raw.send(e.b.Addr(Outside), raw.request("OPTIONS", "ping", e.b.Addr(Outside), "drain-options", "", ""), 2*time.Second)
	}
	require.True(t, strings.HasPrefix(options(), "SIP/2.0 200"))

	drained := make(chan error, 1)
	go func() { drained <- e.b.Drain(ctx) }()
	require.Eventually(t, func() bool {
		return strings.HasPrefix(options(), "SIP/2.0 503")
	}, 5*time.Second, 20*time.Millisecond, "OPTIONS answered 503 while draining")
	_, err = newPeer(t, 0, callerHz).call(ctx, e.b.Addr(Inside), "0077270312345678",
		sip.NewHeader("Resource-Priority", "ets.0"))
	refused := failureResponse(t, err)
	assert.Equal(t, sip.StatusServiceUnavailable, refused.StatusCode)
	assert.NotNil(t, refused.GetHeader("Retry-After"))
	select {
	case err := <-drained:
		t.Fatalf("Drain returned %v with a call up", err)
	default:
	}

	require.NoError(t, up.Hangup(ctx))
	select {
	case err := <-drained:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Drain did not return after the last call ended")
	}
	e.events.wait(t, EventDelivered, 1, 10*time.Second)
	causes := map[string]int{}
	for _, c := range e.cdr.cdrs(t) {
		causes[c.Cause]++
	}
	assert.Equal(t, map[string]int{CauseBye: 1, CauseDraining: 1}, causes)
}

// TestDrainDeadlineThenClose: a call outlasting Drain's context is ended
// by Close with a BYE that reaches both parties before the sockets close,
// and its recording is delivered.
func TestDrainDeadlineThenClose(t *testing.T) {
	e := newEnv(t, nil)
	callee := newPeer(t, int(e.outsideHop.Port()), calleeHz)
	caller := newPeer(t, 0, callerHz)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, err := caller.call(ctx, e.b.Addr(Inside), "0077270312345678")
	require.NoError(t, err)
	e.events.wait(t, EventRecordingStarted, 1, 5*time.Second)

	grace, stop := context.WithTimeout(ctx, 200*time.Millisecond)
	defer stop()
	require.ErrorIs(t, e.b.Drain(grace), context.DeadlineExceeded)
	e.close()
	caller.waitBye(t, 5*time.Second)
	callee.waitBye(t, 5*time.Second)
	cdr := e.lastCDR(t, 1)
	assert.Equal(t, CauseShutdown, cdr.Cause)
	assert.True(t, cdr.Recorded)
	assert.NotEmpty(t, cdr.RecordingID)
	e.events.wait(t, EventDelivered, 1, 10*time.Second)
}
