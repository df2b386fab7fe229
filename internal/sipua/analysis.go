package sipua

import (
	"math"
	"slices"
)

// Pitch analysis parameters: 40 ms frames every 20 ms, fundamentals from
// 80 to 400 Hz.
const (
	pitchFrame   = 320
	pitchHop     = 160
	pitchMinLag  = SampleRate / 400
	pitchMaxLag  = SampleRate / 80
	voicedRMS    = 300 // about -40 dBFS
	voicedCorr   = 0.6
	octaveMargin = 0.85
)

// Pitch is what [EstimatePitch] found in a signal.
type Pitch struct {
	// Hz is the median fundamental frequency of the voiced frames, 0 when
	// no frame is voiced.
	Hz float64
	// Voiced is the fraction of frames with a clear fundamental.
	Voiced float64
	// Frames holds each frame's fundamental in Hz, 0 for an unvoiced frame;
	// frames are 40 ms long and start every 20 ms.
	Frames []float64
}

// Share returns the fraction of voiced frames whose fundamental is within
// tolerance (a fraction, e.g. 0.06) of hz. In a mix of two voices it tells
// how much of the talk each contributed.
func (p Pitch) Share(hz, tolerance float64) float64 {
	var voiced, near int
	for _, f := range p.Frames {
		if f == 0 {
			continue
		}
		voiced++
		if math.Abs(f-hz) <= tolerance*hz {
			near++
		}
	}
	if voiced == 0 {
		return 0
	}
	return float64(near) / float64(voiced)
}

// EstimatePitch finds the fundamental frequency of 8 kHz samples by
// normalised autocorrelation per frame: the dominant pitch of a voice, or
// the frequency of a tone between 80 and 400 Hz.
func EstimatePitch(samples []int16) Pitch {
	var p Pitch
	x := make([]float64, len(samples))
	for i, s := range samples {
		x[i] = float64(s)
	}
	for start := 0; start+pitchFrame+pitchMaxLag <= len(x); start += pitchHop {
		p.Frames = append(p.Frames, framePitch(x[start:start+pitchFrame+pitchMaxLag]))
	}
	var voiced []float64
	for _, f := range p.Frames {
		if f > 0 {
			voiced = append(voiced, f)
		}
	}
	if len(voiced) == 0 {
		return p
	}
	slices.Sort(voiced)
	p.Hz = voiced[len(voiced)/2]
	p.Voiced = float64(len(voiced)) / float64(len(p.Frames))
	return p
}

// framePitch returns the fundamental of x[:pitchFrame] using lags up to
// pitchMaxLag beyond it, or 0 when the frame is quiet or aperiodic.
func framePitch(x []float64) float64 {
	var e0 float64
	for _, v := range x[:pitchFrame] {
		e0 += v * v
	}
	if math.Sqrt(e0/pitchFrame) < voicedRMS {
		return 0
	}
	var r [pitchMaxLag + 1]float64
	best := 0.0
	for lag := pitchMinLag; lag <= pitchMaxLag; lag++ {
		var xy, e1 float64
		for i := range pitchFrame {
			xy += x[i] * x[i+lag]
			e1 += x[i+lag] * x[i+lag]
		}
		if e1 > 0 {
			r[lag] = xy / math.Sqrt(e0*e1)
		}
		best = max(best, r[lag])
	}
	if best < voicedCorr {
		return 0
	}
	// The shortest lag that is a local peak nearly as strong as the best:
	// multiples of the period correlate as well, the period comes first.
	for lag := pitchMinLag + 1; lag < pitchMaxLag; lag++ {
		if r[lag] >= octaveMargin*best && r[lag] >= r[lag-1] && r[lag] >= r[lag+1] {
			// Parabolic interpolation between the neighbouring lags.
			den := r[lag-1] - 2*r[lag] + r[lag+1]
			shift := 0.0
			if den != 0 {
				shift = 0.5 * (r[lag-1] - r[lag+1]) / den
			}
			return SampleRate / (float64(lag) + shift)
		}
	}
	return 0
}

// RMS returns the root mean square of samples, 0 for none.
func RMS(samples []int16) float64 {
	if len(samples) == 0 {
		return 0
	}
	var e float64
	for _, s := range samples {
		e += float64(s) * float64(s)
	}
	return math.Sqrt(e / float64(len(samples)))
}

// Find looks for needle in haystack and returns the offset in haystack
// where it matches best (negative when needle starts before haystack) and
// the normalised correlation there, from -1 to 1; 1 is an exact copy at any
// level. Partial overlaps of at least half the shorter signal count, so a
// recording shorter than a prompt is still searched. It aligns 20 ms energy
// envelopes first and then refines to the sample, so a prompt of seconds is
// found in a call of minutes in milliseconds.
func Find(haystack, needle []int16) (offset int, score float64) {
	const frame = 160
	minOverlap := min(len(haystack), len(needle)) / 2
	if minOverlap < frame {
		return 0, 0
	}
	he, ne := envelope(haystack, frame), envelope(needle, frame)
	minFrames := minOverlap / frame
	coarse, bestEnv := 0, math.Inf(-1)
	for off := -(len(ne) - minFrames); off <= len(he)-minFrames; off++ {
		if c := pearson(he, ne, off); c > bestEnv {
			coarse, bestEnv = off, c
		}
	}
	score = math.Inf(-1)
	for off := coarse*frame - frame; off <= coarse*frame+frame; off++ {
		if c := correlation(haystack, needle, off, minOverlap); c > score {
			offset, score = off, c
		}
	}
	if math.IsInf(score, -1) {
		return 0, 0
	}
	return offset, score
}

func envelope(x []int16, frame int) []float64 {
	env := make([]float64, len(x)/frame)
	for i := range env {
		var s float64
		for _, v := range x[i*frame : (i+1)*frame] {
			s += math.Abs(float64(v))
		}
		env[i] = s / float64(frame)
	}
	return env
}

// overlap returns the index ranges of a and b that overlap when b starts at
// a[off].
func overlap(la, lb, off int) (a0, b0, n int) {
	a0, b0 = max(off, 0), max(-off, 0)
	return a0, b0, min(la-a0, lb-b0)
}

// pearson is the correlation coefficient of the overlapping envelopes.
func pearson(a, b []float64, off int) float64 {
	a0, b0, n := overlap(len(a), len(b), off)
	if n < 2 {
		return math.Inf(-1)
	}
	var sa, sb float64
	for i := range n {
		sa += a[a0+i]
		sb += b[b0+i]
	}
	ma, mb := sa/float64(n), sb/float64(n)
	var ab, aa, bb float64
	for i := range n {
		da, db := a[a0+i]-ma, b[b0+i]-mb
		ab += da * db
		aa += da * da
		bb += db * db
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

// correlation is the normalised cross-correlation of the overlapping
// samples, -Inf when they overlap by less than minOverlap.
func correlation(a, b []int16, off, minOverlap int) float64 {
	a0, b0, n := overlap(len(a), len(b), off)
	if n < minOverlap {
		return math.Inf(-1)
	}
	var ab, aa, bb float64
	for i := range n {
		x, y := float64(a[a0+i]), float64(b[b0+i])
		ab += x * y
		aa += x * x
		bb += y * y
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}
