package sipadapter

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStrayResponseLogged sends the B2BUA a 200 that matches no
// transaction: it is logged at debug level on the B2BUA's logger (not on
// the process's default logger, as sipgo does by default).
func TestStrayResponseLogged(t *testing.T) {
	var buf syncBuffer
	e := newEnv(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	conn := loopbackUDP(t)
	msg := "SIP/2.0 200 OK\r\n" +
		"Via: SIP/2.0/UDP " + e.b.Addr(Outside).String() + ";branch=z9hG4bK-stray\r\n" +
		"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>;tag=2\r\n" +
		"Call-ID: stray@127.0.0.1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
	_, err := conn.WriteToUDPAddrPort([]byte(msg), e.b.Addr(Outside))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		buf.mu.Lock()
		defer buf.mu.Unlock()
		return bytes.Contains(buf.b.Bytes(), []byte("response matching no transaction"))
	}, 5*time.Second, 10*time.Millisecond)
	buf.mu.Lock()
	line := buf.b.String()
	buf.mu.Unlock()
	i := strings.Index(line, "response matching no transaction")
	line = line[i:]
	line = line[:strings.IndexByte(line, '\n')]
	assert.Contains(t, line, "status=200")
	assert.Contains(t, line, `cseq="2 BYE"`)
	assert.Contains(t, line, "source="+conn.LocalAddr().(*net.UDPAddr).AddrPort().String())
}
