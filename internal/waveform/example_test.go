package waveform_test

import (
	"bytes"
	"fmt"
	"image/png"
	"log"
	"math"
	"time"

	"github.com/callrec/callrec/internal/waveform"
)

func ExampleRender() {
	// Two seconds of 8 kHz stereo: a tone from the caller, silence from the callee.
	caller, callee := make([]int16, 16000), make([]int16, 16000)
	for i := range caller {
		caller[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	var png1 bytes.Buffer
	err := waveform.Render(&png1, waveform.Audio{SampleRate: 8000, Channels: [][]int16{caller, callee}}, waveform.Options{
		Title: "0077-27-03-1234-5678",
		Spans: []waveform.Span{{Start: 0, End: 1500 * time.Millisecond, Label: "announcement", Kind: waveform.Guidance}},
	})
	if err != nil {
		log.Fatal(err)
	}
	cfg, err := png.DecodeConfig(&png1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%dx%d PNG\n", cfg.Width, cfg.Height)
	// Output: 1200x520 PNG
}
