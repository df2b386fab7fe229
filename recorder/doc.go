// Package recorder records the two directions of a call, as RTP packets, into
// a 16-bit 8 kHz PCM WAV file: stereo (caller left, callee right) or mono
// (both mixed with saturation).
//
// It is built to be embedded in a switch that records thousands of calls at
// once: a packet costs no allocation, and a recording's memory is fixed when
// it starts (a ring for the jitter window and two write buffers), whatever
// the call's length.
//
// # Recording a call
//
// [New] creates a [Recording] from a [Config]: the output (a Path to create
// or an [io.WriteSeeker]), the [Mode], the payload types each party sends
// (from the negotiated SDP with [PayloadTypesFromSDP]) and, optionally, the
// jitter window, a clock and a logger. Each direction of the call is a
// [Leg], [Recording.Caller] and [Recording.Callee]; the goroutine that
// receives a direction's packets hands them to its leg with [Leg.Write]
// (raw bytes) or [Leg.WriteRTP] (a parsed [github.com/pion/rtp.Packet]),
// with their arrival time. [Recording.Close] finishes the file and returns
// a [Result]: path, duration, channels, SHA-256, per-leg [Stats], pause
// intervals and DTMF events.
//
//	rec, err := recorder.New(recorder.Config{
//		Path:               "call.wav",
//		Mode:               recorder.Stereo,
//		CallerPayloadTypes: callerPTs, // recorder.PayloadTypesFromSDP(answer)
//		CalleePayloadTypes: calleePTs, // recorder.PayloadTypesFromSDP(offer)
//	})
//	if err != nil {
//		return err
//	}
//	go relay(callerConn, rec.Caller()) // calls leg.Write(buf[:n], time.Now())
//	go relay(calleeConn, rec.Callee())
//	// … hang-up …
//	res, err := rec.Close(ctx)
//
// Legs are separate objects, never looked up by SSRC: both directions may
// use the same SSRC (SIPp's rtp_stream does).
//
// # Codecs
//
// PCMU and PCMA are decoded. Comfort noise (RFC 3389) is silence of the
// length until the next packet. RFC 4733 telephone events are not audio:
// their digits are reported as [DTMFEvent] values with their time in the
// call. Every other payload type is counted in [Stats.Skipped] and left
// out; it never becomes noise in the file.
//
// # Timeline
//
// Both legs share one timeline that starts at [Config.Start]. A leg places
// each packet by its RTP timestamp, anchored to the arrival time of the
// leg's first packet, so a party who starts speaking 3 s after the other is
// heard 3 s later in the file. Whatever no packet covers is silence: loss,
// hold, a party who never sends. Packets may arrive reordered or twice
// within the jitter window ([Config.JitterWindow], default 60 ms); older
// packets are dropped and counted as late. Sequence numbers and timestamps
// wrap around freely. A leg re-anchors to the arrival time when its
// timestamps stop agreeing with the arrival times: a new SSRC, a sequence
// restart (RFC 3550 A.1), a packet ahead of its arrival by more than the
// window (a jump forward, a fast sender clock), a jump back of more than a
// second, a talkspurt (marker bit) more than half a window off, three
// packets in a row behind their arrival by more than half the window (a
// slow sender clock, a longer network delay), or three packets in a row too
// late to play (a stall). A
// timestamp jump is never written as hours of silence. The file lasts from
// Start to Close, whatever each party sent.
//
// # Crash safety
//
// The header's sizes are brought up to date every [Config.HeaderInterval]
// of audio (default 1 s), so a file left by a killed process plays up to
// the last update. [Repair] sets a truncated or unfinished file's sizes from
// its actual length; [RepairAs] also turns a file killed before its header
// was written into an empty recording. [Header] reads and writes WAV headers.
//
// A killed process loses nothing the kernel has: its writes reach the file
// without any flush. Surviving a power failure or an operating-system crash
// needs a flush to stable storage, which [Config.Sync] adds after each
// header update; it is off by default because a flush per second per call
// is what limits a disk long before the CPU (0.3–0.5 ms each on the machine
// the benchmarks ran on: a recording written to a file costs 0.6–0.7 µs per
// packet without it and 3.7–5.2 µs with it). [Recording.Close] flushes the
// file it created in either case.
//
// # Pause
//
// [Recording.Pause] and [Recording.Resume] keep a part of the call out of
// the file, for example while a customer says a card number: the span
// becomes silence, or with [PauseOmit] is left out. The intervals are
// reported in [Result.Pauses]; DTMF events in them are counted but not
// reported.
//
// # Testing
//
// Package [github.com/callrec/callrec/recorder/recordertest] generates RTP
// tones and checks recorded channels for a tone or silence with an
// independent WAV decoder.
//
// # Errors
//
// Errors wrap the sentinels in errors.go, such as [ErrMalformed] for a packet
// that is not RTP (the call goes on) and [ErrWrite] for an output that failed.
package recorder
