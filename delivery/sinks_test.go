package delivery_test

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/delivery/deliverytest"
	"github.com/callrec/callrec/delivery/receiver"
)

func TestDirSinkConformance(t *testing.T) {
	deliverytest.Run(t, func(t *testing.T) (delivery.Sink, deliverytest.Store) {
		dir := t.TempDir()
		sink, err := delivery.NewDirSink(delivery.DirSinkConfig{Dir: dir})
		require.NoError(t, err)
		return sink, deliverytest.DirStore(dir, nil)
	})
}

func TestDirSinkLayout(t *testing.T) {
	dir := t.TempDir()
	jst := time.FixedZone("JST", 9*3600)
	sink, err := delivery.NewDirSink(delivery.DirSinkConfig{Dir: dir, Location: jst})
	require.NoError(t, err)
	item := deliverytest.NewItem("rec-1", "a/b:c@example.com", 100)
	item.Metadata.Start = time.Date(2026, 11, 22, 20, 0, 0, 0, time.UTC) // 23 Nov in Japan
	require.NoError(t, sink.Deliver(deliverCtx(t), item))
	for _, name := range []string{"a_b_c@example.com.wav", "a_b_c@example.com.json"} {
		_, err := os.Stat(filepath.Join(dir, "2026", "11", "23", name))
		assert.NoError(t, err, name)
	}
	ents, err := os.ReadDir(filepath.Join(dir, "2026", "11", "23"))
	require.NoError(t, err)
	assert.Len(t, ents, 2, "no temporary files left behind")
}

// newReceiver starts a receiver behind srv (plain or TLS) and returns it.
func newReceiver(t *testing.T, cfg receiver.Config, tlsCfg func(*tls.Config)) (*receiver.Receiver, *httptest.Server) {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	rcv, err := receiver.New(cfg)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(rcv)
	if tlsCfg != nil {
		srv.TLS = &tls.Config{}
		tlsCfg(srv.TLS)
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return rcv, srv
}

func TestHTTPSinkConformance(t *testing.T) {
	ca := newTestCA(t)
	for _, tc := range []struct {
		name   string
		method string
		tls    bool
		rcv    receiver.Config
		sink   delivery.HTTPSinkConfig
	}{
		{name: "PUT", method: http.MethodPut},
		{name: "POST", method: http.MethodPost},
		{name: "BasicAuth", method: http.MethodPut,
			rcv:  receiver.Config{Username: "rec", Password: "s3cret"},
			sink: delivery.HTTPSinkConfig{Username: "rec", Password: "s3cret"}},
		{name: "BearerPOST", method: http.MethodPost,
			rcv:  receiver.Config{BearerToken: "tok"},
			sink: delivery.HTTPSinkConfig{BearerToken: "tok"}},
		{name: "TLSClientCertPUT", method: http.MethodPut, tls: true},
		{name: "TLSClientCertPOST", method: http.MethodPost, tls: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			deliverytest.Run(t, func(t *testing.T) (delivery.Sink, deliverytest.Store) {
				var tlsSetup func(*tls.Config)
				if tc.tls {
					tlsSetup = ca.requireClientCert
				}
				rcv, srv := newReceiver(t, tc.rcv, tlsSetup)
				cfg := tc.sink
				cfg.URL, cfg.Method = srv.URL+"/upload", tc.method
				if tc.tls {
					dir := t.TempDir()
					caFile := filepath.Join(dir, "ca.pem")
					require.NoError(t, os.WriteFile(caFile, pemCert(srv), 0o600))
					certFile, keyFile := ca.issueClient(t, dir)
					tlsCfg, err := delivery.LoadTLSConfig(caFile, certFile, keyFile)
					require.NoError(t, err)
					cfg.TLS = tlsCfg
				}
				sink, err := delivery.NewHTTPSink(cfg)
				require.NoError(t, err)
				t.Cleanup(func() { sink.Close() })
				return sink, deliverytest.ReceiverStore(rcv)
			})
		})
	}
}

func TestHTTPSinkTLSWithoutClientCertFails(t *testing.T) {
	ca := newTestCA(t)
	rcv, srv := newReceiver(t, receiver.Config{}, ca.requireClientCert)
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	sink, err := delivery.NewHTTPSink(delivery.HTTPSinkConfig{URL: srv.URL, TLS: &tls.Config{RootCAs: pool}})
	require.NoError(t, err)
	defer sink.Close()
	err = sink.Deliver(deliverCtx(t), deliverytest.NewItem("rec-1", "c", 10))
	require.Error(t, err)
	assert.False(t, delivery.IsPermanent(err), "transport errors are retryable: %v", err)
	ids, err := rcv.IDs()
	require.NoError(t, err)
	assert.Empty(t, ids)
}

