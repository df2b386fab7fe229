package sipadapter

import (
	"context"
	"net/netip"

	"github.com/callrec/callrec/dialplan"
)

// Line is a company's contract line as the B2BUA needs it.
type Line struct {
	// Kind is the line's kind, which selects the recording prefix.
	Kind dialplan.LineKind
	// Number is the line's own number (for example a 050 number).
	Number string
	// Announcement is the recording announcement played after answer,
	// 1–5 (see the guidance package); 0 means 1.
	Announcement int
	// Mono records one mixed channel instead of one channel per party.
	Mono bool
	// Record says which calls of the line are recorded: prefixed ones
	// (the zero value), all ([dialplan.RecordAll]) or those the user starts
	// recording ([dialplan.RecordOnDemand], see [Config.OnDemand]). For an
	// incoming call, an on-demand line connects the recorded calls
	// unrecorded until the user starts the recording.
	Record dialplan.RecordMode
}

// LineResolver maps the inside party of a call to its contract line. For an
// outgoing call number is the From user of the INVITE from the PBX; for an
// incoming call it is the called company number. src is the address the
// INVITE came from. An error wrapping [ErrUnknownLine] refuses an outgoing
// call with 403; for an incoming call the line defaults to a fixed line with
// announcement 1, in stereo. Any other error (a provisioning database
// outage, a timeout) answers either direction with 503 and Retry-After, so
// that the previous hop fails over instead of giving up; the call ends with
// [CauseLineLookup]. Implementations must be safe for concurrent use.
type LineResolver interface {
	Line(ctx context.Context, number string, src netip.AddrPort) (Line, error)
}

// LineResolverFunc adapts a function to a [LineResolver].
type LineResolverFunc func(ctx context.Context, number string, src netip.AddrPort) (Line, error)

// Line calls f.
func (f LineResolverFunc) Line(ctx context.Context, number string, src netip.AddrPort) (Line, error) {
	return f(ctx, number, src)
}
