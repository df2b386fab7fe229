package sipadapter

import (
	"encoding/json"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/dialplan"
)

// EventKind names what happened to a call.
type EventKind uint8

// Event kinds, in the order a recorded call produces them.
const (
	// EventDecided: the dial plan decided; Decision is set. Refused calls
	// end right after with EventEnded.
	EventDecided EventKind = iota + 1
	// EventRinging: the callee sent 180 or 183; Code is set.
	EventRinging
	// EventAnswered: the callee answered and the caller acknowledged.
	EventAnswered
	// EventGuidanceStarted: the announcement started; this is the billing
	// start of the call.
	EventGuidanceStarted
	// EventGuidanceEnded: the announcement finished (or was cut short by a
	// hang-up; Cause says so).
	EventGuidanceEnded
	// EventRecordingStarted: the recording was opened; Time is its first
	// frame (the guidance's end) and Path the recording in progress.
	EventRecordingStarted
	// EventEnded: the call is over; Cause, HungUp and Code are set.
	EventEnded
	// EventEnqueued: the recording and its metadata were handed to
	// delivery; RecordingID is set.
	EventEnqueued
	// EventDelivered: a sink accepted the recording (see [NotifySink]).
	EventDelivered
	// EventRecordingPaused: an on-demand call's recording was stopped
	// (stop code or [B2BUA.StopRecording]); the file holds silence until
	// it resumes.
	EventRecordingPaused
	// EventRecordingResumed: an on-demand call's stopped recording runs
	// again, in the same file.
	EventRecordingResumed
)

var eventNames = [...]string{
	EventDecided: "decided", EventRinging: "ringing", EventAnswered: "answered",
	EventGuidanceStarted: "guidance-started", EventGuidanceEnded: "guidance-ended",
	EventRecordingStarted: "recording-started", EventEnded: "ended", EventEnqueued: "enqueued",
	EventDelivered: "delivered", EventRecordingPaused: "recording-paused", EventRecordingResumed: "recording-resumed",
}

// String returns the event's name, e.g. "guidance-started".
func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return "unknown"
}

// MarshalText encodes the kind as its name.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Party names who ended a call, in [Event.HungUp] and [CDR].HungUp: one of
// the call's parties, with the text of relay.Party and recorder.Side
// ("caller", "callee"), or the B2BUA itself. It is text, unlike
// relay.Party, because "b2bua" is a third value and the empty string means
// nobody (omitted from JSON).
type Party string

// Parties that can end a call.
const (
	PartyCaller Party = "caller"
	PartyCallee Party = "callee"
	// PartyB2BUA: the B2BUA ended the call (timeout, shutdown, error).
	PartyB2BUA Party = "b2bua"
)

// Causes of [EventEnded], in [Event.Cause] and the CDR.
const (
	CauseRefused       = "refused"        // the dial plan refused the call
	CauseCongested     = "congested"      // recording congested, not a priority call: 503
	CauseDraining      = "draining"       // B2BUA.Drain was called: 503
	CauseRejected      = "rejected"       // the callee answered with a failure; Code is its status
	CauseCancelled     = "cancelled"      // the caller cancelled before answer
	CauseBye           = "bye"            // a party hung up; HungUp says which
	CauseRTPTimeout    = "rtp-timeout"    // no RTP for InactivityTimeout
	CauseMaxDuration   = "max-duration"   // MaxCallDuration reached
	CauseRingTimeout   = "ring-timeout"   // no answer within RingTimeout
	CauseShutdown      = "shutdown"       // the B2BUA was closed
	CauseError         = "error"          // a local failure; the CDR's Error says which
	CauseBadRequest    = "bad-request"    // malformed INVITE or SDP
	CauseNotAcceptable = "not-acceptable" // no codec the recorder decodes
	CauseLineLookup    = "line-lookup"    // the LineResolver failed (not ErrUnknownLine): 503
)

