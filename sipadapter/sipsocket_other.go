//go:build !unix

package sipadapter

import "net"

// receiveBuffer cannot read the granted receive buffer on this platform.
func receiveBuffer(*net.UDPConn) (int, bool) { return 0, false }
