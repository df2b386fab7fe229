package guidance

import "math"

// The resampler is a band-limited (windowed-sinc) interpolator, the method
// of Smith's "Digital Audio Resampling" as used by libresample and sox's
// rate effect: every output sample is the input convolved with a low-pass
// kernel centred on the output instant, with the cut-off below the output
// Nyquist frequency so that nothing above 4 kHz folds back into the band.
const (
	// sincZeroCrossings is the kernel half-width in zero crossings of the
	// sinc. With the Kaiser window below this gives a transition band of
	// about 10% of the cut-off and a stop band beyond 70 dB.
	sincZeroCrossings = 24
	// sincResolution is the number of table entries per zero crossing;
	// values between entries are interpolated linearly.
	sincResolution = 512
	// kaiserBeta is the Kaiser window's shape parameter.
	kaiserBeta = 8.0
	// cutoffFraction places the cut-off at 90% of the output Nyquist
	// frequency (3.6 kHz at 8 kHz), leaving room for the transition band.
	cutoffFraction = 0.9
)

// windowedSinc returns the Kaiser-windowed sinc sampled at
// sincResolution points per zero crossing, from 0 to sincZeroCrossings,
// followed by a zero so that interpolation at the edge is defined.
func windowedSinc() []float64 {
	n := sincZeroCrossings * sincResolution
	t := make([]float64, n+2)
	i0b := besselI0(kaiserBeta)
	for i := 0; i <= n; i++ {
		x := float64(i) / sincResolution
		r := float64(i) / float64(n)
		w := besselI0(kaiserBeta*math.Sqrt(1-r*r)) / i0b
		s := 1.0
		if i != 0 {
			s = math.Sin(math.Pi*x) / (math.Pi * x)
		}
		t[i] = s * w
	}
	return t
}

// besselI0 is the zeroth-order modified Bessel function of the first kind,
// by its power series.
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 50; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
		if term < sum*1e-17 {
			break
		}
	}
	return sum
}

// resample converts mono samples at rate Hz (8–48 kHz) to SampleRate,
// rounding and clamping to 16 bits. At 8 kHz the samples pass unchanged.
func resample(in []float64, rate int) []int16 {
	if rate == SampleRate {
		out := make([]int16, len(in))
		for i, v := range in {
			out[i] = clamp16(v)
		}
		return out
	}
	table := windowedSinc()
	// Cut-off in cycles per input sample, and the kernel scaled to it.
	fc := 0.5 * cutoffFraction * math.Min(1, float64(SampleRate)/float64(rate))
	scale := 2 * fc // zero crossings per input sample
	half := sincZeroCrossings / scale
	limit := len(table) - 2
	outLen := int(int64(len(in)) * SampleRate / int64(rate))
	out := make([]int16, outLen)
	for k := range out {
		t := float64(int64(k)*int64(rate)) / SampleRate // output instant in input samples
		j0 := max(0, int(math.Ceil(t-half)))
		j1 := min(len(in)-1, int(math.Floor(t+half)))
		var acc float64
		for j := j0; j <= j1; j++ {
			u := math.Abs(t-float64(j)) * scale * sincResolution
			i := int(u)
			if i >= limit {
				continue
			}
			f := u - float64(i)
			acc += in[j] * (table[i] + f*(table[i+1]-table[i]))
		}
		out[k] = clamp16(acc * scale)
	}
	return out
}

func clamp16(v float64) int16 {
	v = math.Round(v)
	switch {
	case v > math.MaxInt16:
		return math.MaxInt16
	case v < math.MinInt16:
		return math.MinInt16
	default:
		return int16(v)
	}
}
