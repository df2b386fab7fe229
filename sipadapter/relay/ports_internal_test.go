package relay

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestPortsStartAtRandomOffset: successive processes (here, pools) do not
// all start allocating at PortMin, so a restarted instance does not reuse
// the ports of the calls its predecessor orphaned.
func TestPortsStartAtRandomOffset(t *testing.T) {
	const pairs, pools = 500, 20
	starts := map[int]bool{}
	for range pools {
		p := newPorts(netip.MustParseAddr("127.0.0.1"), 30000, 30000+2*(pairs-1))
		assert.GreaterOrEqual(t, p.next, 0)
		assert.Less(t, p.next, pairs)
		starts[p.next] = true
	}
	// 20 draws from 500 pairs: all equal with probability 500^-19.
	assert.Greater(t, len(starts), pools/2, "start offsets %v", starts)
	assert.False(t, len(starts) == 1 && starts[0], "every pool started at PortMin")
}
