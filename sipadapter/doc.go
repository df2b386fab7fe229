// Package sipadapter is a recording SIP back-to-back user agent (B2BUA): it
// sits between a company's PBX or mobile core and the network, decides per
// call whether to record with [github.com/callrec/callrec/dialplan],
// anchors the media, plays the recording announcement to both parties with
// [github.com/callrec/callrec/guidance], records both directions with
// [github.com/callrec/callrec/recorder] and hands the finished file to
// [github.com/callrec/callrec/delivery]. SIP runs on
// [github.com/emiago/sipgo], SDP on [github.com/pion/sdp/v3], and media
// through the [github.com/callrec/callrec/sipadapter/relay] sub-package.
//
// # Sides
//
// A [B2BUA] has two [Side]s, [Inside] (the PBX) and [Outside] (the
// network), each with a listen address (UDP and TCP on the same port) and a
// next hop ([SideConfig]). A call's direction follows the side its INVITE
// arrived on: from the inside it is an outgoing call of a contract line,
// forwarded to the outside's next hop; from the outside an incoming call,
// forwarded to the inside's. The inside accepts requests only from
// [SideConfig].Networks. The callee leg is a new dialog (its own Call-ID and
// tags), so nothing of one side's dialog leaks into the other. Each side's
// UDP socket carries every call's signalling, so it asks for a large
// receive buffer ([Config].SIPReceiveBuffer, 4 MiB): a busy process then
// answers late instead of losing INVITEs and 200s. Linux caps it at
// net.core.rmem_max; raise that where [New] warns.
//
// # Decisions and refusals
//
// Every INVITE resolves its contract line with the [LineResolver] (the
// From user of an outgoing call, the called number of an incoming one) and
// asks the dial plan. A recorded call is forwarded with the destination,
// prefix stripped, as the Request-URI user; a connect-unrecorded call is
// relayed without guidance or recording. A refusal is answered at once and
// never forwarded, with a Reason header (RFC 3326, protocol SIP, text
// "verdict: reason") and a Warning header (code 399) carrying the dial
// plan's reason:
//
//	not-recordable        403 Forbidden
//	restricted-from-050   403 Forbidden
//	prefix-line-mismatch  403 Forbidden
//	emergency             380 Alternative Service, Contact: the number without the prefix
//	invalid number        484 Address Incomplete
//	unknown line          403 Forbidden (outgoing calls only)
//	line lookup failed    503 Service Unavailable, Retry-After (either direction)
//
// Other answers the B2BUA makes itself: 400 for a malformed INVITE or SDP,
// 488 when the offer has no PCMU or PCMA audio (or no offer at all), 503
// with Retry-After when recording is congested or a limit is reached, 403
// for a source outside the inside's networks, 481 for a request matching no
// call, 491 for overlapping re-INVITEs, 408 when the callee does not answer
// within [Config].RingTimeout. Unparsable and oversized messages are
// dropped. Before acting on any request (but an ACK) it applies RFC 3261's
// checks: 505 for a SIP version other than 2.0; 400 for a repeated From,
// To, Call-ID, CSeq, Max-Forwards or Content-Length, for a CSeq method that
// is not the request's, and for headers in the Request-URI; 416 for a
// Request-URI scheme other than sip, sips or tel (over UDP also for a
// scheme with digits, "+", "-" or ".", which sipgo cannot parse and which
// a transport read filter passes on marked); 420 with Unsupported for
// any Require (no extension is supported); and on an INVITE 415 with Accept
// for a body that is not application/sdp, 406 for an Accept without
// application/sdp. Whitespace around ";", "=", "/" and "," in From, To,
// Contact and Via is allowed (RFC 4475's corpus is in testdata/rfc4475).
// An answer over UDP may be as long as a datagram: the package raises
// sipgo's sip.UDPMTUSize, which refuses UDP messages over 1,300 bytes, at
// init (unless something else changed it), since RFC 3261 bounds only
// requests so. A caller may answer a failure with a new INVITE of the
// same Call-ID (overlap dialling after 484, RFC 3578): that is a new call.
//
// # Authentication toward the next hop
//
// The B2BUA originates the callee's leg, so a digest challenge (401 or 407)
// from a side's next hop is for the B2BUA, with the Request-URI it sent: it
// answers it with [SideConfig].Username and Password, re-sending the INVITE
// with credentials on the same leg (a new CSeq), at most twice. The caller
// never sees the challenge, which it could not answer: without credentials,
// or when they are refused, it gets 403 Forbidden ("authorization will not
// help") with a Reason header carrying the next hop's code (for example
// "SIP;cause=407") and a Warning saying which.
//
// # Media
//
// Each call gets an anchored [relay.Session]: two RTP/RTCP port pairs from
// the configured range, one facing each party. Offers and answers are
// rewritten to point at them (o=, c=, m= port) and filtered to PCMU, PCMA
// and telephone-event; other streams are disabled (port 0). Early media
// (183 with SDP) is relayed, not recorded. Legs are told apart by socket,
// never by SSRC. A leg accepts media only from the address its party's SDP
// names (RTCP: a=rtcp or the next port), so that no stranger can take
// over a call (RTP bleed); a side configured with [SideConfig].NAT latches
// instead to the first source heard within a learning window after the
// SDP and the answer. Rejects are counted in the CDR and [Event].
//
// # Guidance and recording
//
// After the caller's ACK, a recorded call plays the line's announcement to
// both parties through one [guidance.Stream] per direction installed as the
// relay's filter. The parties do not hear each other from the callee's 200
// until the guidance ends: not while the caller's ACK is on its way, nor
// during the guidance. The guidance start is the billing start ([EventGuidanceStarted]). The
// recording starts when it ends ([EventRecordingStarted], whose time is the
// file's first frame), so the file holds the conversation and never the
// announcement. The recorder taps are gated by the guidance streams
// ([relay.RecordFilter]): the first packet relayed after the guidance is
// the first one recorded, and packets arriving while the recording's
// sidecar and file are being created are held and replayed into it (up to
// 10 s of them, for a stalled disk). When the call ends the recording is
// closed, its metadata written, and it is enqueued to [Config].Delivery
// ([EventEnqueued]). A recording's metadata sidecar is written in
// [Config].RecordDir before its audio file is created: a crash leaves a
// partial file that [B2BUA.Serve] repairs (recorder.RepairAs) and enqueues on
// the next start. A line whose announcement cannot play is recorded from
// the answer, which is then its billing start, with no guidance events.
//
// Whoever heard the announcement is owed a recording, so the recording
// exists from the announcement's start: its sidecar, marked
// ended_during_announcement, and a WAV file holding a header and no audio
// are created before the announcement plays. When it ends the sidecar is
// rewritten without the mark and the recorder takes the file over, its
// first frame still the announcement's end. A call hung up during its
// announcement (by either party, or by the B2BUA) has that empty
// recording enqueued, marked in its metadata
// (delivery.Metadata.EndedDuringAnnouncement), in the CDR
// ([CDR].EndedDuringAnnouncement, with Recorded set) and on
// [EventEnqueued]; after a crash during the announcement the next start
// enqueues it the same way, creating it empty if the crash came between
// the sidecar and the WAV file (a marked sidecar without an end time).
//
// # Dialog life
//
// BYE from either party ends the call with BYE to the other, carrying the
// party's Reason headers (its disconnect cause, RFC 3326); CANCEL before
// the answer is passed on (a callee whose 200 crosses it is ACKed and sent
// BYE); every failure response of the callee is passed
// back to the caller with its code and Reason headers (a Reason is added
// when the callee sent none), but for a digest challenge (see
// Authentication toward the next hop). Re-INVITEs are forwarded with their
// SDP anchored (each retransmission of the 2xx they get is ACKed again, for
// a lost ACK), so hold (sendonly, inactive) and resume pass through; the
// recording keeps running, so the held party's silence is in the file. A
// re-INVITE without SDP (a session refresh, or a party asking for an offer)
// is answered locally, not forwarded: the 200 carries, as the B2BUA's
// offer, the SDP last sent to that party, unchanged with the same o=
// version (RFC 3264 §8), and the answer in the party's ACK is applied to
// the relay: a new media address is followed (NAT learning re-opened), hold
// suspends the inactivity timeout. That answer is not passed on to the other
// party, which keeps its session as it was; an ACK without a usable answer
// (RFC 3261 §13.2.2.4) is logged and leaves the media as it was. OPTIONS is
// answered 200. No RTP from either party for
// [Config].InactivityTimeout (default 60 s), or [Config].MaxCallDuration
// after the answer, ends the call with BYE to both sides.
//
// # Congestion and disaster priority
//
// Recording is congested when [Config].MaxRecordedCalls recorded calls are
// in progress, or when the delivery spool's free space is below
// [Config].MinSpoolFree. A call from a disaster-priority line (a
// Resource-Priority header, RFC 4412, or [Config].Priority) is then
// connected unrecorded, bypassing guidance and recorder; any other call that
// would be recorded gets 503 with Retry-After. A priority call is never
// refused because of recording. [Config].PriorityReserve calls, and as many
// media sessions of the port range, are kept for priority calls: ordinary
// calls get 503 when only the reserve is left.
//
// # Forwarded, roaming and on-demand calls
//
// History-Info (RFC 7044) and Diversion (RFC 5806) of an incoming call name
// the number it was first placed to; a call forwarded from a company
// number is recorded wherever it goes. P-Access-Network-Info and
// P-Visited-Network-ID of an outgoing call tell a mobile roaming abroad,
// never recorded. Both are believed only from [SideConfig].Trusted sources.
// A line's [Line].Record selects prefix, record-all or on-demand
// recording; an on-demand call is recorded from the company party's DTMF
// start code or [B2BUA.StartRecording] on (see [OnDemandConfig]).
//
// # Shutdown
//
// [B2BUA.Drain] takes the instance out of service gracefully: new INVITEs
// and OPTIONS get 503 with Retry-After (so a load balancer probing with
// OPTIONS moves traffic elsewhere) while the calls in progress go on until
// they end or Drain's context does. [B2BUA.Close] then ends what is left
// with BYE to both parties, waits for those BYEs, closes and enqueues every
// recording, and closes the sockets.
//
// # Events and CDRs
//
// [Config].Events receives each call's typed [Event]s in order: decided,
// ringing, answered, guidance started and ended, recording started,
// enqueued, ended (with cause and which party hung up). Wrap the delivery
// sink with [NotifySink] to also receive [EventDelivered]. [Config].CDR
// receives one [CDR] JSON line per call.
//
// # Usage
//
//	b, err := sipadapter.New(sipadapter.Config{
//		Inside:    sipadapter.SideConfig{Listen: "10.0.0.5:5060", NextHop: "10.0.0.10:5060", Networks: pbxNets},
//		Outside:   sipadapter.SideConfig{Listen: "192.0.2.5:5060", NextHop: "192.0.2.1:5060"},
//		MediaAddr: netip.MustParseAddr("192.0.2.5"),
//		Plan:      plan,      // *dialplan.Plan
//		Lines:     lines,     // sipadapter.LineResolver
//		RecordDir: "/var/lib/callrec/recording",
//		Delivery:  queue,     // *delivery.Queue
//		Events:    onEvent,
//	})
//	if err != nil {
//		return err
//	}
//	defer b.Close()
//	return b.Serve(ctx) // until ctx is done
//
// # Not supported
//
// INVITEs without an SDP offer (late offer) are refused with 488; SRTP,
// ICE and video are not anchored (those streams are disabled); a caller's
// own Authorization or Proxy-Authorization is not forwarded (see
// Authentication above); the Reason headers of a caller's CANCEL are not
// passed on to the callee (sipgo builds that CANCEL). Redirects (3xx) are
// not followed: they are passed back like failures, without their Contact,
// so that no call is redirected around the recording. A callee that answers only after the
// B2BUA gave up on it without having sent any provisional response (no
// CANCEL is allowed then) gets no ACK and ends its dialog itself.
package sipadapter
