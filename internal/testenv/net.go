package testenv

import (
	"fmt"
	"net"
	"testing"
)

// FreePort returns a port that is free for both UDP and TCP on 127.0.0.1
// now, for a child process or a peer that must be told its port before it
// binds (SIPp, a B2BUA's configuration file). Another process may take it
// meanwhile; callers that can bind 127.0.0.1:0 themselves should.
func FreePort(t testing.TB) int {
	t.Helper()
	for {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("testenv: no free UDP port: %v", err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		_ = u.Close()
		if err == nil {
			_ = l.Close()
			return port
		}
	}
}
