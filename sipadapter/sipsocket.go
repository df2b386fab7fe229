package sipadapter

import (
	"fmt"
	"net"
)

// DefaultSIPReceiveBuffer is the default of [Config].SIPReceiveBuffer.
const DefaultSIPReceiveBuffer = 4 << 20

// sizeReceiveBuffer asks the kernel for the configured receive buffer on
// side w's SIP UDP socket.
//
// All of a side's signalling shares this one socket, while each RTP port
// carries one stream. When the process falls behind for a moment (a
// starved CPU on a busy host, a burst of calls ending), the SIP socket's
// queue is the first to fill: with a kernel default of about 200 KiB, some
// 160 datagrams, the INVITEs, 180s, 200s and ACKs beyond it are dropped,
// the retransmissions that follow add to the backlog, and calls fail (408
// to the caller, a callee whose 200 is never acknowledged). A few MiB hold
// seconds of signalling at hundreds of calls, and cost nothing while the
// queue is empty.
func (b *B2BUA) sizeReceiveBuffer(w Side, conn net.PacketConn) error {
	want := b.cfg.SIPReceiveBuffer
	uc, ok := conn.(*net.UDPConn)
	if want <= 0 || !ok {
		return nil
	}
	if err := uc.SetReadBuffer(want); err != nil {
		return fmt.Errorf("sipadapter: %s SIP receive buffer: %w", w, err)
	}
	got, ok := receiveBuffer(uc)
	if ok && got < want {
		// Linux caps the request at net.core.rmem_max (and reports double
		// what it grants, the bookkeeping included).
		b.log.Warn("SIP receive buffer smaller than configured: raise net.core.rmem_max",
			"side", w.String(), "configured", want, "granted", got)
	}
	return nil
}
