// Package relay anchors the RTP and RTCP media of a call between two
// parties, the caller and the callee, so that a B2BUA can record, filter and
// inject audio without either party knowing.
//
// # Anchor and sessions
//
// An [Anchor] hands out [Session]s from a configurable range of even UDP
// ports: each session owns one RTP socket on an even port and one RTCP socket
// on the odd port above for each party, four sockets in all. When the range
// is used up, [Anchor.Open] returns an error wrapping [ErrPortsExhausted];
// [Session.Close] closes the sockets, waits for the session's goroutines and
// returns the ports.
//
// Legs are told apart only by the socket a packet arrives on, never by SSRC:
// two SIPp instances send with the same SSRC in both directions.
//
// # Source checks
//
// [Session.SetRemotes] gives the RTP and RTCP addresses a party declared in
// its SDP; packets toward the party go there. By default ([Strict]) a leg
// accepts RTP only from exactly that address and port and RTCP only from
// the RTCP address (a=rtcp, or the RTP port + 1): a packet from any other
// source, another host or the same host's other port, is dropped and
// counted in [LegStats], and the first of a session is reported to
// [Session.OnReject]. One spoofed packet can therefore not take over a
// call's media (RTP bleed). A party behind NAT gets [NAT] mode
// ([Session.SetMode]): within a learning window after its SDP (2 s by
// default, re-opened by [Session.Relearn]) the leg latches to the first
// source it hears from, and never moves afterwards except on a new SDP;
// the SDP address itself is always accepted and takes the leg back.
//
// # RTCP
//
// RTCP is relayed between the parties' RTCP sockets. When a [Filter]
// rewrites the RTP toward a party (the guidance stream gives it its own
// SSRC, sequence numbers and timestamps), the relay rewrites the RTCP that
// describes it to agree, with github.com/pion/rtcp: a sender report takes
// the SSRC and RTP timestamp of the stream the receiving party gets and the
// packet and octet counts the relay sent it; reception reports are mapped
// back to the SSRC and extended sequence numbers their subject sent.
//
// # Hooks
//
//   - [Session.SetTap] installs a [Tap] receiving every packet a party sends
//     with its arrival time: the recorder plugs in here.
//   - [Session.SetFilter] installs a [Filter] deciding on every packet
//     forwarded toward a party: it drops it or rewrites its header. The
//     guidance stream plugs in here, and [Session.Writer] is the writer it
//     injects its prompt through.
//   - A Filter that is a [RecordFilter] (the guidance stream is) also gates
//     the sending party's Tap: the tap then receives exactly the packets the
//     filter relays and marks for recording, decided in the same step, so a
//     recording that starts when the guidance ends neither misses nor adds
//     a packet.
//   - [Session.Inactive] is closed when no RTP arrived for the configured
//     timeout, measured on the injected [Clock].
//   - [Session.Stats] returns packet and byte counters per party.
//
// Relaying a packet allocates nothing: buffers are per goroutine, the packet
// is parsed only when a tap or filter is installed, and hooks are read
// through atomic pointers, so they can be swapped while media flows.
//
// # Usage
//
//	anchor, err := relay.New(relay.Config{Addr: netip.MustParseAddr("192.0.2.10"), PortMin: 20000, PortMax: 29998})
//	if err != nil { … }
//	sess, err := anchor.Open()
//	if err != nil { … } // errors.Is(err, relay.ErrPortsExhausted): answer 503
//	defer sess.Close()
//	sess.SetRemote(relay.Caller, callerSDPAddr)   // from the offer
//	sess.SetRemote(relay.Callee, calleeSDPAddr)   // from the answer
//	offerPort := sess.Local(relay.Callee).Port()  // goes in the offer sent to the callee
//	sess.SetTap(relay.Caller, rec.Caller())       // record what the caller says
package relay
