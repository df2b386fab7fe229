package relay

import "errors"

var (
	// ErrPortsExhausted is returned by [Anchor.Open] when every even port of
	// the configured range is in use (by this anchor or by another process).
	ErrPortsExhausted = errors.New("relay: rtp port range exhausted")

	// ErrInvalidConfig is wrapped by the error [New] returns for an invalid [Config];
	// the message names the offending field.
	ErrInvalidConfig = errors.New("relay: invalid config")

	// ErrClosed is returned by [Anchor.Open] after [Anchor.Close] and by a
	// [Writer] whose session is closed.
	ErrClosed = errors.New("relay: closed")

	// ErrNoTarget is returned by a [Writer] when the party's media address is
	// not known yet: no SDP address was set and no packet was latched.
	ErrNoTarget = errors.New("relay: no media target for party")
)
