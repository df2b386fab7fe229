package relay_test

import (
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/sipadapter/relay"
)

// TestReactorsServeAllSessions: sessions do not get goroutines of their
// own; Config.Reactors goroutines relay all of them, start with the first
// session and stop, with their descriptors, when the last one closes.
// Closing some sessions while others relay leaves the others working.
func TestReactorsServeAllSessions(t *testing.T) {
	const sessions, reactors = 12, 2
	min, max := freeEvenRange(t, 2*sessions+16) // slack for ports other processes hold
	a, err := relay.New(relay.Config{Addr: loopback, PortMin: min, PortMax: max, Reactors: reactors})
	require.NoError(t, err)
	caller, callee := newPeer(t), newPeer(t)
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)
	var open []*relay.Session
	for range sessions {
		s, err := a.Open()
		require.NoError(t, err)
		s.SetRemote(relay.Caller, caller.addr())
		s.SetRemote(relay.Callee, callee.addr())
		open = append(open, s)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), baseG+reactors, "goroutines with %d sessions", sessions)
	relayAll := func(ss []*relay.Session, seq uint16) {
		t.Helper()
		for _, s := range ss {
			caller.send(s.Local(relay.Caller), packet(seq, "to-callee"))
			got, src := callee.recv()
			assert.Equal(t, "to-callee", string(got.Payload))
			assert.Equal(t, s.Local(relay.Callee), src)
			callee.send(s.Local(relay.Callee), packet(seq, "to-caller"))
			got, src = caller.recv()
			assert.Equal(t, "to-caller", string(got.Payload))
			assert.Equal(t, s.Local(relay.Caller), src)
		}
	}
	relayAll(open, 1)
	for _, s := range open[:sessions/2] {
		require.NoError(t, s.Close())
	}
	relayAll(open[sessions/2:], 2)
	for _, s := range open[:sessions/2] { // closed: nothing relayed
		caller.send(s.Local(relay.Caller), packet(3, "late"))
	}
	callee.expectNothing()
	for _, s := range open[sessions/2:] {
		require.NoError(t, s.Close())
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > baseG && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), baseG, "reactor goroutines left after the last session closed")
	assert.LessOrEqual(t, openFDs(t), baseFD, "descriptors left after the last session closed")
	assert.Zero(t, a.PairsInUse())

	// The Anchor starts its reactors again for the next session.
	s, err := a.Open()
	require.NoError(t, err)
	s.SetRemote(relay.Caller, caller.addr())
	s.SetRemote(relay.Callee, callee.addr())
	relayAll([]*relay.Session{s}, 4)
	require.NoError(t, s.Close())
}

func TestReactorsConfigChecked(t *testing.T) {
	_, err := relay.New(relay.Config{Reactors: -1})
	require.ErrorIs(t, err, relay.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "Reactors")
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents)
}

// injectingFilter writes through a Writer of its own session from inside
// Relay, as the on-demand DTMF gate does when it flushes withheld digits,
// after waiting long enough for a Close to be pending.
type injectingFilter struct {
	w       *relay.Writer
	entered chan struct{}
	wait    time.Duration
	err     chan error
}

func (f *injectingFilter) Relay(p *rtp.Packet) bool {
	close(f.entered)
	time.Sleep(f.wait)
	f.err <- f.w.WriteRTP(p)
	return true
}

// TestCloseWhileFilterInjects: a Close arriving while the reactor runs a
// filter that injects through the same session's Writer completes; the
// injection gets ErrClosed instead of deadlocking against the Close.
func TestCloseWhileFilterInjects(t *testing.T) {
	a := newTestAnchor(t, 4, nil)
	s, err := a.Open()
	require.NoError(t, err)
	caller, callee := newPeer(t), newPeer(t)
	s.SetRemote(relay.Caller, caller.addr())
	s.SetRemote(relay.Callee, callee.addr())
	f := &injectingFilter{w: s.Writer(relay.Caller), entered: make(chan struct{}), wait: 200 * time.Millisecond, err: make(chan error, 1)}
	s.SetFilter(relay.Callee, f)
	caller.send(s.Local(relay.Caller), packet(1, "x"))
	select {
	case <-f.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the filter never ran")
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Close deadlocked with a filter injecting into the closing session")
	}
	assert.ErrorIs(t, <-f.err, relay.ErrClosed)
}
