package testenv

import (
	"fmt"
	"net"
	"testing"
)

// TestFreePort: the port returned can be bound for UDP and for TCP.
func TestFreePort(t *testing.T) {
	for range 20 {
		port := FreePort(t)
		if port <= 0 || port > 65535 {
			t.Fatalf("port %d", port)
		}
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatalf("UDP %d: %v", port, err)
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		_ = u.Close()
		if err != nil {
			t.Fatalf("TCP %d: %v", port, err)
		}
		_ = l.Close()
	}
}
