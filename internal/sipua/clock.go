package sipua

import "time"

// Clock is the time source that paces the RTP a call sends and stamps what
// it receives. Implementations must be safe for concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that fires once after d, with the semantics
	// of [time.Timer] since Go 1.23.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer returned by [Clock.NewTimer].
type Timer interface {
	// C returns the channel on which the timer delivers its firing time.
	C() <-chan time.Time
	// Reset changes the timer to fire after d.
	Reset(d time.Duration)
	// Stop prevents the timer from firing.
	Stop()
}

// SystemClock is the [Clock] backed by package time.
type SystemClock struct{}

// Now returns [time.Now].
func (SystemClock) Now() time.Time { return time.Now() }

// NewTimer wraps [time.NewTimer].
func (SystemClock) NewTimer(d time.Duration) Timer { return systemTimer{time.NewTimer(d)} }

type systemTimer struct{ t *time.Timer }

func (s systemTimer) C() <-chan time.Time   { return s.t.C }
func (s systemTimer) Reset(d time.Duration) { s.t.Reset(d) }
func (s systemTimer) Stop()                 { s.t.Stop() }
