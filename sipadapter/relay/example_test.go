package relay_test

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/callrec/callrec/sipadapter/relay"
	"github.com/pion/rtp"
)

// Example relays one RTP packet from the caller to the callee through an
// anchored session.
func Example() {
	lo := netip.MustParseAddr("127.0.0.1")
	anchor, err := relay.New(relay.Config{Addr: lo, PortMin: 41000, PortMax: 41998})
	if err != nil {
		panic(err)
	}
	sess, err := anchor.Open()
	if err != nil {
		panic(err)
	}
	defer sess.Close()

	caller, _ := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lo, 0)))
	callee, _ := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lo, 0)))
	defer caller.Close()
	defer callee.Close()
	// Strict by default: each party is accepted only from its SDP address.
	sess.SetRemote(relay.Caller, caller.LocalAddr().(*net.UDPAddr).AddrPort())
	sess.SetRemote(relay.Callee, callee.LocalAddr().(*net.UDPAddr).AddrPort())

	pkt := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 1, SequenceNumber: 1}, Payload: []byte("hello")}
	raw, _ := pkt.Marshal()
	if _, err := caller.WriteToUDPAddrPort(raw, sess.Local(relay.Caller)); err != nil {
		panic(err)
	}
	buf := make([]byte, 1500)
	_ = callee.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := callee.ReadFromUDPAddrPort(buf)
	if err != nil {
		panic(err)
	}
	var got rtp.Packet
	_ = got.Unmarshal(buf[:n])
	fmt.Println(string(got.Payload), sess.Stats().Caller.Received)
	// Output: hello 1
}
