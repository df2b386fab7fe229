// Package sipua is a small SIP user agent for demos and tests on the
// loopback interface: it places and answers audio calls with
// [github.com/emiago/sipgo], sends real G.711 RTP paced every 20 ms from a
// synthetic [Source], and keeps the audio it receives so a test can check
// what each party heard.
//
// # Placing and answering calls
//
// [New] binds a [UA] to 127.0.0.1 and serves SIP over UDP until
// [UA.Close]. [UA.Dial] sends an INVITE with an SDP offer of PCMU, PCMA and
// telephone-event, notes 180/183, and returns the [Call] once the 200 OK is
// acknowledged; a failure response comes back as a [*StatusError] carrying
// its Warning and Reason headers. Incoming calls are answered by the UA
// itself, after [Config.RingTime], or refused with [Config.Reject];
// [UA.Accept] hands them over once acknowledged, and [Config.HangUpAfter]
// ends them. Either side hangs up with [Call.Hangup]; a BYE from the peer
// ends the call too, and [Call.End] tells who hung up. [Call.Hold] puts a
// call on hold and back with a re-INVITE; a peer's re-INVITE is answered
// with the matching direction, so its hold stops the UA's audio.
//
// # Audio
//
// A [Source] is a pure function of the sample index: [Tone], [Silence], or
// a [Voice], a speech-like signal of harmonic vowel syllables and pauses at
// a chosen pitch. Give the two parties of a call different pitches and
// [EstimatePitch] tells their audio apart in a received stream or in one
// channel of a recording. [Call.Received] returns what the call received,
// decoded; [Find] locates a known signal, such as a guidance prompt, in it.
//
// # Phones for B2BUA tests
//
// A few [Config] settings make the UA behave as the phones and networks a
// B2BUA meets: [Config.Mute] (a party that only listens, until
// [Call.Mute]), [Config.EarlyMedia] (183 with SDP and audio before the
// answer), [Config.SDPPort] (a phone behind NAT) and [Config.OnInvite]
// (a carrier that challenges). [Config.OnRTP] shows a test every packet
// received, with its arrival time; [Call.SendRTP] sends packets a test
// built, such as telephone events; [Call.Hangup] may carry a Reason,
// which the peer finds in [End].
//
// # Usage
//
//	callee, err := sipua.New(sipua.Config{Source: sipua.Voice{Pitch: 210}, HangUpAfter: 3 * time.Second})
//	if err != nil { ... }
//	defer callee.Close()
//	caller, err := sipua.New(sipua.Config{User: "0355550000", Source: sipua.Voice{Pitch: 130}})
//	if err != nil { ... }
//	defer caller.Close()
//	call, err := caller.Dial(ctx, callee.URI("0312345678"))
//	if err != nil { ... }
//	<-call.Done()
//	fmt.Println(sipua.EstimatePitch(call.Received()).Hz) // ≈ 210
package sipua
