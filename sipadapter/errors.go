package sipadapter

import "errors"

var (
	// ErrInvalidConfig is wrapped by the error [New] returns for an invalid
	// [Config]; the message names the offending field.
	ErrInvalidConfig = errors.New("sipadapter: invalid config")

	// ErrSDP is wrapped when a session description cannot be parsed or has
	// no usable audio address; the call is answered 400.
	ErrSDP = errors.New("sipadapter: malformed sdp")

	// ErrNoCodec is wrapped when an offer or answer has no audio codec the
	// recorder decodes (PCMU, PCMA); the call is answered 488.
	ErrNoCodec = errors.New("sipadapter: no acceptable audio codec")

	// ErrClosed is returned by [B2BUA.Serve] after [B2BUA.Close], and by
	// [B2BUA.Drain] when the B2BUA is closed while it waits.
	ErrClosed = errors.New("sipadapter: closed")

	// ErrServing is returned by a second call of [B2BUA.Serve].
	ErrServing = errors.New("sipadapter: already serving")

	// ErrListener is wrapped by the error [B2BUA.Serve] returns when a
	// side's UDP or TCP listener stops serving before the B2BUA stops.
	ErrListener = errors.New("sipadapter: listener failed")
)

// ErrUnknownLine is wrapped by a [LineResolver] that does not know a line.
var ErrUnknownLine = errors.New("sipadapter: unknown line")
