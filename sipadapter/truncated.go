package sipadapter

import (
	"errors"

	"github.com/callrec/callrec/recorder"
)

// closedTruncated reports whether the recording's Close failed only in
// that its disk write failed mid-call (a full disk, an I/O error) and the
// recorder finished the file at its last good frame: such a recording is
// valid, and is enqueued like any other, marked truncated in its metadata
// and the CDR. The call itself went on: only the recording stopped.
func (c *call) closedTruncated(res recorder.Result, err error) bool {
	if !res.Truncated || !errors.Is(err, recorder.ErrTruncated) {
		return false
	}
	c.mu.Lock()
	c.truncated = res.TruncatedReason
	c.mu.Unlock()
	c.b.log.Error("recording cut short by a failed write: closed at its last good frame and enqueued",
		"call_id", c.callID, "reason", res.TruncatedReason, "duration", res.Duration, "error", err)
	return true
}
