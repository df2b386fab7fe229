package waveform

import (
	"bytes"
	"image"
	"image/png"
	"math"
	"os"
	"testing"
	"time"

	"github.com/go-audio/audio"
	"github.com/go-audio/wav"
	"github.com/stretchr/testify/require"
)

const rate = 8000

// tone returns d of silence with a 440 Hz tone of amplitude amp (of full
// scale) in [from, to).
func tone(d, from, to time.Duration, amp float64) []int16 {
	s := make([]int16, int(d.Seconds()*rate))
	for i := int(from.Seconds() * rate); i < int(to.Seconds()*rate) && i < len(s); i++ {
		s[i] = int16(amp * 32767 * math.Sin(2*math.Pi*440*float64(i)/rate))
	}
	return s
}

// render renders a and decodes the PNG.
func render(t testing.TB, a Audio, opts Options) *image.Paletted {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, Render(&buf, a, opts))
	img, err := png.Decode(&buf)
	require.NoError(t, err)
	p, ok := img.(*image.Paletted)
	require.True(t, ok, "decoded %T, want *image.Paletted", img)
	return p
}

// testPalette holds every colour the pictures may use.
var testPalette = newPalette(MaxChannels)

// is reports whether the pixel at (x, y) has palette colour c.
func is(img *image.Paletted, x, y int, c uint8) bool {
	return img.At(x, y) == testPalette[c]
}

// geometry is the plot area found in a picture by its frame colour alone,
// independently of the layout code: the plot's outer columns and each
// panel's top and bottom frame rows.
type geometry struct {
	left, right int      // frame columns
	rows        [][2]int // per panel: top and bottom frame rows
}

func findGeometry(t testing.TB, img *image.Paletted, panels int) geometry {
	t.Helper()
	var g geometry
	b := img.Bounds()
	y := marginTop + 30 // inside the first panel, clear of its labels
	g.left, g.right = -1, -1
	for x := b.Min.X; x < b.Max.X; x++ {
		if is(img, x, y, cAxis) {
			if g.left < 0 {
				g.left = x
			}
			g.right = x
		}
	}
	require.Greater(t, g.right-g.left, minPlotWidth, "plot frame not found on row %d", y)
	x := (g.left + g.right) / 2
	var starts []int
	for y := b.Min.Y; y < b.Max.Y; y++ {
		if is(img, x, y, cAxis) && !is(img, x, y-1, cAxis) {
			starts = append(starts, y)
		}
	}
	require.GreaterOrEqual(t, len(starts), 2*panels, "frame rows in column %d: %v", x, starts)
	for i := range panels {
		g.rows = append(g.rows, [2]int{starts[2*i], starts[2*i+1]})
	}
	return g
}

// x returns the column of time at in a recording of duration d.
func (g geometry) x(at, d time.Duration) int {
	return g.left + int(float64(g.right+1-g.left)*at.Seconds()/d.Seconds())
}

// mid returns panel p's zero row.
func (g geometry) mid(p int) int { return (g.rows[p][0] + g.rows[p][1]) / 2 }

// writeWAV writes a as a 16-bit PCM WAV file with go-audio/wav.
func writeWAV(t testing.TB, path string, a Audio) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	enc := wav.NewEncoder(f, a.SampleRate, 16, len(a.Channels), 1)
	data := make([]int, 0, a.Frames()*len(a.Channels))
	for i := range a.Frames() {
		for _, c := range a.Channels {
			data = append(data, int(c[i]))
		}
	}
	require.NoError(t, enc.Write(&audio.IntBuffer{
		Format:         &audio.Format{NumChannels: len(a.Channels), SampleRate: a.SampleRate},
		Data:           data,
		SourceBitDepth: 16,
	}))
	require.NoError(t, enc.Close())
	require.NoError(t, f.Close())
}
