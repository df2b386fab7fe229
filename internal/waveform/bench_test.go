package waveform

import (
	"io"
	"testing"
	"time"
)

// bench returns a minute of 8 kHz stereo with overlapping tones, a
// guidance span and a pause.
func bench() (Audio, Options) {
	const d = time.Minute
	return Audio{SampleRate: rate, Channels: [][]int16{
			tone(d, 0, 40*time.Second, 0.7),
			tone(d, 20*time.Second, d, 0.4),
		}}, Options{Title: "benchmark", Spans: []Span{
			{Start: 0, End: 4 * time.Second, Label: "announcement", Kind: Guidance},
			{Start: 30 * time.Second, End: 35 * time.Second, Label: "hold", Kind: Pause},
		}}
}

// BenchmarkRender draws and encodes 60 s of stereo audio.
func BenchmarkRender(b *testing.B) {
	a, opts := bench()
	b.ReportAllocs()
	for b.Loop() {
		if err := Render(io.Discard, a, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDraw draws 60 s of stereo audio without encoding the PNG.
func BenchmarkDraw(b *testing.B) {
	a, opts := bench()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Draw(a, opts); err != nil {
			b.Fatal(err)
		}
	}
}
