package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHealthProbes(t *testing.T) {
	spool := t.TempDir()
	tests := map[string]struct {
		serving, draining bool
		spool             string
		code              int
		want              readiness
	}{
		"ready":       {serving: true, spool: spool, code: http.StatusOK, want: readiness{Ready: true, SIP: true, Spool: true}},
		"not serving": {spool: spool, code: http.StatusServiceUnavailable, want: readiness{Spool: true}},
		"draining": {serving: true, draining: true, spool: spool, code: http.StatusServiceUnavailable,
			want: readiness{SIP: true, Spool: true, Draining: true}},
		"spool missing": {serving: true, spool: filepath.Join(spool, "absent"), code: http.StatusServiceUnavailable,
			want: readiness{SIP: true}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := &health{spoolDir: tc.spool}
			h.serving.Store(tc.serving)
			h.draining.Store(tc.draining)
			mux := h.mux(http.NotFoundHandler())

			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
			assert.Equal(t, http.StatusOK, rec.Code, "healthz answers while the process runs")

			rec = httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			require.Equal(t, tc.code, rec.Code)
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			var got readiness
			require.NoError(t, json.NewDecoder(rec.Body).Decode(&got))
			if !tc.want.Spool {
				assert.Contains(t, got.Error, "spool: ")
				got.Error = ""
			}
			assert.Equal(t, tc.want, got)
		})
	}

	// The probe leaves nothing behind in the spool.
	entries, err := os.ReadDir(spool)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

func TestHealthMethods(t *testing.T) {
	h := &health{spoolDir: t.TempDir()}
	rec := httptest.NewRecorder()
	h.mux(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/readyz", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}
