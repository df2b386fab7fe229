package kamailio_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/callrec/callrec/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestScaleOut runs the shipped kamailio.cfg in front of two b2bua
// processes on 127.0.0.1, with SIPp as the PBX (through Kamailio) and as
// the network, and one delivery directory for both instances. Each
// scenario gets a fresh cluster.
func TestScaleOut(t *testing.T) {
	sippBin := testenv.LookPath(t, "sipp", "sip-tester")
	kamBin := testenv.LookPath(t, "kamailio", "kamailio")
	if testing.Short() {
		t.Skip("scale-out scenarios: about 2 minutes")
	}
	b2bua := buildB2BUA(t)

	// 1. Load sharing: round robin gives each instance about half, and
	// every call's recording arrives, from both instances into one
	// directory, with distinct names.
	t.Run("LoadSharing", func(t *testing.T) {
		c := newCluster(t, b2bua, sippBin, kamBin)
		const calls = 100
		ok, failed := c.startLoad(20, calls).result(t)
		require.Equal(t, calls, ok, "successful calls")
		require.Zero(t, failed)
		mds := c.waitDelivered(calls, 30*time.Second)
		require.Equal(t, calls, len(mds), "every recording delivered")
		assert.Equal(t, calls, uniqueCallIDs(mds))
		counts := c.perInstance(mds)
		t.Logf("calls per instance: %v", counts)
		for _, in := range c.instances {
			assert.GreaterOrEqual(t, counts[in.name], 35, in.name)
			assert.LessOrEqual(t, counts[in.name], 65, in.name)
		}
	})

	// 2. Draining: SIGTERM one instance under load. It answers OPTIONS and
	// INVITE with 503, Kamailio sends every new call to the other, the
	// drained instance's calls end normally and their recordings arrive,
	// and SIPp sees no failed call.
	t.Run("Draining", func(t *testing.T) {
		c := newCluster(t, b2bua, sippBin, kamBin)
		a, b := c.instances[0], c.instances[1]
		const calls = 80
		l := c.startLoad(10, calls)
		time.Sleep(3 * time.Second)
		active := a.activeCalls(t)
		require.Positive(t, active, "a holds calls when it is told to stop")
		termAt := time.Now()
		a.signal(t, syscall.SIGTERM)
		require.Eventually(t, func() bool {
			code, err := options(a.inside, a.uri(), 500*time.Millisecond)
			return err == nil && code == 503
		}, 5*time.Second, 50*time.Millisecond, "a draining instance answers OPTIONS with 503")
		require.NoError(t, a.proc.wait(t, shutdownWait), "a drains and exits cleanly")
		drainedIn := time.Since(termAt)
		// The instance refuses calls from the moment it logs that it
		// drains, not from the test's kill(2): Go delivers the signal
		// and the service reacts to it a little later, and an INVITE in
		// between is rightly admitted.
		refusingAt := a.drainedAt(t, time.Second)
		require.False(t, refusingAt.Before(termAt), "a logged draining at %v, before SIGTERM at %v", refusingAt, termAt)

		ok, failed := l.result(t)
		assert.Equal(t, calls, ok, "successful calls")
		assert.Zero(t, failed, "no call fails while an instance drains")
		mds := c.waitDelivered(calls, 30*time.Second)
		require.Equal(t, calls, len(mds), "every recording delivered, the drained instance's too")
		counts := c.perInstance(mds)
		for _, md := range mds {
			if c.instanceOf(md) == a {
				assert.True(t, md.Start.Before(refusingAt), "call %s started on a at %v, after a refused new calls at %v (SIGTERM sent at %v)",
					md.CallID, md.Start, refusingAt, termAt)
			}
		}
		d := c.dispatchLog()
		t.Logf("%d calls active on a at SIGTERM; a refused new calls %v after it, drained and exited in %v; recordings per instance %v; %d INVITEs failed over to b",
			active, refusingAt.Sub(termAt), drainedIn.Round(time.Millisecond), counts, len(d.failover[b.uri()]))
		assert.GreaterOrEqual(t, counts[a.name], active)
	})

	// 3. A crash: SIGKILL one instance under load. New calls reach the
	// survivor within the probing interval (a call Kamailio still sends to
	// the dead one fails over on the timeout), the calls that were on the
	// dead one fail, and after a restart it repairs and delivers the
	// recordings it had in progress.
	t.Run("Crash", func(t *testing.T) {
		c := newCluster(t, b2bua, sippBin, kamBin)
		a := c.instances[0]
		const calls, rate = 80, 10
		l := c.startLoad(rate, calls)
		time.Sleep(3 * time.Second)
		active := a.activeCalls(t)
		require.Positive(t, active, "a holds calls when it dies")
		killAt := time.Now()
		a.signal(t, syscall.SIGKILL)
		_ = a.proc.wait(t, 5*time.Second)
		time.Sleep(3 * time.Second)
		partials := a.partials(t)
		require.NotEmpty(t, partials, "the killed instance left partial recordings")
		restartAt := time.Now()
		c.start(a)

		ok, failed := l.result(t)
		d := c.dispatchLog()
		var lastToDead time.Time
		for _, at := range d.first[a.uri()] {
			if at.After(killAt) && at.Before(restartAt) {
				lastToDead = at
			}
		}
		gap := time.Duration(0)
		if !lastToDead.IsZero() {
			gap = lastToDead.Sub(killAt)
		}
		var markedAfter time.Duration
		for _, at := range d.failed[a.uri()] {
			if at.After(killAt) {
				markedAfter = at.Sub(killAt)
				break
			}
		}
		bound := active + int(float64(rate)*pingInterval.Seconds())
		t.Logf("%d calls active on a at SIGKILL; failed calls %d (bound %d), successful %d; last new INVITE to the dead instance %v after the kill, marked inactive after %v; %d partial recordings",
			active, failed, bound, ok, gap.Round(time.Millisecond), markedAfter.Round(time.Millisecond), len(partials))
		assert.Equal(t, calls, ok+failed)
		assert.LessOrEqual(t, failed, bound, "failed calls: at most those on the dead instance and one probe interval's")
		assert.LessOrEqual(t, gap, pingInterval+frTimer+time.Second, "new calls go to the survivor within the probing interval")
		assert.Positive(t, markedAfter, "a timeout took the dead instance out")

		mds := c.waitDelivered(ok+len(partials), 30*time.Second)
		require.Eventually(t, func() bool { return len(a.partials(t)) == 0 }, 10*time.Second, 50*time.Millisecond,
			"the restarted instance repaired its partial recordings")
		mds = c.waitDelivered(ok+len(partials), 10*time.Second)
		assert.Equal(t, ok+len(partials), len(mds), "every finished call's recording and every partial one delivered")
		c.perInstance(mds)
		repaired := 0
		for _, md := range mds {
			if c.instanceOf(md) == a && md.Start.Before(killAt) && md.Enqueued.After(restartAt) {
				repaired++
			}
		}
		assert.Equal(t, len(partials), repaired, "the partial recordings delivered after the restart")
	})

	// 4. A rolling upgrade: under continuous load, drain and restart each
	// instance in turn, waiting for Kamailio to take it back before the
	// next; no call is refused or fails.
	t.Run("RollingUpgrade", func(t *testing.T) {
		c := newCluster(t, b2bua, sippBin, kamBin)
		l := c.startLoad(10, 1000)
		time.Sleep(2 * time.Second)
		restarted := map[string]time.Time{}
		for _, in := range c.instances {
			require.NoError(t, in.proc.cmd.Process.Signal(syscall.SIGTERM))
			require.NoError(t, in.proc.wait(t, shutdownWait), "%s drains and exits", in.name)
			restartAt := time.Now()
			c.start(in)
			upAt := c.waitUp(in, restartAt, 10*time.Second)
			restarted[in.name] = restartAt
			t.Logf("%s restarted; Kamailio took it back after %v", in.name, upAt.Sub(restartAt).Round(time.Millisecond))
			time.Sleep(time.Second)
		}
		l.stopSoft(t)
		ok, failed := l.result(t)
		assert.Zero(t, failed, "no call refused or failed during the rolling restart")
		assert.Positive(t, ok)
		mds := c.waitDelivered(ok, 30*time.Second)
		assert.Equal(t, ok, len(mds), "every recording delivered")
		counts := c.perInstance(mds)
		for _, in := range c.instances {
			after := 0
			for _, md := range mds {
				if c.instanceOf(md) == in && md.Start.After(restarted[in.name]) {
					after++
				}
			}
			assert.Positive(t, after, "%s takes calls again after its restart", in.name)
		}
		t.Logf("%d calls, none failed; recordings per instance %v", ok, counts)
	})
}
