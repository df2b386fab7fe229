package sipadapter

import "github.com/emiago/sipgo/sip"

// lineLookupFailed answers a call whose line could not be looked up for a
// reason other than [ErrUnknownLine]: the line may well exist, so the
// caller gets 503 with Retry-After (the PBX fails over or retries) rather
// than a refusal, and the call ends with [CauseLineLookup] so that the
// outage is counted.
func (c *call) lineLookupFailed(number string, err error) {
	c.b.log.Warn("line lookup failed: refusing with 503", "call_id", c.callID, "number", number, "error", err)
	c.reject(sip.StatusServiceUnavailable, "Service Unavailable", retryAfter(c.b.cfg.RetryAfter),
		warning(c.in, "line lookup failed"), reasonHeader(sip.StatusServiceUnavailable, "line lookup failed"))
	c.fail(CauseLineLookup, sip.StatusServiceUnavailable, err)
}

// lineLookupError carries a LineResolver failure other than ErrUnknownLine
// out of the incoming decision, so that the call answers 503 for it.
type lineLookupError struct {
	number string
	err    error
}

func (e *lineLookupError) Error() string { return "line lookup for " + e.number + ": " + e.err.Error() }
func (e *lineLookupError) Unwrap() error { return e.err }
