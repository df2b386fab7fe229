package sipua

import (
	"math"
)

// SampleRate is the sample rate of every [Source] and of received audio,
// in Hz: G.711's 8 kHz.
const SampleRate = 8000

// Source is the audio a call sends: a pure function of the sample index
// from the call's answer, so one Source serves any number of calls at once.
// Implementations must be safe for concurrent use.
type Source interface {
	// Sample returns the 16-bit linear sample at index n (n/SampleRate
	// seconds after the answer).
	Sample(n int64) int16
}

// Filler is implemented by a [Source] that computes many samples at once
// faster than one by one; a call's sender then fills a 20 ms frame per
// packet. Fill must write the values Sample returns for n, n+1, ….
type Filler interface {
	Fill(dst []int16, n int64)
}

// SourceFunc adapts a function to a [Source].
type SourceFunc func(n int64) int16

// Sample calls f(n).
func (f SourceFunc) Sample(n int64) int16 { return f(n) }

// Silence is a [Source] of digital silence.
var Silence Source = SourceFunc(func(int64) int16 { return 0 })

// Tone returns a [Source] of a sine wave of freq Hz at amplitude
// (0 to 1 of full scale).
func Tone(freq, amplitude float64) Source {
	w := 2 * math.Pi * freq / SampleRate
	a := clampAmplitude(amplitude) * math.MaxInt16
	return SourceFunc(func(n int64) int16 { return int16(a * math.Sin(w*float64(n))) })
}

// Voice is a speech-like [Source]: voiced syllables of a harmonic tone at a
// fixed pitch, shaped by vowel formants and a syllable envelope, grouped
// into words separated by pauses. Two voices with different pitches are
// easy to tell apart with [EstimatePitch], and their pauses make a
// recording's waveform look like a conversation.
type Voice struct {
	// Pitch is the fundamental frequency in Hz; [EstimatePitch] measures
	// 80–400 Hz. Default 140.
	Pitch float64
	// Amplitude is the peak level, 0 to 1 of full scale. Default 0.5.
	Amplitude float64
	// Seed selects the sequence of syllables and pauses.
	Seed uint64
}

// A syllable cell lasts 250 ms; about one in five is a pause.
const (
	syllableSamples = SampleRate / 4
	pauseOneIn      = 4
)

// vowels are the first three formant frequencies of /a i u e o/ in Hz.
var vowels = [5][3]float64{
	{800, 1200, 2500},
	{300, 2300, 3000},
	{350, 1300, 2400},
	{500, 1900, 2600},
	{500, 900, 2400},
}

// maxHarmonics bounds the harmonics of a [Voice]: all of them up to 3.8 kHz
// for a pitch of 30 Hz or more.
const maxHarmonics = 128

// Sample returns the voice's sample at index n.
func (v Voice) Sample(n int64) int16 {
	var s [1]int16
	v.Fill(s[:], n)
	return s[0]
}

// Fill writes the samples from index n on into dst, the values [Voice.Sample]
// returns, computing each syllable's shape and spectrum once rather than
// per sample.
func (v Voice) Fill(dst []int16, n int64) {
	pitch := v.Pitch
	if pitch <= 0 {
		pitch = 140
	}
	amp := v.Amplitude
	if amp <= 0 {
		amp = 0.5
	}
	amp = clampAmplitude(amp) * math.MaxInt16
	harmonics := max(1, min(int((SampleRate/2-200)/pitch), maxHarmonics))
	var gains [maxHarmonics + 1]float64
	var syl syllable
	current := int64(math.MinInt64) // the cell syl and gains describe
	for i := range dst {
		idx := n + int64(i)
		cell := idx / syllableSamples
		if idx < 0 {
			cell = -1
		}
		if cell != current {
			syl = v.syllable(cell)
			if !syl.silent {
				v.spectrum(gains[:harmonics+1], pitch, syl.vowel)
			}
			current = cell
		}
		env := syl.envelope(idx % syllableSamples)
		if env == 0 {
			dst[i] = 0
			continue
		}
		// sin(mθ) for every harmonic m by the Chebyshev recurrence
		// sin(mθ) = 2cos(θ)·sin((m-1)θ) − sin((m-2)θ), from one Sincos.
		cycles := math.Mod(pitch*float64(idx)/SampleRate, 1)
		s1, c1 := math.Sincos(2 * math.Pi * cycles)
		prev, cur, sum := 0.0, s1, gains[1]*s1
		for m := 2; m <= harmonics; m++ {
			prev, cur = cur, 2*c1*cur-prev
			sum += gains[m] * cur
		}
		x := math.Max(-1, math.Min(1, 2*sum)) // crest factor ≈ 2; clip the rare peak
		dst[i] = int16(amp * env * x)
	}
}

