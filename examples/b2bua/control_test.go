package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/dialplan"
	"github.com/callrec/callrec/sipadapter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRecordingControlEndpoints: the on-demand endpoints exist only with a
// token, refuse requests without it, and map the B2BUA's errors.
func TestRecordingControlEndpoints(t *testing.T) {
	dir := t.TempDir()
	sink, err := delivery.NewDirSink(delivery.DirSinkConfig{Dir: filepath.Join(dir, "dest")})
	require.NoError(t, err)
	q, err := delivery.New(delivery.Config{Dir: filepath.Join(dir, "spool"), Sink: sink})
	require.NoError(t, err)
	plan, err := dialplan.New(dialplan.Config{})
	require.NoError(t, err)
	b, err := sipadapter.New(sipadapter.Config{
		Inside: sipadapter.SideConfig{Listen: "127.0.0.1:0", NextHop: "127.0.0.1:9",
			Networks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
		Outside: sipadapter.SideConfig{Listen: "127.0.0.1:0", NextHop: "127.0.0.1:9"},
		Plan:    plan, RecordDir: dir, Delivery: q,
		Lines: sipadapter.LineResolverFunc(func(context.Context, string, netip.AddrPort) (sipadapter.Line, error) {
			return sipadapter.Line{}, sipadapter.ErrUnknownLine
		}),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	a := &app{b2bua: b, health: &health{spoolDir: dir}}

	without := httptest.NewServer(a.recordingControl(a.health.mux(http.NotFoundHandler()), ""))
	defer without.Close()
	res, err := http.Post(without.URL+"/calls/x/recording/start", "", nil)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusNotFound, res.StatusCode, "no token: no endpoint")

	srv := httptest.NewServer(a.recordingControl(a.health.mux(http.NotFoundHandler()), "s3cret"))
	defer srv.Close()
	for _, tc := range []struct {
		auth, path string
		code       int
	}{
		{"", "/calls/abc/recording/start", http.StatusUnauthorized},
		{"Bearer wrong", "/calls/abc/recording/start", http.StatusUnauthorized},
		{"Bearer s3cret", "/calls/abc/recording/start", http.StatusNotFound},
		{"Bearer s3cret", "/calls/abc/recording/stop", http.StatusNotFound},
	} {
		req, err := http.NewRequest(http.MethodPost, srv.URL+tc.path, nil)
		require.NoError(t, err)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		assert.Equal(t, tc.code, res.StatusCode, "%s %s", tc.auth, tc.path)
	}
}
