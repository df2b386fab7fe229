package delivery

import "time"

// Backoff configures how a [Queue] spaces the attempts of one recording and
// when it gives up. The zero value means the defaults below.
//
// The delay before attempt n+1 is drawn uniformly from [0, min(Cap,
// Base·2^(n-1))) ("full jitter"), so that many recordings failing together do
// not retry in lockstep. A Retry-After from the destination lengthens it.
type Backoff struct {
	// Base is the ceiling of the first delay. Default 1s.
	Base time.Duration
	// Cap bounds every delay. Default 5m.
	Cap time.Duration
	// MaxAttempts, when positive, dead-letters a recording after that many
	// failed attempts. Zero means no limit by count.
	MaxAttempts int
	// MaxAge dead-letters a recording whose attempt fails once it has been
	// queued this long (since Enqueue or its last requeue). Zero means the
	// default, 7 days; a negative value means no limit by age.
	MaxAge time.Duration
}

const (
	defaultBackoffBase = time.Second
	defaultBackoffCap  = 5 * time.Minute
	defaultMaxAge      = 7 * 24 * time.Hour
)

// withDefaults fills zero fields and validates the rest.
func (b Backoff) withDefaults() (Backoff, error) {
	if b.Base == 0 {
		b.Base = defaultBackoffBase
	}
	if b.Cap == 0 {
		b.Cap = max(defaultBackoffCap, b.Base)
	}
	if b.MaxAge == 0 {
		b.MaxAge = defaultMaxAge
	}
	switch {
	case b.Base < 0:
		return b, configError("Backoff.Base", "negative %v", b.Base)
	case b.Cap < b.Base:
		return b, configError("Backoff.Cap", "%v is below Backoff.Base %v", b.Cap, b.Base)
	case b.MaxAttempts < 0:
		return b, configError("Backoff.MaxAttempts", "negative %d", b.MaxAttempts)
	}
	return b, nil
}

// ceiling returns min(Cap, Base·2^(attempt-1)) for attempt ≥ 1.
func (b Backoff) ceiling(attempt int) time.Duration {
	d := b.Base
	for i := 1; i < attempt && d < b.Cap; i++ {
		d *= 2
	}
	return min(d, b.Cap)
}

// delay returns the full-jitter delay after failed attempt number attempt,
// with r uniform in [0, 1).
func (b Backoff) delay(attempt int, r float64) time.Duration {
	return time.Duration(r * float64(b.ceiling(attempt)))
}

// exhausted reports whether a recording that has failed attempts times and
// has been queued for age must be dead-lettered.
func (b Backoff) exhausted(attempts int, age time.Duration) bool {
	return (b.MaxAttempts > 0 && attempts >= b.MaxAttempts) || (b.MaxAge > 0 && age >= b.MaxAge)
}
