package ingest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/delivery/deliverytest"
	"github.com/callrec/callrec/delivery/internal/ingest"
)

// memStore keeps uploads in memory: what a Store sees of each form.
type memStore struct {
	mu    sync.Mutex
	audio map[string][]byte // staged audio of PUTs, by ID
	done  map[string][]byte // complete recordings' audio, by ID
	meta  map[string]delivery.Metadata
}

func newMemStore() *memStore {
	return &memStore{audio: map[string][]byte{}, done: map[string][]byte{}, meta: map[string]delivery.Metadata{}}
}

func (s *memStore) Audio(_ context.Context, id, sum, _ string, body io.Reader) error {
	var b bytes.Buffer
	if err := ingest.Copy(&b, body, sum); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.audio[id] = b.Bytes()
	return nil
}

func (s *memStore) Metadata(_ context.Context, md delivery.Metadata, raw []byte) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.audio[md.ID]
	if !ok {
		return false, ingest.Refuse(http.StatusConflict, "metadata before audio")
	}
	return s.complete(md, a), nil
}

func (s *memStore) Multipart(_ context.Context, md delivery.Metadata, raw []byte, audio io.Reader) (bool, error) {
	var b bytes.Buffer
	if err := ingest.Copy(&b, audio, md.SHA256); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.complete(md, b.Bytes()), nil
}

func (s *memStore) complete(md delivery.Metadata, audio []byte) bool {
	_, had := s.done[md.ID]
	s.done[md.ID], s.meta[md.ID] = audio, md
	return !had
}

// server serves uploads into st as the receiver and the archive do.
func server(st ingest.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		id, sum, err := ingest.Headers(req)
		created := false
		if err == nil {
			created, err = ingest.Dispatch(req, id, sum, 1<<20, st)
		}
		ingest.Respond(w, created, err, `Bearer realm="test"`)
	})
}

// TestHTTPSinkForms: both forms delivery.HTTPSink sends, over loopback,
// reach the Store checked and complete; a redelivery is not new.
func TestHTTPSinkForms(t *testing.T) {
	for _, method := range []string{http.MethodPut, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			st := newMemStore()
			srv := httptest.NewServer(server(st))
			defer srv.Close()
			sink, err := delivery.NewHTTPSink(delivery.HTTPSinkConfig{URL: srv.URL, Method: method})
			require.NoError(t, err)
			defer sink.Close()
			item := deliverytest.NewItem("rec-1", "call-1@pbx", 5000)
			require.NoError(t, sink.Deliver(context.Background(), item))
			require.NoError(t, sink.Deliver(context.Background(), item))
			assert.Equal(t, deliverytest.Audio("rec-1", 5000), st.done["rec-1"])
			assert.Equal(t, "rec-1", st.meta["rec-1"].ID)
			assert.Equal(t, strings.ToLower(item.Metadata.SHA256), st.meta["rec-1"].SHA256)
		})
	}
}

