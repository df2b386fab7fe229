package waveform

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// column reports whether any pixel of column x in rows [y0, y1) has one of
// the colours cs.
func column(img *image.Paletted, x, y0, y1 int, cs ...uint8) bool {
	for y := y0; y < y1; y++ {
		for _, c := range cs {
			if is(img, x, y, c) {
				return true
			}
		}
	}
	return false
}

func TestRenderStereoTone(t *testing.T) {
	const d = 4 * time.Second
	guide := Span{Start: 500 * time.Millisecond, End: 1500 * time.Millisecond, Label: "announcement", Kind: Guidance}
	a := Audio{SampleRate: rate, Channels: [][]int16{tone(d, time.Second, 3*time.Second, 0.5), tone(d, 0, 0, 0)}}
	img := render(t, a, Options{Title: "tone", Spans: []Span{guide}})

	require.Equal(t, image.Rect(0, 0, DefaultWidth, 2*DefaultChannelHeight), img.Bounds())
	g := findGeometry(t, img, 2)
	left, right := g.rows[0], g.rows[1]
	assert.Less(t, left[1], right[0], "panels overlap")

	// The left envelope is present exactly over 1–3 s (±2 px), and reaches
	// half of full scale.
	x1, x3 := g.x(time.Second, d), g.x(3*time.Second, d)
	top := left[1]
	for x := g.left + 1; x < g.right; x++ {
		wave := column(img, x, left[0]+24, left[1], peak(0), rms(0)) // below the channel tag
		switch {
		case x > x1+2 && x < x3-2:
			require.True(t, wave, "no waveform at x=%d inside the tone", x)
			for y := left[0] + 1; y < left[1]; y++ {
				if is(img, x, y, peak(0)) {
					top = min(top, y)
					break
				}
			}
		case x < x1-2 || x > x3+2:
			require.False(t, wave, "waveform at x=%d outside the tone", x)
			require.True(t, is(img, x, g.mid(0), cZero), "no zero line at x=%d", x)
		}
	}
	half := g.mid(0) - left[0]
	assert.InDelta(t, g.mid(0)-half/2, top, 2, "peak row of a half-scale tone")

	// The right panel shows the zero line and no waveform.
	for x := g.left + 1; x < g.right; x++ {
		require.True(t, is(img, x, g.mid(1), cZero), "no zero line at x=%d", x)
		require.False(t, column(img, x, right[0]+24, right[1], peak(1), rms(1)), "waveform in silence at x=%d", x)
	}

	// The guidance band covers its span in both panels, on a row clear of
	// the waveform and the labels.
	xs, xe := g.x(guide.Start, d), g.x(guide.End, d)
	for _, p := range g.rows {
		y := p[0] + 30
		for x := g.left + 1; x < g.right; x++ {
			band := is(img, x, y, cGuidance) || is(img, x, y, cGuidanceEdge)
			switch {
			case x > xs && x < xe-1:
				require.True(t, band || is(img, x, y, cGrid), "no band at x=%d y=%d", x, y)
			case x < xs-1 || x > xe:
				require.False(t, band, "band at x=%d y=%d outside [%d, %d)", x, y, xs, xe)
			}
		}
	}
}

func TestRenderPause(t *testing.T) {
	const d = 10 * time.Second
	a := Audio{SampleRate: rate, Channels: [][]int16{tone(d, 0, d, 0.2)}}
	pause := Span{Start: 2 * time.Second, End: 4 * time.Second, Kind: Pause}
	img := render(t, a, Options{Spans: []Span{pause}})
	require.Equal(t, image.Rect(0, 0, DefaultWidth, DefaultChannelHeight), img.Bounds())
	g := findGeometry(t, img, 1)
	y := g.rows[0][0] + 30
	xs, xe := g.x(pause.Start, d), g.x(pause.End, d)
	hatch := 0
	for x := g.left + 1; x < g.right; x++ {
		in := is(img, x, y, cPause) || is(img, x, y, cPauseHatch)
		if in && is(img, x, y, cPauseHatch) {
			hatch++
		}
		if x < xs-1 || x > xe {
			require.False(t, in, "pause mark at x=%d", x)
		} else if x > xs && x < xe-1 {
			require.True(t, in || is(img, x, y, cGrid), "no pause mark at x=%d", x)
		}
	}
	assert.InDelta(t, (xe-xs)/6, hatch, 2, "one hatch line every 6 px")
}

