package archive_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/delivery/archive"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConcurrentIngest: recordings delivered at once (grouped index
// commits, shared directory fsyncs), some sharing a Call-ID on the same
// day, are all filed under distinct names, indexed and verifiable.
func TestConcurrentIngest(t *testing.T) {
	for _, method := range []string{http.MethodPost, http.MethodPut} {
		t.Run(method, func(t *testing.T) { testConcurrentIngest(t, method) })
	}
}

func testConcurrentIngest(t *testing.T, method string) {
	a := newArchive(t)
	srv := httptest.NewServer(a.Ingest())
	defer srv.Close()
	sink, err := delivery.NewHTTPSink(delivery.HTTPSinkConfig{URL: srv.URL, Method: method})
	require.NoError(t, err)
	defer sink.Close()
	const n = 48
	audio := stereoWAV(200*time.Millisecond, 440, 660)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			c := call{fmt.Sprintf("c%03d", i), "0312345678", "09011112222", "0312345678", delivery.Outgoing,
				time.Date(2026, 11, 23, 9, 0, i, 0, jst), 200 * time.Millisecond}
			it := c.item(audio)
			if i%4 == 0 {
				it.Metadata.CallID = "shared@pbx" // a forked call: several recordings, one Call-ID
			}
			errs <- sink.Deliver(context.Background(), it)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	ctx := context.Background()
	p, err := a.Store().Search(ctx, archive.Query{PageSize: 500})
	require.NoError(t, err)
	require.Len(t, p.Recordings, n)
	paths := map[string]bool{}
	for _, r := range p.Recordings {
		assert.False(t, paths[r.AudioPath], "two recordings filed as %s", r.AudioPath)
		paths[r.AudioPath] = true
		require.NoError(t, a.Verify(ctx, r), r.ID)
	}
	dir := a.AudioFile(archive.Recording{}) // the archive's directory
	staged, err := os.ReadDir(filepath.Join(dir, ".incoming"))
	require.NoError(t, err)
	assert.Empty(t, staged, "nothing left in the staging area")
}
