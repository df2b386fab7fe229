package sipua

import "time"

// Clock is the time source that paces the RTP a call sends, times ringing
// and hang-ups, and stamps calls. The phone talks over real sockets, so its
// tests cannot run in a testing/synctest bubble; nothing injects another
// clock today, and the guidance package, whose Clock this used to be, now
// runs on package time.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that fires once after d.
	NewTimer(d time.Duration) Timer
}

// Timer is a resettable one-shot timer returned by [Clock.NewTimer], with
// the semantics of [time.Timer] since Go 1.23.
type Timer interface {
	// C returns the channel on which the timer delivers its time.
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
