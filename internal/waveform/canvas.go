package waveform

import (
	"image"
	"image/color"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Palette indices. The picture is an [image.Paletted] with these colours
// only, which keeps the PNG small and every pixel's meaning exact.
const (
	cBackground uint8 = iota
	cPlot
	cGrid
	cAxis
	cText
	cMuted
	cZero
	cGuidance
	cGuidanceEdge
	cGuidanceText
	cPause
	cPauseHatch
	cWave // peak and RMS colours of the channels follow, two per channel
)

// newPalette returns the picture's palette: the fixed colours, then a peak
// and an RMS colour per channel.
func newPalette(channels int) color.Palette {
	p := color.Palette{
		cBackground:   color.RGBA{0xff, 0xff, 0xff, 0xff},
		cPlot:         color.RGBA{0xfa, 0xfb, 0xfc, 0xff},
		cGrid:         color.RGBA{0xe3, 0xe6, 0xea, 0xff},
		cAxis:         color.RGBA{0x8b, 0x92, 0x9c, 0xff},
		cText:         color.RGBA{0x1f, 0x29, 0x37, 0xff},
		cMuted:        color.RGBA{0x5f, 0x66, 0x72, 0xff},
		cZero:         color.RGBA{0xb4, 0xba, 0xc3, 0xff},
		cGuidance:     color.RGBA{0xfd, 0xe6, 0xa8, 0xff},
		cGuidanceEdge: color.RGBA{0xe0, 0x9a, 0x1a, 0xff},
		cGuidanceText: color.RGBA{0x8a, 0x55, 0x0a, 0xff},
		cPause:        color.RGBA{0xee, 0xee, 0xee, 0xff},
		cPauseHatch:   color.RGBA{0xbd, 0xbd, 0xbd, 0xff},
	}
	waves := [...]color.RGBA{ // peak and RMS colours, cycled over the channels
		{0x4c, 0x8b, 0xd6, 0xff}, {0x1f, 0x4e, 0x8c, 0xff}, // blue
		{0x3f, 0xae, 0x7c, 0xff}, {0x1b, 0x6b, 0x4a, 0xff}, // green
		{0x8e, 0x6c, 0xd0, 0xff}, {0x56, 0x3a, 0x94, 0xff}, // violet
		{0xd0, 0x5a, 0x7a, 0xff}, {0x8c, 0x2b, 0x47, 0xff}, // rose
	}
	for ch := range channels {
		i := 2 * (ch % (len(waves) / 2))
		p = append(p, waves[i], waves[i+1])
	}
	return p
}

// peak and rms return the palette indices of channel ch's colours.
func peak(ch int) uint8 { return cWave + uint8(2*ch) }
func rms(ch int) uint8  { return cWave + uint8(2*ch) + 1 }

// canvas draws into a paletted image with palette indices.
type canvas struct {
	img  *image.Paletted
	face *basicfont.Face
}

func newCanvas(w, h, channels int) *canvas {
	return &canvas{
		img:  image.NewPaletted(image.Rect(0, 0, w, h), newPalette(channels)),
		face: basicfont.Face7x13,
	}
}

// fill paints r, clipped to the picture, with colour c.
func (cv *canvas) fill(r image.Rectangle, c uint8) {
	r = r.Intersect(cv.img.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		i := cv.img.PixOffset(r.Min.X, y)
		row := cv.img.Pix[i : i+r.Dx()]
		for j := range row {
			row[j] = c
		}
	}
}

// hline paints [x0, x1) on row y; vline paints [y0, y1) in column x.
func (cv *canvas) hline(x0, x1, y int, c uint8) { cv.fill(image.Rect(x0, y, x1, y+1), c) }
func (cv *canvas) vline(x, y0, y1 int, c uint8) { cv.fill(image.Rect(x, y0, x+1, y1), c) }

// frame paints the one-pixel outline just inside r.
func (cv *canvas) frame(r image.Rectangle, c uint8) {
	cv.hline(r.Min.X, r.Max.X, r.Min.Y, c)
	cv.hline(r.Min.X, r.Max.X, r.Max.Y-1, c)
	cv.vline(r.Min.X, r.Min.Y, r.Max.Y, c)
	cv.vline(r.Max.X-1, r.Min.Y, r.Max.Y, c)
}

// textWidth returns the advance of s in pixels.
func (cv *canvas) textWidth(s string) int { return font.MeasureString(cv.face, s).Ceil() }

// text draws s with its baseline at y starting at x, clipped to the
// picture, and returns the x after it.
func (cv *canvas) text(x, y int, s string, c uint8) int {
	dot := fixed.P(x, y)
	for _, r := range s {
		dr, mask, mp, adv, _ := cv.face.Glyph(dot, r) // unknown runes get U+FFFD
		for gy := dr.Min.Y; gy < dr.Max.Y; gy++ {
			for gx := dr.Min.X; gx < dr.Max.X; gx++ {
				_, _, _, a := mask.At(mp.X+gx-dr.Min.X, mp.Y+gy-dr.Min.Y).RGBA()
				if a >= 0x8000 && (image.Point{gx, gy}).In(cv.img.Rect) {
					cv.img.Pix[cv.img.PixOffset(gx, gy)] = c
				}
			}
		}
		dot.X += adv
	}
	return dot.X.Ceil()
}

// fit shortens s with a trailing "..." so that it is at most w pixels wide.
func (cv *canvas) fit(s string, w int) string {
	if cv.textWidth(s) <= w {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && cv.textWidth(string(r)+"...") > w {
		r = r[:len(r)-1]
	}
	if len(r) == 0 {
		return ""
	}
	return string(r) + "..."
}
