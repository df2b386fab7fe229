package archive_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/delivery/archive"
)

// countHandler counts the log records with one message.
type countHandler struct {
	msg string
	n   *atomic.Int64
}

func (h countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.n.Add(1)
	}
	return nil
}
func (h countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countHandler) WithGroup(string) slog.Handler      { return h }

// TestWaveformDrawnOnce: a recording's waveform is drawn once, even for
// views at the same time, then served from the cache (still there with
// the audio gone); deleting the recording removes it.
func TestWaveformDrawnOnce(t *testing.T) {
	var drawn atomic.Int64
	dir := filepath.Join(t.TempDir(), "rec")
	a, err := archive.Open(context.Background(), archive.Config{Dir: dir,
		Logger: slog.New(countHandler{msg: "waveform drawn", n: &drawn})})
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	deliver(t, a, http.MethodPost, fixtures...)
	r1 := mustGet(t, a, "r1")

	const views = 8
	pngs := make([][]byte, views)
	var wg sync.WaitGroup
	for i := range views {
		wg.Go(func() {
			png, err := a.WaveformPNG(r1)
			assert.NoError(t, err)
			pngs[i] = png
		})
	}
	wg.Wait()
	require.True(t, bytes.HasPrefix(pngs[0], []byte("\x89PNG\r\n\x1a\n")), "a PNG")
	for _, png := range pngs[1:] {
		assert.Equal(t, pngs[0], png)
	}
	assert.Equal(t, int64(1), drawn.Load(), "drawn once for %d views at the same time", views)

	require.NoError(t, os.Remove(a.AudioFile(r1)))
	png, err := a.WaveformPNG(r1)
	require.NoError(t, err, "served from the cache, without reading the audio")
	assert.Equal(t, pngs[0], png)
	assert.Equal(t, int64(1), drawn.Load())

	png, err = a.WaveformPNG(mustGet(t, a, "r2"))
	require.NoError(t, err)
	assert.NotEqual(t, pngs[0], png, "each recording its own image")
	assert.Equal(t, int64(2), drawn.Load())

	cached, err := filepath.Glob(filepath.Join(dir, ".waveforms", "r1-*.png"))
	require.NoError(t, err)
	require.Len(t, cached, 1)
	require.NoError(t, a.Delete(context.Background(), "r1", "admin", "127.0.0.1", "test"))
	_, err = os.Stat(cached[0])
	assert.ErrorIs(t, err, os.ErrNotExist, "the cached waveform goes with the recording")

	n, err := a.Rebuild(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 2, n, "the cache is not taken for recordings")
}