func TestRenderEmpty(t *testing.T) {
	for name, a := range map[string]Audio{
		"mono":   {SampleRate: rate, Channels: [][]int16{nil}},
		"stereo": {SampleRate: rate, Channels: [][]int16{{}, {}}},
	} {
		t.Run(name, func(t *testing.T) {
			img := render(t, a, Options{Spans: []Span{{Start: 0, End: time.Second, Kind: Guidance}}})
			n := len(a.Channels)
			require.Equal(t, image.Rect(0, 0, DefaultWidth, n*DefaultChannelHeight), img.Bounds())
			g := findGeometry(t, img, n)
			for p, rows := range g.rows {
				for x := g.left + 1; x < g.right; x++ {
					require.False(t, column(img, x, rows[0]+24, rows[1], peak(p), rms(p), cGuidance), "mark at x=%d", x)
				}
				note := false
				for x := (g.left+g.right)/2 - 20; x < (g.left+g.right)/2+20; x++ {
					note = note || column(img, x, rows[0]+1, rows[1], cMuted)
				}
				assert.True(t, note, "no 'no audio' note")
			}
		})
	}
}

func TestRenderSize(t *testing.T) {
	a := Audio{SampleRate: rate, Channels: [][]int16{tone(time.Second, 0, time.Second, 1), tone(time.Second, 0, 0, 0)}}
	long := Options{Width: 640, Height: 300, Labels: []string{"a"}, Title: strings.Repeat("long title ", 40),
		Spans: []Span{{Start: 0, End: time.Second, Label: "guidance beyond the end", Kind: Guidance}}}
	img := render(t, a, long)
	assert.Equal(t, image.Rect(0, 0, 640, 300), img.Bounds())
	findGeometry(t, img, 2)
}

func TestRenderErrors(t *testing.T) {
	stereo := Audio{SampleRate: rate, Channels: [][]int16{nil, nil}}
	for name, tc := range map[string]struct {
		a     Audio
		opts  Options
		want  error
		field string
	}{
		"zero sample rate":  {a: Audio{Channels: [][]int16{nil}}, want: ErrInvalidAudio},
		"no channels":       {a: Audio{SampleRate: rate}, want: ErrInvalidAudio},
		"too many channels": {a: Audio{SampleRate: rate, Channels: make([][]int16, MaxChannels+1)}, want: ErrInvalidAudio},
		"negative width":    {a: stereo, opts: Options{Width: -1}, want: ErrInvalidOptions, field: "Width"},
		"huge height":       {a: stereo, opts: Options{Height: MaxSize + 1}, want: ErrInvalidOptions, field: "Height"},
		"narrow":            {a: stereo, opts: Options{Width: 150}, want: ErrInvalidOptions, field: "Width"},
		"low":               {a: stereo, opts: Options{Height: 150}, want: ErrInvalidOptions, field: "Height"},
		"end before start": {a: stereo, opts: Options{Spans: []Span{{Start: 2 * time.Second, End: time.Second, Kind: Guidance}}},
			want: ErrInvalidOptions, field: "Spans[0].End"},
		"negative start": {a: stereo, opts: Options{Spans: []Span{{Kind: Pause}, {Start: -1, Kind: Pause}}},
			want: ErrInvalidOptions, field: "Spans[1].Start"},
		"no kind": {a: stereo, opts: Options{Spans: []Span{{End: time.Second}}}, want: ErrInvalidOptions, field: "Spans[0].Kind"},
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Render(&buf, tc.a, tc.opts)
			require.ErrorIs(t, err, tc.want)
			assert.Zero(t, buf.Len(), "output written on error")
			var oe *OptionsError
			if tc.field != "" && assert.ErrorAs(t, err, &oe) {
				assert.Equal(t, tc.field, oe.Field)
			}
		})
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRenderWriteError(t *testing.T) {
	err := Render(failWriter{}, Audio{SampleRate: rate, Channels: [][]int16{nil}}, Options{})
	require.ErrorContains(t, err, "disk full")
}

