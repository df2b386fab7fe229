//go:build unix

package sipadapter

import (
	"net"
	"syscall"
)

// receiveBuffer reports the receive buffer the kernel granted conn, as
// SO_RCVBUF reads it.
func receiveBuffer(conn *net.UDPConn) (int, bool) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return 0, false
	}
	var n int
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		n, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	}); err != nil || gerr != nil {
		return 0, false
	}
	return n, true
}
