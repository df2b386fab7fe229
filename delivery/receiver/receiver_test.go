package receiver_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/delivery/deliverytest"
	"github.com/callrec/callrec/delivery/receiver"
)

func TestReceiverAnswers(t *testing.T) {
	audio := []byte("RIFF audio")
	sum := sha256.Sum256(audio)
	good := hex.EncodeToString(sum[:])
	meta := fmt.Sprintf(`{"id":"rec-1","sha256":%q,"size":10,"audio_ext":".wav"}`, good)
	for _, tc := range []struct {
		name, method, path, id, sum, body string
		want                              int
	}{
		{name: "Audio", method: http.MethodPut, path: "/a/c.wav", id: "rec-1", sum: good, body: string(audio), want: http.StatusOK},
		{name: "MetadataFirst", method: http.MethodPut, path: "/a/c.json", id: "rec-2", sum: good, body: strings.Replace(meta, "rec-1", "rec-2", 1), want: http.StatusConflict},
		{name: "WrongDigest", method: http.MethodPut, path: "/a/c.wav", id: "rec-3", sum: strings.Repeat("0", 64), body: string(audio), want: http.StatusUnprocessableEntity},
		{name: "NoID", method: http.MethodPut, path: "/a/c.wav", sum: good, body: string(audio), want: http.StatusBadRequest},
		{name: "UnsafeID", method: http.MethodPut, path: "/a/c.wav", id: "../x", sum: good, body: string(audio), want: http.StatusBadRequest},
		{name: "NoDigest", method: http.MethodPut, path: "/a/c.wav", id: "rec-4", body: string(audio), want: http.StatusBadRequest},
		{name: "NoExtension", method: http.MethodPut, path: "/a/c", id: "rec-5", sum: good, body: string(audio), want: http.StatusBadRequest},
		{name: "MetadataMismatch", method: http.MethodPut, path: "/a/c.json", id: "rec-6", sum: good, body: meta, want: http.StatusUnprocessableEntity},
		{name: "NotMultipart", method: http.MethodPost, path: "/", id: "rec-7", sum: good, body: meta, want: http.StatusUnsupportedMediaType},
		{name: "Delete", method: http.MethodDelete, path: "/", id: "rec-8", sum: good, want: http.StatusMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv, err := receiver.New(receiver.Config{Dir: t.TempDir()})
			require.NoError(t, err)
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			if tc.id != "" {
				req.Header.Set(delivery.HeaderRecordingID, tc.id)
			}
			if tc.sum != "" {
				req.Header.Set(delivery.HeaderAudioSHA256, tc.sum)
			}
			w := httptest.NewRecorder()
			rcv.ServeHTTP(w, req)
			assert.Equal(t, tc.want, w.Code, w.Body.String())
			ids, err := rcv.IDs()
			require.NoError(t, err)
			assert.Empty(t, ids, "no complete recording from a single request")
		})
	}
}

func TestReceiverFailureInjection(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	rcv, err := receiver.New(receiver.Config{Dir: t.TempDir(), DownFor: 30 * time.Second, RetryAfter: 2 * time.Second,
		Now: func() time.Time { return now }})
	require.NoError(t, err)
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	sink, err := delivery.NewHTTPSink(delivery.HTTPSinkConfig{URL: srv.URL})
	require.NoError(t, err)
	item := deliverytest.NewItem("rec-1", "c", 100)
	err = sink.Deliver(context.Background(), item)
	var se *delivery.SinkError
	require.ErrorAs(t, err, &se)
	assert.False(t, se.Permanent)
	assert.Equal(t, 2*time.Second, se.RetryAfter)
	now = now.Add(31 * time.Second)
	require.NoError(t, sink.Deliver(context.Background(), item))
	require.NoError(t, sink.Deliver(context.Background(), item))
	assert.Equal(t, receiver.Stats{Stored: 1, Duplicates: 1, Failed: 1}, rcv.Stats())

	flaky, err := receiver.New(receiver.Config{Dir: t.TempDir(), FailRate: 1})
	require.NoError(t, err)
	w := httptest.NewRecorder()
	flaky.ServeHTTP(w, httptest.NewRequest(http.MethodPut, "/x.wav", bytes.NewReader(nil)))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Empty(t, w.Header().Get("Retry-After"))
}

func TestReceiverConfig(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   receiver.Config
		field string
	}{
		{name: "NoDir", cfg: receiver.Config{}, field: "Dir"},
		{name: "FailRate", cfg: receiver.Config{Dir: "x", FailRate: 1.5}, field: "FailRate"},
		{name: "DownFor", cfg: receiver.Config{Dir: "x", DownFor: -time.Second}, field: "DownFor"},
		{name: "MaxBytes", cfg: receiver.Config{Dir: "x", MaxBytes: -1}, field: "MaxBytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := receiver.New(tc.cfg)
			require.ErrorIs(t, err, receiver.ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.field)
		})
	}
}

func TestReceiverLoadUnknown(t *testing.T) {
	rcv, err := receiver.New(receiver.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	for _, id := range []string{"nope", "../etc/passwd"} {
		_, _, err := rcv.Load(id)
		assert.ErrorIs(t, err, receiver.ErrNotFound, id)
	}
}