// Event is one step of one call, delivered to [Config.Events].
type Event struct {
	Kind EventKind `json:"kind"`
	// Time is when it happened, on the configured clock.
	Time time.Time `json:"time"`
	// CallID is the Call-ID of the INVITE that opened the call.
	CallID string `json:"call_id"`
	// Decision is set on EventDecided.
	Decision *dialplan.Decision `json:"decision,omitempty"`
	// Code is the SIP status of EventRinging and of a refused or rejected
	// EventEnded.
	Code int `json:"code,omitempty"`
	// Cause and HungUp are set on EventEnded.
	Cause  string `json:"cause,omitempty"`
	HungUp Party  `json:"hung_up,omitempty"`
	// Path is the recording file of EventRecordingStarted.
	Path string `json:"path,omitempty"`
	// RecordingID is the delivery ID of EventEnqueued and EventDelivered.
	RecordingID string `json:"recording_id,omitempty"`
	// Recorder, on EventEnqueued, is the recorder's statistics that went
	// into the metadata as recorder_stats; nil when it has none.
	Recorder *RecorderStats `json:"recorder,omitempty"`
	// CallerRejected and CalleeRejected, on EventEnded, count the RTP and
	// RTCP packets the legs facing the caller and the callee dropped for
	// their source (see [SideConfig].NAT).
	CallerRejected uint64 `json:"caller_rejected,omitempty"`
	CalleeRejected uint64 `json:"callee_rejected,omitempty"`
	// EndedDuringAnnouncement, on EventEnqueued, reports an empty
	// recording: the call ended (hang-up, or a crash before the recording
	// was recovered) while its announcement played.
	EndedDuringAnnouncement bool `json:"ended_during_announcement,omitempty"`
}

// CDR is the call detail record written as one JSON line per call to
// [Config.CDR]. It describes every call, recorded or not; a recorded call's
// delivery.Metadata describes its recording. Where the two say the same
// thing they use the same field name, JSON key and type (CallID, Direction,
// Caller, Destination, LineNumber, DivertedFrom, DiversionReason, Start,
// Answer, End, TruncatedReason); CDR.RecordingID is the Metadata's ID.
// Called is the number as signalled (Metadata keeps the normalised Dialled
// and Destination instead), and BillingStart is Metadata.GuidanceStart for
// a recorded call.
type CDR struct {
	CallID      string             `json:"call_id"`
	Direction   delivery.Direction `json:"direction"`
	Side        string             `json:"side"`
	Caller      string             `json:"caller,omitempty"`
	Called      string             `json:"called,omitempty"`
	Verdict     string             `json:"verdict,omitempty"`
	Reason      string             `json:"reason,omitempty"`
	Destination string             `json:"destination,omitempty"`
	LineNumber  string             `json:"line_number,omitempty"`
	Recorded    bool               `json:"recorded"`
	Priority    bool               `json:"priority,omitempty"`
	// DivertedFrom and DiversionReason are the original target of a
	// forwarded incoming call and why it was forwarded (History-Info cause
	// or Diversion reason), from a trusted network only.
	DivertedFrom    string `json:"diverted_from,omitempty"`
	DiversionReason string `json:"diversion_reason,omitempty"`
	// Roaming reports an outgoing call from a mobile roaming abroad.
	Roaming bool `json:"roaming,omitempty"`
	// OnDemand reports a call of an on-demand line, recorded or not.
	OnDemand bool      `json:"on_demand,omitempty"`
	Start    time.Time `json:"start"`
	Answer   time.Time `json:"answer,omitzero"`
	// BillingStart is the guidance start of a recorded call, the answer of
	// an unrecorded one.
	BillingStart time.Time `json:"billing_start,omitzero"`
	End          time.Time `json:"end"`
	Code         int       `json:"code,omitempty"`
	Cause        string    `json:"cause"`
	HungUp       Party     `json:"hung_up,omitempty"`
	RecordingID  string    `json:"recording_id,omitempty"`
	Error        string    `json:"error,omitempty"`
	// Packets counts RTP packets received from the caller and the callee.
	CallerPackets uint64 `json:"caller_packets"`
	CalleePackets uint64 `json:"callee_packets"`
	// CallerRejected and CalleeRejected count the RTP and RTCP packets
	// dropped on the caller's and the callee's leg for coming from another
	// source than the party's SDP address (or, for a NAT side, the address
	// latched).
	CallerRejected uint64 `json:"caller_rejected,omitempty"`
	CalleeRejected uint64 `json:"callee_rejected,omitempty"`
	// RecordingTruncated reports a recording cut short by a failed write
	// (a full disk, an I/O error) and finished at its last good frame;
	// TruncatedReason says why ("no_space", "io_error", …; see
	// recorder.TruncateReason). The call itself went on.
	RecordingTruncated bool   `json:"recording_truncated,omitempty"`
	TruncatedReason    string `json:"truncated_reason,omitempty"`
	// EndedDuringAnnouncement reports a call that ended while its
	// announcement played: its recording (RecordingID) is empty, and
	// Recorded is true, since the parties were told of the recording.
	EndedDuringAnnouncement bool `json:"ended_during_announcement,omitempty"`
}

func (c CDR) line() ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
