package sipua

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
)

func render(s Source, from, n int64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = s.Sample(from + int64(i))
	}
	return out
}

func TestEstimatePitch(t *testing.T) {
	tests := map[string]struct {
		src    Source
		hz     float64
		voiced float64 // at least
	}{
		"tone 100 Hz":  {Tone(100, 0.3), 100, 0.99},
		"tone 250 Hz":  {Tone(250, 0.3), 250, 0.99},
		"low voice":    {Voice{Pitch: 110, Seed: 1}, 110, 0.3},
		"caller voice": {Voice{Pitch: 130, Seed: 7}, 130, 0.3},
		"callee voice": {Voice{Pitch: 210, Seed: 8}, 210, 0.3},
		"high voice":   {Voice{Pitch: 320}, 320, 0.3},
		"through PCMA": {SourceFunc(func(n int64) int16 { return PCMA.RoundTrip([]int16{Voice{Pitch: 180}.Sample(n)})[0] }), 180, 0.3},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			p := EstimatePitch(render(tt.src, 0, 4*SampleRate))
			assert.InEpsilon(t, tt.hz, p.Hz, 0.02)
			assert.GreaterOrEqual(t, p.Voiced, tt.voiced)
			assert.GreaterOrEqual(t, p.Share(tt.hz, 0.05), 0.9)
		})
	}
	t.Run("silence", func(t *testing.T) {
		p := EstimatePitch(render(Silence, 0, SampleRate))
		assert.Zero(t, p.Hz)
		assert.Zero(t, p.Voiced)
		assert.Zero(t, p.Share(100, 0.1))
	})
	t.Run("mix of two voices", func(t *testing.T) {
		a, b := render(Voice{Pitch: 130, Seed: 1}, 0, 8*SampleRate), render(Voice{Pitch: 210, Seed: 2}, 0, 8*SampleRate)
		for i := range a {
			a[i] = a[i]/2 + b[i]/2
		}
		p := EstimatePitch(a)
		assert.Greater(t, p.Share(130, 0.05), 0.1)
		assert.Greater(t, p.Share(210, 0.05), 0.1)
	})
}

func TestVoiceHasPauses(t *testing.T) {
	x := render(Voice{Pitch: 150, Seed: 3}, 0, 10*SampleRate)
	var silent, loud int
	for i := 0; i+syllableSamples <= len(x); i += syllableSamples {
		if r := RMS(x[i : i+syllableSamples]); r == 0 {
			silent++
		} else if r > 2000 {
			loud++
		}
	}
	assert.GreaterOrEqual(t, silent, 3, "no pauses")
	assert.GreaterOrEqual(t, loud, 20, "too few syllables")
	assert.Equal(t, x, render(Voice{Pitch: 150, Seed: 3}, 0, 10*SampleRate), "not deterministic")
	assert.NotEqual(t, x, render(Voice{Pitch: 150, Seed: 4}, 0, 10*SampleRate), "seed ignored")
}

// TestVoiceFill checks that a frame filled at once equals the samples one by
// one, at any start, pitch and seed.
func TestVoiceFill(t *testing.T) {
	for _, v := range []Voice{{}, {Pitch: 95, Seed: 5}, {Pitch: 330, Amplitude: 1, Seed: 6}, {Pitch: 5000}} {
		for _, from := range []int64{-100, 0, 1999, 123456789} {
			frame := make([]int16, 700)
			v.Fill(frame, from)
			assert.Equal(t, render(v, from, 700), frame, "%+v from %d", v, from)
		}
	}
}

func TestFind(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]int16, 6*SampleRate)
	for i := range noise {
		noise[i] = int16(rng.NormFloat64() * 500)
	}
	prompt := render(Voice{Pitch: 170, Seed: 9}, SampleRate, 3*SampleRate)

	t.Run("embedded copy", func(t *testing.T) {
		h := append([]int16(nil), noise...)
		at := 12345
		for i, v := range PCMU.RoundTrip(prompt) {
			h[at+i] += v
		}
		off, score := Find(h, prompt)
		assert.Equal(t, at, off)
		assert.Greater(t, score, 0.95)
	})
	t.Run("prompt cut by the start", func(t *testing.T) {
		h := PCMA.RoundTrip(prompt[SampleRate:])
		off, score := Find(h, prompt)
		assert.Equal(t, -SampleRate, off)
		assert.Greater(t, score, 0.99)
	})
	t.Run("absent", func(t *testing.T) {
		h := render(Voice{Pitch: 130, Seed: 1}, 0, 5*SampleRate)
		_, score := Find(h, prompt)
		assert.Less(t, score, 0.3)
	})
	t.Run("too short", func(t *testing.T) {
		off, score := Find(prompt[:100], prompt)
		assert.Zero(t, off)
		assert.Zero(t, score)
	})
}

func TestRMS(t *testing.T) {
	assert.Zero(t, RMS(nil))
	assert.InDelta(t, 0.3*math.MaxInt16/math.Sqrt2, RMS(render(Tone(1000, 0.3), 0, SampleRate)), 5)
}

func BenchmarkVoiceSample(b *testing.B) {
	v := Voice{Pitch: 130, Seed: 1}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = v.Sample(int64(i))
	}
}

// BenchmarkVoiceFill fills one 20 ms packet.
func BenchmarkVoiceFill(b *testing.B) {
	v := Voice{Pitch: 130, Seed: 1}
	frame := make([]int16, frameSamples)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		v.Fill(frame, int64(i)*frameSamples)
	}
}

func BenchmarkEstimatePitch(b *testing.B) {
	x := render(Voice{Pitch: 130, Seed: 1}, 0, SampleRate)
	b.ReportAllocs()
	for b.Loop() {
		_ = EstimatePitch(x)
	}
}

func BenchmarkFind(b *testing.B) {
	h := render(Voice{Pitch: 130, Seed: 1}, 0, 10*SampleRate)
	n := render(Voice{Pitch: 200, Seed: 2}, 0, 5*SampleRate)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Find(h, n)
	}
}
