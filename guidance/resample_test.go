package guidance

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestResample checks the converter as a filter: an in-band tone keeps its
// level, and a tone above the 4 kHz output Nyquist frequency, which sample
// dropping would fold back into the band at full level, is suppressed.
func TestResample(t *testing.T) {
	const amp = 10000.0
	tests := map[string]struct {
		rate int
	}{
		"11025 Hz": {11025},
		"16000 Hz": {16000},
		"22050 Hz": {22050},
		"32000 Hz": {32000},
		"44100 Hz": {44100},
		"48000 Hz": {48000},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := sine(tc.rate, tc.rate, 1, 1000, amp) // one second
			p, err := NewPrompt(in, tc.rate, 1)
			require.NoError(t, err)
			require.Equal(t, 8000, p.Len())
			mid := toFloat(p.Samples()[1000:7000]) // away from the edges
			got := goertzel(mid, 1000, 8000)
			assert.InDelta(t, amp, got, amp*0.01, "1 kHz level")

			// In band near the edge of the telephone band: still flat.
			p, err = NewPrompt(sine(tc.rate, tc.rate, 1, 3000, amp), tc.rate, 1)
			require.NoError(t, err)
			got = goertzel(toFloat(p.Samples()[1000:7000]), 3000, 8000)
			assert.InDelta(t, amp, got, amp*0.02, "3 kHz level")

			// Above 4 kHz: sampling at 8 kHz would fold f onto 8000-f.
			f := 7000.0
			if float64(tc.rate)/2 <= f {
				f = 5000
			}
			p, err = NewPrompt(sine(tc.rate, tc.rate, 1, f, amp), tc.rate, 1)
			require.NoError(t, err)
			s := toFloat(p.Samples()[1000:7000])
			leak := goertzel(s, 8000-f, 8000)
			t.Logf("%v Hz: 3 kHz gain %.4f, alias %.1f dB", f, got/amp, 20*math.Log10(leak/amp))
			assert.Less(t, 20*math.Log10(leak/amp), -60.0, "aliasing of %v Hz", f)
			assert.Less(t, rms(p.Samples()[1000:7000]), amp*0.001)
		})
	}
}

func TestResamplePassThrough8k(t *testing.T) {
	in := sine(800, 8000, 1, 1234, 20000)
	p, err := NewPrompt(in, 8000, 1)
	require.NoError(t, err)
	assert.Equal(t, in, p.Samples())
}

func TestResampleClampsAndKeepsDC(t *testing.T) {
	// Full-scale square wave: the filter's overshoot must saturate, not wrap.
	in := make([]int16, 16000)
	for i := range in {
		in[i] = math.MaxInt16
		if (i/400)%2 == 1 {
			in[i] = math.MinInt16
		}
	}
	p, err := NewPrompt(in, 16000, 1)
	require.NoError(t, err)
	s := p.Samples()
	// Mid-plateau the output equals the input level within 0.1%.
	assert.InDelta(t, math.MaxInt16, float64(s[100]), 40)
	assert.InDelta(t, math.MinInt16, float64(s[300]), 40)
}

func TestBesselI0(t *testing.T) {
	assert.InDelta(t, 1.0, besselI0(0), 1e-15)
	assert.InDelta(t, 2.2795853023360673, besselI0(2), 1e-12)
	assert.InDelta(t, 427.56411572180474, besselI0(8), 1e-9)
}