func TestLabels(t *testing.T) {
	for name, tc := range map[string]struct {
		labels []string
		n      int
		want   []string
	}{
		"mono":    {n: 1, want: []string{"mixed"}},
		"stereo":  {n: 2, want: []string{"caller (L)", "callee (R)"}},
		"three":   {n: 3, want: []string{"channel 1", "channel 2", "channel 3"}},
		"partial": {labels: []string{"", "agent", "extra"}, n: 2, want: []string{"caller (L)", "agent"}},
	} {
		t.Run(name, func(t *testing.T) {
			o := Options{Labels: tc.labels}
			for ch, want := range tc.want {
				assert.Equal(t, want, o.label(ch, tc.n))
			}
		})
	}
}

func TestTicks(t *testing.T) {
	for name, tc := range map[string]struct {
		d     time.Duration
		max   int
		step  time.Duration
		label string // of the second tick
	}{
		"empty":    {d: 0, max: 14, step: time.Millisecond, label: "0.001"},
		"short":    {d: 300 * time.Millisecond, max: 14, step: 50 * time.Millisecond, label: "0.05"},
		"ten":      {d: 10 * time.Second, max: 14, step: time.Second, label: "1"},
		"minute":   {d: time.Minute, max: 14, step: 5 * time.Second, label: "5"},
		"call":     {d: 200 * time.Second, max: 14, step: 15 * time.Second, label: "15"},
		"hour":     {d: time.Hour, max: 14, step: 5 * time.Minute, label: "300"},
		"day":      {d: 24 * time.Hour, max: 14, step: 2 * time.Hour, label: "7200"},
		"one tick": {d: 3 * time.Second, max: 0, step: 2 * time.Second, label: "2"},
	} {
		t.Run(name, func(t *testing.T) {
			step := tickStep(tc.d, tc.max)
			assert.Equal(t, tc.step, step)
			assert.LessOrEqual(t, int(tc.d/step), max(tc.max, 1))
			assert.Equal(t, tc.label, tickLabel(step, step))
			assert.Equal(t, "0", tickLabel(0, step))
		})
	}
}

func FuzzDraw(f *testing.F) {
	f.Add(0, 0, int64(0), int64(time.Second), uint8(Guidance), 100)
	f.Add(300, 200, int64(time.Second), int64(0), uint8(Pause), 0)
	f.Add(-5, 90000, int64(-1), int64(time.Hour), uint8(7), 16000)
	f.Fuzz(func(t *testing.T, w, h int, start, end int64, kind uint8, frames int) {
		w, h, frames = w%2000, h%2000, frames%20000
		a := Audio{SampleRate: rate, Channels: [][]int16{tone(time.Duration(max(frames, 0))*time.Second/rate, 0, time.Hour, 0.9)}}
		opts := Options{Width: w, Height: h, Spans: []Span{{Start: time.Duration(start), End: time.Duration(end), Kind: SpanKind(kind)}}}
		img, err := Draw(a, opts)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidOptions)
			return
		}
		want := image.Rect(0, 0, w, h)
		if w == 0 {
			want.Max.X = DefaultWidth
		}
		if h == 0 {
			want.Max.Y = DefaultChannelHeight
		}
		require.Equal(t, want, img.Bounds())
		for _, c := range img.Pix {
			require.Less(t, int(c), len(img.Palette))
		}
		var buf bytes.Buffer
		require.NoError(t, png.Encode(&buf, img))
	})
}
