package waveform

import (
	"cmp"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"slices"
	"strconv"
	"time"
)

// Layout in pixels.
const (
	marginLeft     = 48 // amplitude labels
	marginRight    = 16
	marginTop      = 52 // title row, then the span label lane
	marginBottom   = 40 // time ticks, labels and caption
	panelGap       = 10
	minPlotWidth   = 100
	minPanelHeight = 40
	tickSpacing    = 80 // minimum pixels between time labels
)

// Render draws a as described by opts and writes it to w as a PNG.
func Render(w io.Writer, a Audio, opts Options) error {
	img, err := Draw(a, opts)
	if err != nil {
		return err
	}
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("waveform: encode png: %w", err)
	}
	return nil
}

// Draw draws a as described by opts and returns the picture; [Render]
// encodes it as a PNG.
func Draw(a Audio, opts Options) (*image.Paletted, error) {
	if err := a.validate(); err != nil {
		return nil, err
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	n := len(a.Channels)
	w := cmp.Or(opts.Width, DefaultWidth)
	h := cmp.Or(opts.Height, DefaultChannelHeight*n)
	pw := w - marginLeft - marginRight
	if pw < minPlotWidth {
		return nil, &OptionsError{Field: "Width", Reason: fmt.Sprintf("%d leaves a plot narrower than %d pixels", w, minPlotWidth)}
	}
	ph := (h - marginTop - marginBottom - panelGap*(n-1)) / n
	if ph < minPanelHeight {
		return nil, &OptionsError{Field: "Height", Reason: fmt.Sprintf("%d leaves panels lower than %d pixels for %d channels", h, minPanelHeight, n)}
	}
	p := &plot{cv: newCanvas(w, h, n), a: a, opts: &opts, frames: a.Frames(), dur: a.Duration(),
		x0: marginLeft, x1: marginLeft + pw}
	for ch := range n {
		y := marginTop + ch*(ph+panelGap)
		p.panels = append(p.panels, image.Rect(p.x0, y, p.x1, y+ph))
	}
	p.draw()
	return p.cv.img, nil
}

// plot draws one picture.
type plot struct {
	cv     *canvas
	a      Audio
	opts   *Options
	frames int
	dur    time.Duration
	x0, x1 int // plot columns [x0, x1), shared by all panels
	panels []image.Rectangle
	spans  []Span // the visible part of opts.Spans
}

// x returns the column of time t, clamped to [x0, x1].
func (p *plot) x(t time.Duration) int {
	if p.dur <= 0 {
		return p.x0
	}
	t = min(max(t, 0), p.dur)
	return p.x0 + int(int64(t)*int64(p.x1-p.x0)/int64(p.dur))
}

// columns returns the columns [xs, xe) of span s, at least one wide.
func (p *plot) columns(s Span) (xs, xe int) {
	xs = p.x(s.Start)
	return xs, min(max(p.x(s.End), xs+1), p.x1)
}

func (p *plot) draw() {
	cv := p.cv
	cv.fill(cv.img.Rect, cBackground)
	for _, s := range p.opts.Spans {
		if s.Start < p.dur {
			p.spans = append(p.spans, s)
		}
	}
	step := tickStep(p.dur, (p.x1-p.x0)/tickSpacing)
	p.header()
	for ch, r := range p.panels {
		p.panel(ch, r, step)
	}
	p.timeAxis(step)
}

// header writes the title, the recording's format, the legend and the span
// labels above the first panel.
func (p *plot) header() {
	cv := p.cv
	const base = 20
	// Legend, right-aligned to the plot.
	var kinds []SpanKind
	for _, k := range []SpanKind{Guidance, Pause} {
		if slices.ContainsFunc(p.spans, func(s Span) bool { return s.Kind == k }) {
			kinds = append(kinds, k)
		}
	}
	lx := p.x1
	for _, k := range slices.Backward(kinds) {
		lx -= cv.textWidth(k.String())
		cv.text(lx, base, k.String(), cText)
		lx -= 22
		p.band(k, image.Rect(lx, base-10, lx+16, base))
		lx -= 14
	}
	// Title and format, shortened to the room left of the legend.
	layout := "mono"
	if n := len(p.a.Channels); n == 2 {
		layout = "stereo"
	} else if n > 2 {
		layout = strconv.Itoa(n) + " channels"
	}
	dec := 2
	if p.dur < time.Second {
		dec = 3
	}
	info := fmt.Sprintf("%d Hz, %s, %s s", p.a.SampleRate, layout, strconv.FormatFloat(p.dur.Seconds(), 'f', dec, 64))
	room := lx - 16 - 12
	if p.opts.Title == "" {
		cv.text(12, base, cv.fit(info, room), cMuted)
	} else if t := cv.fit(p.opts.Title, room-cv.textWidth(info)-16); len(t) > 8 { // enough title left to read
		cv.text(cv.text(12, base, t, cText)+16, base, info, cMuted)
	} else {
		cv.text(12, base, cv.fit(p.opts.Title, room), cText)
	}
	// Span bars and labels, left to right, skipping labels that would overlap.
	lane := slices.SortedStableFunc(slices.Values(p.spans), func(a, b Span) int { return cmp.Compare(a.Start, b.Start) })
	free := 0
	for _, s := range lane {
		xs, xe := p.columns(s)
		bar, txt := cGuidanceEdge, cGuidanceText
		if s.Kind == Pause {
			bar, txt = cPauseHatch, cMuted
		}
		cv.fill(image.Rect(xs, marginTop-4, xe, marginTop-1), bar)
		if s.Label == "" {
			continue
		}
		lw := cv.textWidth(s.Label)
		if lx := min(xs, p.x1-lw); lx >= free {
			free = cv.text(lx, marginTop-8, s.Label, txt) + 8
		}
	}
}

// band fills r with the mark of kind k.
func (p *plot) band(k SpanKind, r image.Rectangle) {
	cv := p.cv
	if k == Guidance {
		cv.fill(r, cGuidance)
		cv.vline(r.Min.X, r.Min.Y, r.Max.Y, cGuidanceEdge)
		cv.vline(r.Max.X-1, r.Min.Y, r.Max.Y, cGuidanceEdge)
		return
	}
	r = r.Intersect(cv.img.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := cPause
			if (x+y)%6 == 0 {
				c = cPauseHatch
			}
			cv.img.Pix[cv.img.PixOffset(x, y)] = c
		}
	}
}

