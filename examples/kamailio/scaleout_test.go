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

		ok, failed := l.result(t)
		assert.Equal(t, calls, ok, "successful calls")
		assert.Zero(t, failed, "no call fails while an instance drains")
		mds := c.waitDelivered(calls, 30*time.Second)
		require.Equal(t, calls, len(mds), "every recording delivered, the drained instance's too")
		counts := c.perInstance(mds)
		for _, md := range mds {
			if c.instanceOf(md) == a {
				assert.True(t, md.Start.Before(termAt), "call %s started on a at %v, after SIGTERM at %v", md.CallID, md.Start, termAt)
			}
		}
		d := c.dispatchLog()
		t.Logf("%d calls active on a at SIGTERM; a drained and exited in %v; recordings per instance %v; %d INVITEs failed over to b",
			active, drainedIn.Round(time.Millisecond), counts, len(d.failover[b.uri()]))
		assert.GreaterOrEqual(t, counts[a.name], active)
	})
}
