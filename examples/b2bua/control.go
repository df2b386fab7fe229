package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/callrec/callrec/sipadapter"
)

// recordingStartTimeout bounds a start request, which waits for the
// announcement to play.
const recordingStartTimeout = 30 * time.Second

// recordingControl adds the on-demand recording endpoints to mux when a
// token is configured:
//
//	POST /calls/{call_id}/recording/start
//	POST /calls/{call_id}/recording/stop
//
// Both need "Authorization: Bearer <metrics.token>" and answer 204, 404 for
// an unknown call, 409 for a call that is not on-demand, 503 when
// recording is congested, 401 without the token.
func (a *app) recordingControl(mux *http.ServeMux, token string) *http.ServeMux {
	if token == "" {
		return mux
	}
	handle := func(start bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if !bearerOK(r, token) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="callrec"`)
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), recordingStartTimeout)
			defer cancel()
			callID := r.PathValue("call_id")
			var err error
			if start {
				err = a.b2bua.StartRecording(ctx, callID)
			} else {
				err = a.b2bua.StopRecording(ctx, callID)
			}
			switch {
			case err == nil:
				w.WriteHeader(http.StatusNoContent)
			case errors.Is(err, sipadapter.ErrNoCall):
				writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			case errors.Is(err, sipadapter.ErrNotOnDemand):
				writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
			case errors.Is(err, sipadapter.ErrRecordingCongested):
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			default:
				writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			}
		}
	}
	mux.HandleFunc("POST /calls/{call_id}/recording/start", handle(true))
	mux.HandleFunc("POST /calls/{call_id}/recording/stop", handle(false))
	return mux
}

// bearerOK compares the request's bearer token in constant time.
func bearerOK(r *http.Request, token string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}