// syllable is the shape of one 250 ms cell of a [Voice].
type syllable struct {
	silent     bool
	start, end int64 // voiced samples of the cell
	fadeIn     bool  // first syllable of a word
	fadeOut    bool  // last syllable of a word
	level      float64
	vowel      [3]float64
}

func (v Voice) syllable(cell int64) syllable {
	if v.pause(cell) {
		return syllable{silent: true}
	}
	h := v.hash(cell)
	// A word is a run of syllables between pauses: it starts a little into
	// its first cell and ends early in its last, fading in and out.
	s := syllable{
		end:   syllableSamples,
		level: 0.6 + 0.4*float64((h>>16)%256)/255,
		vowel: vowels[(h>>8)%uint64(len(vowels))],
	}
	if s.fadeIn = v.pause(cell - 1); s.fadeIn {
		s.start = int64((h >> 24) % (syllableSamples * 3 / 10))
	}
	if s.fadeOut = v.pause(cell + 1); s.fadeOut {
		s.end = syllableSamples * (60 + int64((h>>40)%41)) / 100
	}
	return s
}

// envelope returns the level at sample k of the cell.
func (s *syllable) envelope(k int64) float64 {
	if s.silent || k < s.start || k >= s.end {
		return 0
	}
	word := 1.0
	if s.fadeIn {
		word *= ramp(k - s.start)
	}
	if s.fadeOut {
		word *= ramp(s.end - 1 - k)
	}
	// Each syllable swells and ebbs; at its edges the level is the same
	// whatever the syllable, so the voice never clicks.
	swell := math.Sin(math.Pi * float64(k) / syllableSamples)
	return word * (0.35 + 0.65*s.level*swell*swell)
}

// spectrum sets gains[m] to the level of harmonic m of a vowel:
// three formant resonances over a falling glottal tilt, normalised to sum
// to one.
func (v Voice) spectrum(gains []float64, pitch float64, formants [3]float64) {
	var norm float64
	for m := 1; m < len(gains); m++ {
		f := float64(m) * pitch
		g := 0.3 / float64(m) // glottal tilt keeps the fundamental present
		for i, fm := range formants {
			bw := 80.0 * float64(i+1)
			d := (f - fm) / bw
			g += 1 / (1 + d*d) / float64(i+1)
		}
		gains[m] = g
		norm += g
	}
	for m := range gains {
		gains[m] /= norm
	}
}

// pause reports whether syllable cell is silent: the first (and any before
// the talk) is, then about one in five but never two in a row.
func (v Voice) pause(cell int64) bool {
	return cell <= 0 || cell > 1 && v.hash(cell)%pauseOneIn == 0 && v.hash(cell-1)%pauseOneIn != 0
}

// rampSamples is the length of a word's fade in or out: 40 ms.
const rampSamples = SampleRate / 25

// ramp rises from 0 to 1 over rampSamples as a raised cosine.
func ramp(k int64) float64 {
	if k >= rampSamples {
		return 1
	}
	s := math.Sin(math.Pi / 2 * float64(k) / rampSamples)
	return s * s
}

// hash draws the random choices of syllable cell.
func (v Voice) hash(cell int64) uint64 { return mix64(v.Seed ^ uint64(cell)*0x9e3779b97f4a7c15) }

func clampAmplitude(a float64) float64 { return math.Max(0, math.Min(1, a)) }

// mix64 is SplitMix64's finaliser: a cheap, well-spread hash.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
