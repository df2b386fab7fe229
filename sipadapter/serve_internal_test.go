package sipadapter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestServeReturnsListenerFailure closes a side's UDP socket under its
// listener: Serve must stop and say why instead of serving on without it.
func TestServeReturnsListenerFailure(t *testing.T) {
	e := newEnv(t, nil)
	select {
	case <-e.b.ready:
	case <-time.After(10 * time.Second):
		t.Fatal("listeners not ready")
	}
	require.NoError(t, e.b.sides[Outside].udp.Close())
	select {
	case err := <-e.served:
		require.ErrorIs(t, err, ErrListener)
		require.ErrorContains(t, err, Outside.String()+" udp")
		e.served <- nil // for the environment's own Close check
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its listener failed")
	}
}