// panel draws channel ch into r: marks, grid, envelope, zero line, frame,
// amplitude labels and the channel's name.
func (p *plot) panel(ch int, r image.Rectangle, step time.Duration) {
	cv := p.cv
	cv.fill(r, cPlot)
	for _, s := range p.spans {
		xs, xe := p.columns(s)
		p.band(s.Kind, image.Rect(xs, r.Min.Y, xe, r.Max.Y))
	}
	mid := r.Min.Y + (r.Dy()-1)/2 // the zero row; +1.0 is r.Min.Y
	half := mid - r.Min.Y
	for t := step; t < p.dur && p.x(t) < p.x1-1; t += step {
		cv.vline(p.x(t), r.Min.Y, r.Max.Y, cGrid)
	}
	for x := p.x0; x < p.x1; x += 8 { // dashed ±0.5
		cv.hline(x, min(x+4, p.x1), mid-half/2, cGrid)
		cv.hline(x, min(x+4, p.x1), mid+half/2, cGrid)
	}

	// Envelope: per column the min/max of its samples (joined to the
	// previous column's last sample) in the peak colour, ±RMS inside it
	// when columns hold enough samples for an RMS to mean something.
	y := func(v int) int { return mid - v*half/32768 }
	s, n, pw := p.a.Channels[ch], int64(p.frames), int64(p.x1-p.x0)
	withRMS := n >= 4*pw
	for i := range pw {
		lo, hi := int(i*n/pw), int((i+1)*n/pw)
		hi = min(max(hi, lo+1), len(s))
		if lo >= hi {
			break
		}
		mn, mx, sq := s[lo], s[lo], int64(0)
		for _, v := range s[lo:hi] {
			mn, mx = min(mn, v), max(mx, v)
			sq += int64(v) * int64(v)
		}
		if lo > 0 {
			mn, mx = min(mn, s[lo-1]), max(mx, s[lo-1])
		}
		x := p.x0 + int(i)
		top, bot := y(int(mx)), y(int(mn))
		cv.vline(x, top, bot+1, peak(ch))
		rv := int(math.Sqrt(float64(sq) / float64(hi-lo)))
		if rt, rb := max(y(rv), top), min(y(-rv), bot); withRMS && rt <= rb {
			cv.vline(x, rt, rb+1, rms(ch))
		}
	}
	cv.hline(p.x0, p.x1, mid, cZero)
	cv.frame(r, cAxis)
	if p.frames == 0 {
		const msg = "no audio"
		cv.text((p.x0+p.x1-cv.textWidth(msg))/2, mid-6, msg, cMuted)
	}

	for _, l := range []struct {
		y, base int
		s       string
	}{{r.Min.Y, r.Min.Y + 9, "+1.0"}, {mid, mid + 4, "0.0"}, {r.Max.Y - 1, r.Max.Y - 1, "-1.0"}} {
		cv.hline(p.x0-4, p.x0, l.y, cAxis)
		cv.text(p.x0-7-cv.textWidth(l.s), l.base, l.s, cMuted)
	}

	name := p.opts.label(ch, len(p.panels))
	tag := image.Rectangle{Min: image.Pt(p.x0+6, r.Min.Y+6)}
	tag.Max = tag.Min.Add(image.Pt(22+cv.textWidth(name), 17))
	cv.fill(tag, cBackground)
	cv.frame(tag, cGrid)
	cv.fill(image.Rect(tag.Min.X+5, tag.Min.Y+5, tag.Min.X+12, tag.Min.Y+12), peak(ch))
	cv.text(tag.Min.X+17, tag.Min.Y+13, name, cText)
}

// timeAxis draws the ticks, labels and caption below the last panel.
func (p *plot) timeAxis(step time.Duration) {
	cv := p.cv
	y := p.panels[len(p.panels)-1].Max.Y
	for t := time.Duration(0); t <= p.dur; t += step {
		x := p.x(t)
		cv.vline(x, y, y+5, cAxis)
		l := tickLabel(t, step)
		lw := cv.textWidth(l)
		cv.text(min(max(x-lw/2, 0), cv.img.Rect.Dx()-lw), y+18, l, cMuted)
	}
	const caption = "time (s)"
	cv.text((p.x0+p.x1-cv.textWidth(caption))/2, y+34, caption, cMuted)
}
