package guidance

import "time"

// Clock is the time source of the pacing and of the event timestamps.
// Production code uses [SystemClock]; tests substitute a fake clock to make
// pacing exact and instantaneous. Implementations must be safe for
// concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that fires once after d.
	NewTimer(d time.Duration) Timer
}

// Timer is a resettable one-shot timer, as returned by [Clock.NewTimer].
// Its semantics are those of [time.Timer] since Go 1.23: after Reset or Stop
// no stale value is received from C.
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

// NewTimer returns a [time.Timer] wrapped as a [Timer].
func (SystemClock) NewTimer(d time.Duration) Timer { return systemTimer{time.NewTimer(d)} }

type systemTimer struct{ t *time.Timer }

func (s systemTimer) C() <-chan time.Time   { return s.t.C }
func (s systemTimer) Reset(d time.Duration) { s.t.Reset(d) }
func (s systemTimer) Stop()                 { s.t.Stop() }

// clockOrSystem returns c, or [SystemClock] when c is nil.
func clockOrSystem(c Clock) Clock {
	if c == nil {
		return SystemClock{}
	}
	return c
}
