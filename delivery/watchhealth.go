package delivery

import (
	"context"
	"errors"
	"time"
)

// minHealthTimeout bounds a health check from below, however short the
// interval between checks.
const minHealthTimeout = 5 * time.Second

// watchHealth runs while the queue is started: every HealthInterval it
// looks at the circuit and, when it is open, asks the sink whether the
// destination is back. A passing check ends the cool-down, so the
// dispatcher sends the probe delivery at once, and the probe's success
// drains the backlog. It stops for good when the sink has no health check.
func (q *Queue) watchHealth(hc HealthChecker) {
	defer q.workers.Done()
	every := q.cfg.Circuit.HealthInterval
	for {
		timer := time.NewTimer(every)
		select {
		case <-timer.C:
		case <-q.stop:
			timer.Stop()
			return
		}
		q.mu.Lock()
		open := q.breaker.state == CircuitOpen && time.Now().Before(q.breaker.openUntil)
		q.mu.Unlock()
		if !open {
			continue
		}
		ctx, cancel := context.WithTimeout(q.attemptCtx, min(q.cfg.AttemptTimeout, max(every, minHealthTimeout)))
		err := hc.CheckHealth(ctx)
		cancel()
		if errors.Is(err, ErrNoHealthCheck) {
			return
		}
		q.mu.Lock()
		q.counters.HealthChecks++
		woke := false
		if err == nil {
			q.counters.HealthyChecks++
			woke = q.breaker.healthy(time.Now())
		}
		q.mu.Unlock()
		if woke {
			q.log.Info("destination health check passed; probing now")
		} else if err != nil {
			q.log.Debug("destination health check failed", "error", err)
		}
		q.changed()
	}
}
