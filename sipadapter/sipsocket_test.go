package sipadapter

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rmemMax reads net.core.rmem_max, the largest SO_RCVBUF an unprivileged
// process may ask for.
func rmemMax(t *testing.T) int {
	t.Helper()
	raw, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		t.Skipf("cannot read net.core.rmem_max: %v", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	require.NoError(t, err)
	return n
}

// waitServing waits until e's B2BUA serves, so that closing it at the end
// of a test that sends nothing finds Serve running.
func waitServing(t *testing.T, e *env) {
	t.Helper()
	select {
	case <-e.b.ready:
	case <-time.After(10 * time.Second):
		t.Fatal("the B2BUA did not start serving")
	}
}

// TestSIPReceiveBuffer checks that each side's SIP UDP socket gets the
// configured receive buffer (as much of it as net.core.rmem_max allows),
// not the kernel's default of about 160 datagrams, which a busy B2BUA
// overflows at 800 calls (INVITEs and 200s dropped, calls failed 408).
func TestSIPReceiveBuffer(t *testing.T) {
	limit := rmemMax(t)
	for _, tc := range []struct {
		name string
		size int
	}{{"default", 0}, {"configured", 1 << 20}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.SIPReceiveBuffer = tc.size })
			waitServing(t, e)
			want := tc.size
			if want == 0 {
				want = DefaultSIPReceiveBuffer
			}
			// Linux grants min(asked, rmem_max) and reports twice that.
			want = 2 * min(want, limit)
			for _, w := range []Side{Inside, Outside} {
				got, ok := receiveBuffer(e.b.sides[w].udp.(*net.UDPConn))
				require.True(t, ok)
				assert.GreaterOrEqual(t, got, want, "%s SO_RCVBUF", w)
			}
		})
	}
	t.Run("system default", func(t *testing.T) {
		plain, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		require.NoError(t, err)
		defer plain.Close()
		sysDefault, ok := receiveBuffer(plain)
		require.True(t, ok)
		e := newEnv(t, func(c *Config) { c.SIPReceiveBuffer = -1 })
		waitServing(t, e)
		got, ok := receiveBuffer(e.b.sides[Inside].udp.(*net.UDPConn))
		require.True(t, ok)
		assert.Equal(t, sysDefault, got)
	})
}
