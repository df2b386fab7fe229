package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/callrec/callrec/internal/durable"
	"github.com/callrec/callrec/internal/waveform"
)

// waveformDir holds the rendered waveforms, one PNG a recording: the
// audio never changes once filed, so each is drawn once, on its first
// view, rather than decoding the whole recording on every page view.
const waveformDir = ".waveforms"

// waveformVersion is part of the cached file's name; raise it when the
// drawing changes, so that the old images are drawn again.
const waveformVersion = 1

// waveforms lets one request draw a recording's waveform while the
// others asking for it at the same time wait for the file.
type waveforms struct {
	mu      sync.Mutex
	drawing map[string]chan struct{}
}

// waveformPath returns where r's waveform is cached. The digest in the
// name keeps a recording filed again under the same ID (after a
// deletion) from showing the old image.
func (a *Archive) waveformPath(r Recording) string {
	sum := r.SHA256
	if len(sum) > 16 {
		sum = sum[:16]
	}
	return filepath.Join(a.cfg.Dir, waveformDir, fmt.Sprintf("%s-%s-v%d.png", r.ID, sum, waveformVersion))
}

// WaveformPNG returns the waveform image of r's channels, with the
// announcement marked when the metadata tells where it was. It is drawn
// on the first call and read from the cache in Dir/.waveforms after.
func (a *Archive) WaveformPNG(r Recording) ([]byte, error) {
	name := a.waveformPath(r)
	for {
		png, err := os.ReadFile(name)
		if err == nil {
			return png, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("archive: waveform %s: %w", r.ID, err)
		}
		a.waves.mu.Lock()
		if wait, busy := a.waves.drawing[r.ID]; busy {
			a.waves.mu.Unlock()
			<-wait
			continue
		}
		if a.waves.drawing == nil {
			a.waves.drawing = map[string]chan struct{}{}
		}
		done := make(chan struct{})
		a.waves.drawing[r.ID] = done
		a.waves.mu.Unlock()
		png, err = a.drawWaveform(r, name)
		a.waves.mu.Lock()
		delete(a.waves.drawing, r.ID)
		a.waves.mu.Unlock()
		close(done)
		return png, err
	}
}

// drawWaveform renders r's waveform and caches it at name. A failure to
// cache is logged, not returned: the image is still good to show.
func (a *Archive) drawWaveform(r Recording, name string) ([]byte, error) {
	f, err := os.Open(a.AudioFile(r))
	if err != nil {
		return nil, fmt.Errorf("archive: waveform %s: %w", r.ID, err)
	}
	defer f.Close()
	opts := waveform.Options{Width: 1000, Height: 120 * max(r.Channels, 1), Title: r.CallID}
	if !r.GuidanceStart.IsZero() && r.Answer.After(r.GuidanceStart) && !r.GuidanceStart.Before(r.Start) {
		opts.Spans = []waveform.Span{{Start: r.GuidanceStart.Sub(r.Start), End: r.Answer.Sub(r.Start),
			Label: "announcement", Kind: waveform.Guidance}}
	}
	var buf bytes.Buffer
	if err := waveform.RenderWAV(&buf, f, opts); err != nil {
		return nil, fmt.Errorf("archive: waveform %s: %w", r.ID, err)
	}
	a.log.Debug("waveform drawn", "id", r.ID)
	if _, err := durable.MkdirAll(a.cfg.Dir, waveformDir); err != nil {
		a.log.Warn("waveform not cached", "id", r.ID, "error", err)
	} else if err := durable.WriteFile(name, buf.Bytes(), 0o600); err != nil {
		a.log.Warn("waveform not cached", "id", r.ID, "error", err)
	}
	return buf.Bytes(), nil
}

// dropWaveform removes r's cached waveform, if any.
func (a *Archive) dropWaveform(r Recording) error {
	if err := os.Remove(a.waveformPath(r)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