// TestRefusals: each malformed upload gets its status, and a Store error
// that is not an *Error is the server's (500, its text not sent).
func TestRefusals(t *testing.T) {
	audio := []byte("RIFF audio")
	s := sha256.Sum256(audio)
	good := hex.EncodeToString(s[:])
	meta := `{"id":"rec-1","sha256":"` + strings.ToUpper(good) + `","size":10,"audio_ext":".wav"}`
	for _, tc := range []struct {
		name, method, path, ctype, id, sum, body string
		want                                     int
	}{
		{name: "Audio", method: http.MethodPut, path: "/a/c.wav", id: "rec-1", sum: good, body: string(audio), want: http.StatusOK},
		{name: "MetadataFirst", method: http.MethodPut, path: "/a/c.json", id: "rec-1", sum: good, body: meta, want: http.StatusConflict},
		{name: "WrongDigest", method: http.MethodPut, path: "/a/c.wav", id: "rec-1", sum: strings.Repeat("0", 64), body: string(audio), want: http.StatusUnprocessableEntity},
		{name: "NoID", method: http.MethodPut, path: "/a/c.wav", sum: good, body: string(audio), want: http.StatusBadRequest},
		{name: "UnsafeID", method: http.MethodPut, path: "/a/c.wav", id: "../x", sum: good, want: http.StatusBadRequest},
		{name: "NoDigest", method: http.MethodPut, path: "/a/c.wav", id: "rec-1", want: http.StatusBadRequest},
		{name: "DigestNotHex", method: http.MethodPut, path: "/a/c.wav", id: "rec-1", sum: strings.Repeat("z", 64), want: http.StatusBadRequest},
		{name: "NoExtension", method: http.MethodPut, path: "/a/c", id: "rec-1", sum: good, want: http.StatusBadRequest},
		{name: "MetadataMismatch", method: http.MethodPut, path: "/a/c.json", id: "rec-2", sum: good, body: meta, want: http.StatusUnprocessableEntity},
		{name: "MetadataGarbage", method: http.MethodPut, path: "/a/c.json", id: "rec-1", sum: good, body: "{", want: http.StatusBadRequest},
		{name: "NotMultipart", method: http.MethodPost, path: "/", id: "rec-1", sum: good, body: meta, want: http.StatusUnsupportedMediaType},
		{name: "PartsSwapped", method: http.MethodPost, path: "/", ctype: "multipart/form-data; boundary=b", id: "rec-1", sum: good,
			body: "--b\r\nContent-Disposition: form-data; name=\"audio\"\r\n\r\nRIFF audio\r\n--b--\r\n", want: http.StatusBadRequest},
		{name: "Delete", method: http.MethodDelete, path: "/", id: "rec-1", sum: good, want: http.StatusMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newMemStore()
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			req.Header.Set(delivery.HeaderRecordingID, tc.id)
			req.Header.Set(delivery.HeaderAudioSHA256, tc.sum)
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			w := httptest.NewRecorder()
			server(st).ServeHTTP(w, req)
			assert.Equal(t, tc.want, w.Code, w.Body.String())
			assert.Empty(t, st.done, "nothing complete from a single request")
		})
	}

	w := httptest.NewRecorder()
	ingest.Respond(w, false, ingest.Refuse(http.StatusUnauthorized, "unauthorized"), `Basic realm="x"`)
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.Equal(t, `Basic realm="x"`, w.Header().Get("WWW-Authenticate"))

	w = httptest.NewRecorder()
	ingest.Respond(w, true, errors.New("open /secret/path: no space left on device"), "")
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.NotContains(t, w.Body.String(), "secret")
}

// fullDisk accepts limit bytes, then fails as a full disk does.
type fullDisk struct{ limit int }

func (d *fullDisk) Write(p []byte) (int, error) {
	if len(p) > d.limit {
		n := d.limit
		d.limit = 0
		return n, syscall.ENOSPC
	}
	d.limit -= len(p)
	return len(p), nil
}

// TestCopyBlamesTheRightSide: a disk that fills mid-upload is this
// server's failure (500: the sender retries), a body that breaks off is
// the client's (400), a digest that differs is refused (422).
func TestCopyBlamesTheRightSide(t *testing.T) {
	body := strings.Repeat("x", 100)
	s := sha256.Sum256([]byte(body))
	sum := hex.EncodeToString(s[:])

	err := ingest.Copy(&fullDisk{limit: 10}, strings.NewReader(body), sum)
	require.ErrorIs(t, err, syscall.ENOSPC)
	var ie *ingest.Error
	assert.False(t, errors.As(err, &ie), "a full disk must not answer 4xx: %v", err)

	broken := io.MultiReader(strings.NewReader("RIFF"), iotest.ErrReader(io.ErrUnexpectedEOF))
	err = ingest.Copy(io.Discard, broken, sum)
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, http.StatusBadRequest, ie.Code)

	err = ingest.Copy(io.Discard, strings.NewReader(body+"y"), sum)
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, http.StatusUnprocessableEntity, ie.Code)

	var got bytes.Buffer
	require.NoError(t, ingest.Copy(&got, strings.NewReader(body), sum))
	assert.Equal(t, body, got.String())
}