// TestHTTPSinkWrongCredentialsAreDestinationFailures: wrong credentials
// say the destination's configuration is wrong, not the recording: the
// failure is retryable and marked as a destination failure.
func TestHTTPSinkWrongCredentialsAreDestinationFailures(t *testing.T) {
	_, srv := newReceiver(t, receiver.Config{BearerToken: "right"}, nil)
	sink, err := delivery.NewHTTPSink(delivery.HTTPSinkConfig{URL: srv.URL, BearerToken: "wrong"})
	require.NoError(t, err)
	err = sink.Deliver(deliverCtx(t), deliverytest.NewItem("rec-1", "c", 10))
	var herr *delivery.HTTPError
	require.ErrorAs(t, err, &herr)
	assert.Equal(t, http.StatusUnauthorized, herr.StatusCode)
	assert.False(t, delivery.IsPermanent(err))
	assert.True(t, delivery.IsDestination(err))
}

func TestHTTPSinkClassification(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		retryAfter string
		wantErr    bool
		permanent  bool
		after      time.Duration
	}{
		{name: "200", status: 200},
		{name: "201", status: 201},
		{name: "204", status: 204},
		{name: "400", status: 400, wantErr: true, permanent: true},
		{name: "403", status: 403, wantErr: true},
		{name: "404", status: 404, wantErr: true},
		{name: "413", status: 413, wantErr: true, permanent: true},
		{name: "408", status: 408, wantErr: true},
		{name: "429RetryAfterSeconds", status: 429, retryAfter: "7", wantErr: true, after: 7 * time.Second},
		{name: "500", status: 500, wantErr: true},
		{name: "502", status: 502, wantErr: true},
		{name: "503RetryAfterDate", status: 503, retryAfter: time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat), wantErr: true, after: 90 * time.Second},
		{name: "503RetryAfterJunk", status: 503, retryAfter: "soon", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var idem, sum atomic.Value
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				idem.Store(r.Header.Get(delivery.HeaderIdempotencyKey))
				sum.Store(r.Header.Get(delivery.HeaderAudioSHA256))
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			sink, err := delivery.NewHTTPSink(delivery.HTTPSinkConfig{URL: srv.URL, Method: http.MethodPost})
			require.NoError(t, err)
			item := deliverytest.NewItem("rec-1", "c", 100)
			err = sink.Deliver(deliverCtx(t), item)
			assert.Equal(t, "rec-1", idem.Load())
			assert.Equal(t, item.Metadata.SHA256, sum.Load())
			if !tc.wantErr {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tc.permanent, delivery.IsPermanent(err), "permanent: %v", err)
			assert.Equal(t, !tc.permanent, errors.Is(err, delivery.ErrRetryable))
			var se *delivery.SinkError
			require.ErrorAs(t, err, &se)
			assert.InDelta(t, tc.after.Seconds(), se.RetryAfter.Seconds(), 1.5)
		})
	}
}

func TestHTTPSinkConnectionRefusedIsRetryable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	sink, err := delivery.NewHTTPSink(delivery.HTTPSinkConfig{URL: "http://" + addr})
	require.NoError(t, err)
	err = sink.Deliver(deliverCtx(t), deliverytest.NewItem("rec-1", "c", 100))
	require.Error(t, err)
	assert.False(t, delivery.IsPermanent(err))
}

func TestHTTPSinkConfig(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   delivery.HTTPSinkConfig
		field string
	}{
		{name: "NoURL", cfg: delivery.HTTPSinkConfig{}, field: "URL"},
		{name: "FTP", cfg: delivery.HTTPSinkConfig{URL: "ftp://x/"}, field: "URL"},
		{name: "Method", cfg: delivery.HTTPSinkConfig{URL: "http://x/", Method: "PATCH"}, field: "Method"},
		{name: "TwoAuths", cfg: delivery.HTTPSinkConfig{URL: "http://x/", Username: "u", BearerToken: "t"}, field: "BearerToken"},
		{name: "ClientAndTLS", cfg: delivery.HTTPSinkConfig{URL: "http://x/", Client: http.DefaultClient, TLS: &tls.Config{}}, field: "TLS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := delivery.NewHTTPSink(tc.cfg)
			require.ErrorIs(t, err, delivery.ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.field)
		})
	}
}

func TestSFTPSinkConformance(t *testing.T) {
	srv := startSFTPServer(t)
	deliverytest.Run(t, func(t *testing.T) (delivery.Sink, deliverytest.Store) {
		dir := t.TempDir()
		sink, err := delivery.NewSFTPSink(srv.sinkConfig(dir))
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, sink.Close()) })
		return sink, deliverytest.DirStore(dir, nil)
	})
}

func TestSFTPSinkReconnects(t *testing.T) {
	srv := startSFTPServer(t)
	dir := t.TempDir()
	sink, err := delivery.NewSFTPSink(srv.sinkConfig(dir))
	require.NoError(t, err)
	defer sink.Close()
	require.NoError(t, sink.Deliver(deliverCtx(t), deliverytest.NewItem("rec-1", "c1", 1000)))
	srv.mu.Lock()
	for c := range srv.conns {
		c.Close() // the server drops the connection
	}
	srv.mu.Unlock()
	var err2 error
	for range 3 { // the first attempt may find the dead connection
		if err2 = sink.Deliver(deliverCtx(t), deliverytest.NewItem("rec-2", "c2", 1000)); err2 == nil {
			break
		}
		assert.False(t, delivery.IsPermanent(err2))
	}
	require.NoError(t, err2)
	n, err := deliverytest.DirStore(dir, nil).Count()
	require.NoError(t, err)
	assert.Equal(t, 2, n)
}

