package sipua

import (
	"errors"
	"fmt"

	"github.com/emiago/sipgo/sip"
)

var (
	// ErrInvalidConfig is wrapped by the error [New] returns for an invalid
	// [Config]; the message names the offending field.
	ErrInvalidConfig = errors.New("sipua: invalid config")
	// ErrClosed is returned by calls on a [UA] after [UA.Close].
	ErrClosed = errors.New("sipua: closed")
	// ErrTarget is wrapped when a dial target is not a SIP URI with a host
	// and port.
	ErrTarget = errors.New("sipua: invalid target")
	// ErrSDP is wrapped when the peer's session description cannot be
	// parsed or has no usable audio stream.
	ErrSDP = errors.New("sipua: unusable sdp")
	// ErrRejected is wrapped by the [*StatusError] of a call the far end
	// answered with a final failure response.
	ErrRejected = errors.New("sipua: call rejected")
	// ErrNoRemote is returned by [Call.SendRTP] before the peer named its
	// media address.
	ErrNoRemote = errors.New("sipua: no remote media address")
)

// StatusError is the final failure response a dialled call got. It wraps
// [ErrRejected].
type StatusError struct {
	// Code and Phrase are the response's status code and reason phrase.
	Code   int
	Phrase string
	// Warning and Reason are the values of the response's Warning (RFC 3261
	// §20.43) and Reason (RFC 3326) headers, empty when absent.
	Warning, Reason string
	// Response is the whole response, for the headers not above (such as
	// Retry-After).
	Response *sip.Response
}

// Error returns the status line and any Warning or Reason.
func (e *StatusError) Error() string {
	s := fmt.Sprintf("sipua: call rejected with %d %s", e.Code, e.Phrase)
	if e.Reason != "" {
		s += "; reason: " + e.Reason
	}
	if e.Warning != "" {
		s += "; warning: " + e.Warning
	}
	return s
}

// Unwrap returns [ErrRejected].
func (e *StatusError) Unwrap() error { return ErrRejected }
