package sipua

import "github.com/callrec/callrec/guidance"

// Clock is the time source that paces the RTP a call sends, times ringing
// and hang-ups, and stamps calls. It is the guidance package's clock, so
// that one fake clock can drive a whole test.
type Clock = guidance.Clock

// Timer is a one-shot timer returned by [Clock.NewTimer].
type Timer = guidance.Timer
