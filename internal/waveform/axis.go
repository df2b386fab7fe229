package waveform

import (
	"strconv"
	"time"
)

// tickStep returns the time between labelled ticks: the smallest of 1, 2,
// 5 ms … 1, 2, 5, 10, 15, 30 s, 1, 2, 5, 10, 15, 30 min, 1 h (then doubling)
// that puts at most maxTicks steps into d.
func tickStep(d time.Duration, maxTicks int) time.Duration {
	maxTicks = max(maxTicks, 1)
	const ms, s, min = time.Millisecond, time.Second, time.Minute
	steps := [...]time.Duration{
		ms, 2 * ms, 5 * ms, 10 * ms, 20 * ms, 50 * ms, 100 * ms, 200 * ms, 500 * ms,
		s, 2 * s, 5 * s, 10 * s, 15 * s, 30 * s,
		min, 2 * min, 5 * min, 10 * min, 15 * min, 30 * min, time.Hour,
	}
	for _, st := range steps {
		if d/st <= time.Duration(maxTicks) {
			return st
		}
	}
	st := steps[len(steps)-1]
	for d/st > time.Duration(maxTicks) {
		st *= 2
	}
	return st
}

// tickLabel formats t in seconds with as many decimals as step needs, and
// zero as "0".
func tickLabel(t, step time.Duration) string {
	if t == 0 {
		return "0"
	}
	dec := 0
	for ; step%time.Second != 0 && dec < 3; step *= 10 {
		dec++
	}
	return strconv.FormatFloat(t.Seconds(), 'f', dec, 64)
}