func TestSFTPSinkHostKey(t *testing.T) {
	srv := startSFTPServer(t)
	t.Run("InsecureRefused", func(t *testing.T) {
		cfg := srv.sinkConfig(t.TempDir())
		cfg.HostKeyCallback = ssh.InsecureIgnoreHostKey()
		_, err := delivery.NewSFTPSink(cfg)
		require.ErrorIs(t, err, delivery.ErrInsecureHostKey)
	})
	t.Run("Missing", func(t *testing.T) {
		cfg := srv.sinkConfig(t.TempDir())
		cfg.HostKeyCallback = nil
		_, err := delivery.NewSFTPSink(cfg)
		require.ErrorIs(t, err, delivery.ErrInvalidConfig)
		assert.Contains(t, err.Error(), "HostKeyCallback")
	})
	t.Run("Mismatch", func(t *testing.T) {
		dir := t.TempDir()
		cfg := srv.sinkConfig(dir)
		cfg.HostKeyCallback = ssh.FixedHostKey(newSigner(t).PublicKey())
		sink, err := delivery.NewSFTPSink(cfg)
		require.NoError(t, err)
		defer sink.Close()
		err = sink.Deliver(deliverCtx(t), deliverytest.NewItem("rec-1", "c", 10))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "host key")
		n, err := deliverytest.DirStore(dir, nil).Count()
		require.NoError(t, err)
		assert.Zero(t, n)
	})
	t.Run("ClosedSink", func(t *testing.T) {
		sink, err := delivery.NewSFTPSink(srv.sinkConfig(t.TempDir()))
		require.NoError(t, err)
		require.NoError(t, sink.Close())
		require.NoError(t, sink.Close())
		err = sink.Deliver(context.Background(), deliverytest.NewItem("rec-1", "c", 10))
		require.ErrorIs(t, err, delivery.ErrClosed)
	})
}

// pemCert returns the PEM of an httptest TLS server's certificate.
func pemCert(srv *httptest.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}

func TestHTTPSinkPUTRequests(t *testing.T) {
	type request struct{ method, path, key, contentType, auth, tenant string }
	var (
		mu      sync.Mutex
		got     []request
		lengths []int64
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, request{r.Method, r.URL.Path, r.Header.Get(delivery.HeaderIdempotencyKey), r.Header.Get("Content-Type"), r.Header.Get("Authorization"), r.Header.Get("X-Tenant")})
		lengths = append(lengths, r.ContentLength)
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	sink, err := delivery.NewHTTPSink(delivery.HTTPSinkConfig{URL: srv.URL + "/up", Username: "u", Password: "p",
		Header: http.Header{"X-Tenant": {"acme"}}})
	require.NoError(t, err)
	item := deliverytest.NewItem("rec-1", "call-1", 1234)
	require.NoError(t, sink.Deliver(deliverCtx(t), item))
	meta, err := item.MetadataJSON()
	require.NoError(t, err)
	auth := "Basic dTpw" // base64("u:p")
	assert.Equal(t, []request{
		{http.MethodPut, "/up/2026/11/23/rec-1.wav", "rec-1.audio", "audio/wav", auth, "acme"},
		{http.MethodPut, "/up/2026/11/23/rec-1.json", "rec-1.metadata", "application/json", auth, "acme"},
	}, got, "audio first, then its sidecar")
	assert.Equal(t, []int64{1234, int64(len(meta))}, lengths, "bodies have a known length")
}

// TestHTTPSinkTimeoutIsRetryable delivers to a server that accepts the
// request and never answers: the sink's Timeout ends the attempt with a
// retryable error.
func TestHTTPSinkTimeoutIsRetryable(t *testing.T) {
	for _, method := range []string{http.MethodPut, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				select { // hang: take the upload and never answer
				case <-release:
				case <-r.Context().Done():
				}
			}))
			defer srv.Close()
			defer close(release) // before Close, which waits for the handler
			sink, err := delivery.NewHTTPSink(delivery.HTTPSinkConfig{URL: srv.URL, Method: method, Timeout: 100 * time.Millisecond})
			require.NoError(t, err)
			defer sink.Close()
			start := time.Now()
			err = sink.Deliver(deliverCtx(t), deliverytest.NewItem("rec-1", "c", 1000))
			require.Error(t, err)
			assert.Less(t, time.Since(start), 10*time.Second, "the timeout ended the attempt")
			assert.False(t, delivery.IsPermanent(err), "a timeout is retryable: %v", err)
			assert.ErrorIs(t, err, delivery.ErrRetryable)
			var nerr net.Error
			require.ErrorAs(t, err, &nerr)
			assert.True(t, nerr.Timeout(), "%v", err)
		})
	}
}
