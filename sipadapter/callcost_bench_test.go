package sipadapter

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkUnrecordedCall places calls through the B2BUA one after the
// other, each answered and hung up at once and unrecorded (dialled
// without the recording prefix, silent peers), so that its figures are
// the SIP path's: setup, the relay's ports, teardown, the CDR. The two
// peers (sipua phones in this process) are counted too; compare runs, not
// absolute values. cpu-µs/call is the process's user+system CPU.
func BenchmarkUnrecordedCall(b *testing.B) {
	ended := make(chan struct{}, 1)
	e := newEnv(b, func(c *Config) {
		c.Events = func(ev Event) {
			if ev.Kind == EventEnded {
				ended <- struct{}{}
			}
		}
	})
	newPeer(b, int(e.outsideHop.Port()), 0)
	caller := newPeer(b, 0, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for i := range b.N {
		d, err := caller.call(ctx, e.b.Addr(Inside), "0312345678")
		require.NoError(b, err, "call %d", i)
		require.NoError(b, d.Hangup(ctx), "hang-up %d", i)
		select {
		case <-ended:
		case <-ctx.Done():
			b.Fatal("the call did not end")
		}
	}
	b.StopTimer()
	for _, c := range e.cdr.cdrs(b) {
		require.False(b, c.Recorded, "%+v", c)
		require.Equal(b, CauseBye, c.Cause, "%+v", c)
	}
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/call")
}
