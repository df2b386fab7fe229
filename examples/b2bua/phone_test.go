package main

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/callrec/callrec/internal/sipua"
	"github.com/stretchr/testify/require"
)

// newPhone is a SIP test phone on 127.0.0.1 for the end-to-end tests: the
// PBX placing calls on the inside as user, or the network answering them
// on the outside. It answers every call at once and sends a voice from
// the answer on; the test's cleanup closes it.
func newPhone(t testing.TB, user string) *sipua.UA {
	t.Helper()
	ua, err := sipua.New(sipua.Config{Name: "phone", User: user})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ua.Close() })
	return ua
}

// dial places a call from ua to user at the B2BUA's address to; a final
// failure response comes back as a *sipua.StatusError.
func dial(ctx context.Context, ua *sipua.UA, to netip.AddrPort, user string) (*sipua.Call, error) {
	return ua.Dial(ctx, fmt.Sprintf("sip:%s@%s", user, to))
}

// acceptN returns the next n calls ua answered, in the order it answered
// them.
func acceptN(t testing.TB, ua *sipua.UA, n int) []*sipua.Call {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	calls := make([]*sipua.Call, n)
	for i := range calls {
		c, err := ua.Accept(ctx)
		require.NoError(t, err, "phone %s answered %d calls, want %d", ua.Addr(), i, n)
		calls[i] = c
	}
	return calls
}

// waitHungUp waits until the peer of c ended it with a BYE.
func waitHungUp(t testing.TB, c *sipua.Call) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("no BYE for %s", c.ID())
	}
	require.Equal(t, sipua.Remote, c.End().By, "call %s was hung up by the phone, not the B2BUA", c.ID())
}
