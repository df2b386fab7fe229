package delivery

import "time"

// CircuitState is the state of a Queue's circuit breaker.
type CircuitState uint8

// States of the circuit breaker.
const (
	// CircuitClosed delivers with every worker.
	CircuitClosed CircuitState = iota
	// CircuitOpen delivers nothing until the cool-down ends.
	CircuitOpen
	// CircuitHalfOpen delivers one probe at a time; its success closes the
	// circuit, its failure opens it again for longer.
	CircuitHalfOpen
)

// String returns "closed", "open" or "half-open".
func (s CircuitState) String() string {
	switch s {
	case CircuitClosed:
		return "closed"
	case CircuitOpen:
		return "open"
	case CircuitHalfOpen:
		return "half-open"
	}
	return "invalid"
}

// MarshalText encodes the state as its String.
func (s CircuitState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Circuit configures the breaker that stops a Queue hammering a failing
// destination. After Threshold consecutive retryable failures the circuit
// opens; once the cool-down has passed a single probe delivery is let
// through (oldest recording first), and its success releases the whole
// backlog at once, oldest first. The zero value means the defaults below.
type Circuit struct {
	// Threshold is the number of consecutive retryable failures that opens
	// the circuit. Default 5.
	Threshold int
	// MinOpen is the first cool-down. Default 1s.
	MinOpen time.Duration
	// MaxOpen bounds the cool-down, which doubles at each failed probe.
	// Default 1m.
	MaxOpen time.Duration
	// HealthInterval is how often, while the circuit is open, the queue
	// asks a sink that implements [HealthChecker] whether its destination
	// is back; a passing check ends the cool-down at once. Default MinOpen;
	// negative disables health checks.
	HealthInterval time.Duration
}

func (c Circuit) withDefaults() (Circuit, error) {
	if c.Threshold == 0 {
		c.Threshold = 5
	}
	if c.MinOpen == 0 {
		c.MinOpen = time.Second
	}
	if c.MaxOpen == 0 {
		c.MaxOpen = max(time.Minute, c.MinOpen)
	}
	if c.HealthInterval == 0 {
		c.HealthInterval = c.MinOpen
	}
	switch {
	case c.Threshold < 0:
		return c, configError("Circuit.Threshold", "negative %d", c.Threshold)
	case c.MinOpen < 0:
		return c, configError("Circuit.MinOpen", "negative %v", c.MinOpen)
	case c.MaxOpen < c.MinOpen:
		return c, configError("Circuit.MaxOpen", "%v is below Circuit.MinOpen %v", c.MaxOpen, c.MinOpen)
	}
	return c, nil
}

// breaker is the circuit's state machine. It does no I/O and reads no clock:
// callers pass the time, so it is exact under test. It is not safe for
// concurrent use; the Queue guards it with its mutex.
type breaker struct {
	cfg       Circuit
	state     CircuitState
	failures  int // consecutive retryable failures while closed
	opens     int // consecutive openings since the last close
	openUntil time.Time
	probing   bool
	// healthWoke reports that the current half-open state began with a
	// passing health check rather than the end of the cool-down.
	healthWoke bool
	// distrustUntil ignores health checks until then: one passed, yet the
	// probe it let through failed, so the check does not reflect what
	// deliveries meet (OPTIONS allowed without the credentials, say).
	distrustUntil time.Time
}

// permit reports whether one more delivery may start at now and whether it
// is a probe. When it may not, until is when to ask again (zero: when the
// running probe ends).
func (b *breaker) permit(now time.Time) (ok, probe bool, until time.Time) {
	switch b.state {
	case CircuitOpen:
		if now.Before(b.openUntil) {
			return false, false, b.openUntil
		}
		b.state = CircuitHalfOpen
		fallthrough
	case CircuitHalfOpen:
		return !b.probing, true, time.Time{}
	}
	return true, false, time.Time{}
}

// start records that a probe permitted by permit is under way.
func (b *breaker) start(probe bool) {
	if probe {
		b.probing = true
	}
}

// abandon records that a delivery ended without a verdict (shutdown).
func (b *breaker) abandon(probe bool) {
	if probe {
		b.probing = false
	}
}

// success records a delivery the destination answered (delivered, or
// refused permanently) and reports whether it closed an open circuit.
func (b *breaker) success(probe bool) (recovered bool) {
	if probe {
		b.probing = false
	}
	recovered = b.state != CircuitClosed
	b.state, b.failures, b.opens = CircuitClosed, 0, 0
	b.healthWoke, b.distrustUntil = false, time.Time{}
	return recovered
}

// failure records a retryable failure at now; hint is the destination's
// Retry-After, if any, and r is uniform in [0, 1) to jitter the cool-down.
// A destination failure (see [ErrDestination]) opens a closed circuit at
// once: every other recording would fail the same way.
func (b *breaker) failure(now time.Time, probe bool, hint time.Duration, r float64, destination bool) {
	if probe {
		b.probing = false
	}
	switch b.state {
	case CircuitClosed:
		b.failures++
		if b.failures < b.cfg.Threshold && !destination {
			return
		}
	case CircuitOpen:
		return // a delivery started before the circuit opened
	case CircuitHalfOpen:
		if !probe {
			return
		}
	}
	b.opens++
	d := b.cfg.MinOpen
	for i := 1; i < b.opens && d < b.cfg.MaxOpen; i++ {
		d *= 2
	}
	d = min(d, b.cfg.MaxOpen)
	d = d/2 + time.Duration(r*float64(d/2)) // jitter in [d/2, d)
	b.state, b.failures = CircuitOpen, 0
	b.openUntil = now.Add(max(d, hint))
	if probe && b.healthWoke {
		b.distrustUntil = b.openUntil
	}
	b.healthWoke = false
}

// healthy records that the destination's health check passed at now: an
// open circuit lets its probe through at once instead of waiting out a
// cool-down that may have grown to MaxOpen. It reports whether the circuit
// was open. After a health-woken probe fails, checks are ignored for the
// rest of the next cool-down, so that a check that passes while deliveries
// fail cannot make the queue send one delivery per health interval.
func (b *breaker) healthy(now time.Time) bool {
	if b.state != CircuitOpen || !now.Before(b.openUntil) || now.Before(b.distrustUntil) {
		return false
	}
	b.openUntil, b.healthWoke = now, true
	return true
}
