package archive_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/delivery/archive"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIngestFromHTTPSink: both of HTTPSink's methods store WAV + JSON in
// the DirSink layout (date folders in Asia/Tokyo, named by Call-ID) and
// index them; a redelivery is acknowledged without a second copy.
func TestIngestFromHTTPSink(t *testing.T) {
	for _, method := range []string{http.MethodPut, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			a := newArchive(t)
			deliver(t, a, method, fixtures...)
			ctx := context.Background()
			n, err := a.Store().Count(ctx)
			require.NoError(t, err)
			assert.Equal(t, 3, n)

			r, err := a.Store().Get(ctx, "r3", nil)
			require.NoError(t, err)
			assert.Equal(t, "2026/11/24/call-r3@pbx.wav", r.AudioPath, "00:30 JST is the 24th in Tokyo")
			assert.True(t, exists(t, a.AudioFile(r)))
			assert.True(t, exists(t, a.AudioFile(r)[:len(a.AudioFile(r))-4]+".json"))
			assert.False(t, r.Verified.IsZero())
			require.NoError(t, a.Verify(ctx, r))

			// Redelivery: acknowledged, nothing new on disk.
			deliver(t, a, method, fixtures[2])
			n, err = a.Store().Count(ctx)
			require.NoError(t, err)
			assert.Equal(t, 3, n)
			ents, err := os.ReadDir(filepath.Dir(a.AudioFile(r)))
			require.NoError(t, err)
			assert.Len(t, ents, 2, "one WAV and one JSON")
		})
	}
}

// TestIngestRefusesBadUploads: a wrong digest, a missing ID, a sidecar
// before its audio and a missing token are refused with 4xx, and nothing
// is indexed.
func TestIngestRefusesBadUploads(t *testing.T) {
	dir := t.TempDir()
	a, err := archive.Open(context.Background(), archive.Config{Dir: dir, BearerToken: "s3cret"})
	require.NoError(t, err)
	defer a.Close()
	srv := httptest.NewServer(a.Ingest())
	defer srv.Close()
	audio := stereoWAV(time.Second, 440, 660)
	good := "0000000000000000000000000000000000000000000000000000000000000000"
	send := func(method, path, id, sum, token string, body []byte) int {
		req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set(delivery.HeaderRecordingID, id)
		req.Header.Set(delivery.HeaderAudioSHA256, sum)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	for name, tc := range map[string]struct {
		method, path, id, sum, token string
		want                         int
	}{
		"no token":        {http.MethodPut, "/x.wav", "x", good, "", http.StatusUnauthorized},
		"wrong token":     {http.MethodPut, "/x.wav", "x", good, "nope", http.StatusUnauthorized},
		"no id":           {http.MethodPut, "/x.wav", "", good, "s3cret", http.StatusBadRequest},
		"bad digest hex":  {http.MethodPut, "/x.wav", "x", "zz", "s3cret", http.StatusBadRequest},
		"digest mismatch": {http.MethodPut, "/x.wav", "x", good, "s3cret", http.StatusUnprocessableEntity},
		"garbage sidecar": {http.MethodPut, "/x.json", "x", good, "s3cret", http.StatusBadRequest},
		"not multipart":   {http.MethodPost, "/", "x", good, "s3cret", http.StatusUnsupportedMediaType},
		"method":          {http.MethodDelete, "/x.wav", "x", good, "s3cret", http.StatusMethodNotAllowed},
	} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, send(tc.method, tc.path, tc.id, tc.sum, tc.token, audio))
		})
	}
	n, err := a.Store().Count(context.Background())
	require.NoError(t, err)
	assert.Zero(t, n)
	// The refused audio is not kept, not even as a temporary file.
	staged, err := os.ReadDir(filepath.Join(dir, ".incoming"))
	require.NoError(t, err)
	assert.Empty(t, staged)
}

// TestRebuildFromDisk: with the database lost, Rebuild indexes the files
// again; Import takes over a tree a DirSink wrote.
func TestRebuildFromDisk(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, err := archive.Open(ctx, archive.Config{Dir: dir})
	require.NoError(t, err)
	deliver(t, a, http.MethodPost, fixtures...)
	require.NoError(t, a.Close())
	require.NoError(t, os.Remove(filepath.Join(dir, ".archive.db")))

	a, err = archive.Open(ctx, archive.Config{Dir: dir})
	require.NoError(t, err)
	defer a.Close()
	n, err := a.Rebuild(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	r, err := a.Store().Get(ctx, "r2", nil)
	require.NoError(t, err)
	assert.Equal(t, "09033334444", r.Caller)
	require.NoError(t, a.Verify(ctx, r))

	// A tree written by DirSink elsewhere is imported into another archive.
	src := t.TempDir()
	ds, err := delivery.NewDirSink(delivery.DirSinkConfig{Dir: src})
	require.NoError(t, err)
	for _, c := range fixtures {
		require.NoError(t, ds.Deliver(ctx, c.item(stereoWAV(c.dur, 300, 500))))
	}
	b := newArchive(t)
	n, err = b.Import(ctx, src)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	r, err = b.Store().Get(ctx, "r1", nil)
	require.NoError(t, err)
	require.NoError(t, b.Verify(ctx, r))
}

// TestSchemaTooNew: a database from a newer archive is refused rather than
// misread.
func TestSchemaTooNew(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "idx.db")
	s, err := archive.OpenStore(ctx, path)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, archive.SetUserVersion(path, archive.SchemaVersion+1))
	_, err = archive.OpenStore(ctx, path)
	require.ErrorIs(t, err, archive.ErrSchemaTooNew)
}
