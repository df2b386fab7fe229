package sipadapter

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// errProvisioningDown stands for a provisioning database outage.
var errProvisioningDown = errors.New("provisioning database: connection refused")

// TestLineLookupOutage: a LineResolver error other than ErrUnknownLine
// answers 503 with Retry-After in both directions (never 403, never a
// silent default line), ends the call with CauseLineLookup, and forwards
// nothing; once the resolver answers again, an unknown line still gets 403
// outgoing and the default line incoming, recorded.
func TestLineLookupOutage(t *testing.T) {
	const (
		lookupDown = iota
		lookupUnknown
	)
	var mode atomic.Int32 // lookupDown at first
	e := newEnv(t, func(c *Config) {
		c.RetryAfter = 7 * time.Second
		c.Lines = LineResolverFunc(func(ctx context.Context, number string, src netip.AddrPort) (Line, error) {
			if mode.Load() == lookupDown {
				return Line{}, errProvisioningDown
			}
			return Line{}, fmt.Errorf("%w: %q", ErrUnknownLine, number)
		})
	})
	callee := newPeer(t, int(e.outsideHop.Port()), calleeHz)
	pbx := newPeer(t, int(e.insideHop.Port()), calleeHz)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	refused := func(to netip.AddrPort, user string, code int) *sip.Response {
		t.Helper()
		d, err := newPeer(t, 0, callerHz).call(ctx, to, user)
		require.Error(t, err)
		res := failureResponse(t, err)
		require.Equal(t, code, res.StatusCode, "%s to %s", user, to)
		require.Nil(t, d, "no call")
		return res
	}
	for _, c := range []struct {
		name string
		to   netip.AddrPort
		user string
	}{
		{"outgoing", e.b.Addr(Inside), "0077270312345678"},
		{"incoming", e.b.Addr(Outside), companyIn},
	} {
		res := refused(c.to, c.user, sip.StatusServiceUnavailable)
		ra := res.GetHeader("Retry-After")
		require.NotNil(t, ra, "%s: 503 without Retry-After", c.name)
		assert.Equal(t, "7", ra.Value(), c.name)
	}
	ended := e.events.wait(t, EventEnded, 2, 5*time.Second)
	for _, ev := range ended {
		assert.Equal(t, CauseLineLookup, ev.Cause)
		assert.Equal(t, sip.StatusServiceUnavailable, ev.Code)
	}
	assert.Zero(t, e.events.count(EventDecided), "no decision is made without the line")
	callee.mu.Lock()
	assert.Empty(t, callee.invites, "nothing is forwarded to the network during the outage")
	callee.mu.Unlock()
	pbx.mu.Lock()
	assert.Empty(t, pbx.invites, "nothing is forwarded to the PBX during the outage")
	pbx.mu.Unlock()
	for n := 1; n <= 2; n++ {
		cdr := e.lastCDR(t, n)
		assert.Equal(t, CauseLineLookup, cdr.Cause)
		assert.Contains(t, cdr.Error, errProvisioningDown.Error())
	}

	// Provisioning answers again but does not know the lines: outgoing is
	// refused with 403, incoming takes the default line and is recorded.
	mode.Store(lookupUnknown)
	refused(e.b.Addr(Inside), "0077270312345678", sip.StatusForbidden)
	d, err := newPeer(t, 0, callerHz).call(ctx, e.b.Addr(Outside), companyIn)
	require.NoError(t, err)
	e.events.wait(t, EventRecordingStarted, 1, 5*time.Second)
	require.NoError(t, d.Hangup(ctx))
	e.events.wait(t, EventDelivered, 1, 10*time.Second)
	cdr := e.lastCDR(t, 4)
	assert.True(t, cdr.Recorded)
	assert.Equal(t, delivery.Incoming, cdr.Direction)
}
