package sipadapter

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dialFrom opens a TCP connection to the side's SIP port from the loopback
// address src.
func dialFrom(t *testing.T, e *env, src string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", e.b.Addr(Inside).String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// closedByPeer reports whether the B2BUA closed c within wait.
func closedByPeer(c net.Conn, wait time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(wait))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return err != nil
}

// TestTCPConnectionLimits: connections beyond the per-source and the total
// limit are closed at once; idle connections are closed after IdleTimeout,
// ones sending RFC 5626 keep-alives are not; a limited connection still
// carries SIP.
func TestTCPConnectionLimits(t *testing.T) {
	const idle = 800 * time.Millisecond
	e := newEnv(t, func(c *Config) {
		c.TCP = TCPLimits{IdleTimeout: idle, MaxConns: 6, MaxConnsPerSource: 4}
	})
	lim := e.b.sides[Inside].tcp.(*limitListener)
	var first []net.Conn
	for range 4 {
		first = append(first, dialFrom(t, e, "127.0.0.1"))
	}
	require.Eventually(t, func() bool { return lim.conns() == 4 }, 2*time.Second, 10*time.Millisecond)
	assert.True(t, closedByPeer(dialFrom(t, e, "127.0.0.1"), time.Second), "a fifth connection from one source is closed")
	other := []net.Conn{dialFrom(t, e, "127.0.0.2"), dialFrom(t, e, "127.0.0.2")}
	require.Eventually(t, func() bool { return lim.conns() == 6 }, 2*time.Second, 10*time.Millisecond)
	assert.True(t, closedByPeer(dialFrom(t, e, "127.0.0.3"), time.Second), "a seventh connection in all is closed")
	for i, c := range first[:3] {
		assert.False(t, closedByPeer(c, 50*time.Millisecond), "connection %d closed before its idle timeout", i)
	}

	// first[0] carries an OPTIONS; first[1] sends keep-alives; the rest idle.
	opts := fmt.Sprintf("OPTIONS sip:ping@%s SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-tcp-limits\r\n"+
		"From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:ping@%s>\r\nCall-ID: tcp-limits\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		e.b.Addr(Inside), e.b.Addr(Inside))
	_, err := io.WriteString(first[0], opts)
	require.NoError(t, err)
	_ = first[0].SetReadDeadline(time.Now().Add(2 * time.Second))
	status, err := bufio.NewReader(first[0]).ReadString('\n')
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(status, "SIP/2.0 200"), status)

	stop := time.Now().Add(2 * idle)
	for time.Now().Before(stop) {
		_, err := first[1].Write([]byte("\r\n\r\n"))
		require.NoError(t, err)
		time.Sleep(idle / 4)
	}
	for _, c := range append([]net.Conn{first[0], first[2], first[3]}, other...) {
		assert.True(t, closedByPeer(c, 2*idle), "an idle connection stays open after %v", 2*idle)
	}
	require.Eventually(t, func() bool { return lim.conns() == 1 }, 2*time.Second, 10*time.Millisecond,
		"only the keep-alive connection is left")
	dialFrom(t, e, "127.0.0.3") // room again
	require.Eventually(t, func() bool { return lim.conns() == 2 }, 2*time.Second, 10*time.Millisecond)
}
