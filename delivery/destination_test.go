package delivery_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/delivery/deliverytest"
	"github.com/callrec/callrec/delivery/receiver"
)

// TestHTTPStatusClassification: only what the server rejects about this
// recording is permanent; what says the destination is wrong is a
// destination failure; transient answers are plainly retryable.
func TestHTTPStatusClassification(t *testing.T) {
	for code, want := range map[int]string{
		400: "permanent", 409: "permanent", 413: "permanent", 415: "permanent", 422: "permanent",
		401: "destination", 403: "destination", 404: "destination", 405: "destination", 407: "destination", 410: "destination",
		408: "retryable", 429: "retryable", 500: "retryable", 502: "retryable", 503: "retryable",
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }))
		sink, err := delivery.NewHTTPSink(delivery.HTTPSinkConfig{URL: srv.URL})
		require.NoError(t, err)
		err = sink.Deliver(deliverCtx(t), deliverytest.NewItem("rec-1", "c", 10))
		require.Error(t, err, "status %d", code)
		got := "retryable"
		switch {
		case delivery.IsPermanent(err):
			got = "permanent"
		case delivery.IsDestination(err):
			got = "destination"
		}
		assert.Equal(t, want, got, "status %d: %v", code, err)
		assert.Equal(t, got != "permanent", errors.Is(err, delivery.ErrRetryable), "status %d", code)
		_ = sink.Close()
		srv.Close()
	}
}

// TestTransportDestinationFailures: a certificate the sink does not trust
// and a host name that does not resolve are destination failures.
func TestTransportDestinationFailures(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	for name, url := range map[string]string{
		"untrusted certificate": srv.URL,
		"unresolvable name":     "http://callrec-test.invalid/rec",
	} {
		sink, err := delivery.NewHTTPSink(delivery.HTTPSinkConfig{URL: url})
		require.NoError(t, err)
		err = sink.Deliver(deliverCtx(t), deliverytest.NewItem("rec-1", "c", 10))
		require.Error(t, err, name)
		assert.True(t, delivery.IsDestination(err), "%s: %v", name, err)
		assert.Error(t, sink.CheckHealth(deliverCtx(t)), name)
		_ = sink.Close()
	}
}

// TestSFTPDestinationFailures: a refused login and a remote directory that
// cannot be created are destination failures, and fail the health check.
func TestSFTPDestinationFailures(t *testing.T) {
	srv := startSFTPServer(t)
	t.Run("RefusedLogin", func(t *testing.T) {
		cfg := srv.sinkConfig(t.TempDir())
		cfg.Auth = []ssh.AuthMethod{ssh.PublicKeys(newSigner(t))}
		sink, err := delivery.NewSFTPSink(cfg)
		require.NoError(t, err)
		defer sink.Close()
		err = sink.Deliver(deliverCtx(t), deliverytest.NewItem("rec-1", "c", 10))
		require.Error(t, err)
		assert.True(t, delivery.IsDestination(err), "%v", err)
		assert.Error(t, sink.CheckHealth(deliverCtx(t)))
	})
	t.Run("MissingDir", func(t *testing.T) {
		// A "directory" that is a file: the remote directory cannot exist.
		base := filepath.Join(t.TempDir(), "file")
		require.NoError(t, os.WriteFile(base, nil, 0o600))
		sink, err := delivery.NewSFTPSink(srv.sinkConfig(filepath.Join(base, "rec")))
		require.NoError(t, err)
		defer sink.Close()
		err = sink.Deliver(deliverCtx(t), deliverytest.NewItem("rec-1", "c", 10))
		require.Error(t, err)
		assert.True(t, delivery.IsDestination(err), "%v", err)
		assert.Error(t, sink.CheckHealth(deliverCtx(t)))
	})
	t.Run("Healthy", func(t *testing.T) {
		sink, err := delivery.NewSFTPSink(srv.sinkConfig(t.TempDir()))
		require.NoError(t, err)
		defer sink.Close()
		require.NoError(t, sink.CheckHealth(deliverCtx(t)))
	})
}

// TestRejectedCredentialsNeverDeadLetter plays a rotated password: the
// receiver answers 401 for a while, then accepts. The circuit opens, the
// destination failures are counted, nothing is dead-lettered, and every
// recording arrives exactly once. (The probe used 30 s; the
// classification does not depend on the length, so 3 s proves the same.)
func TestRejectedCredentialsNeverDeadLetter(t *testing.T) {
	const n = 30
	rcv, srv := newReceiver(t, receiver.Config{Username: "rec", Password: "new"}, nil)
	rcv.SetRejecting(http.StatusUnauthorized, time.Now().Add(3*time.Second))
	sink, err := delivery.NewHTTPSink(delivery.HTTPSinkConfig{URL: srv.URL + "/rec", Username: "rec", Password: "new"})
	require.NoError(t, err)
	defer sink.Close()
	q := newQueue(t, delivery.Config{Sink: sink, Workers: 4,
		Backoff: delivery.Backoff{Base: 20 * time.Millisecond, Cap: 200 * time.Millisecond, MaxAttempts: 3},
		Circuit: delivery.Circuit{Threshold: 5, MinOpen: 100 * time.Millisecond, MaxOpen: time.Second}})
	require.NoError(t, q.Start())
	want := enqueueN(t, q, "auth", n)
	waitFor(t, "the circuit to open on the first 401", 5*time.Second, func() bool { return q.Stats().Circuit != delivery.CircuitClosed })
	st := q.Stats()
	assert.Positive(t, st.DestinationFailures)
	waitFor(t, "all recordings delivered", 20*time.Second, func() bool { return q.Stats().Delivered == n })
	st = q.Stats()
	assert.Zero(t, st.DeadLettered, "a destination failure never dead-letters, whatever MaxAttempts says")
	assert.Zero(t, st.Queued)
	checkReceived(t, rcv, want)
	t.Logf("queue %+v; receiver %+v", st, rcv.Stats())
}

// TestRecordingRejectionDeadLetters: a 422 about one recording
// dead-letters it at once while the others go through.
func TestRecordingRejectionDeadLetters(t *testing.T) {
	bad := ""
	rcv, err := receiver.New(receiver.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(delivery.HeaderRecordingID) == bad {
			http.Error(w, "bad recording", http.StatusUnprocessableEntity)
			return
		}
		rcv.ServeHTTP(w, r)
	}))
	defer srv.Close()
	sink, err := delivery.NewHTTPSink(delivery.HTTPSinkConfig{URL: srv.URL})
	require.NoError(t, err)
	defer sink.Close()
	q := newQueue(t, delivery.Config{Sink: sink, Workers: 1})
	src := t.TempDir()
	p, _ := writeSource(t, src, "bad", 100)
	bad = "20260101T000000.000Z-bad"
	require.NoError(t, q.Enqueue(deliverCtx(t), delivery.Recording{AudioPath: p, Metadata: delivery.Metadata{ID: bad, CallID: "bad"}}))
	want := enqueueN(t, q, "good", 5)
	require.NoError(t, q.Start())
	waitFor(t, "the good ones delivered", 10*time.Second, func() bool { return q.Stats().Delivered == 5 })
	waitFor(t, "the bad one dead-lettered", 10*time.Second, func() bool { return q.Stats().DeadLettered == 1 })
	assert.Zero(t, q.Stats().DestinationFailures)
	checkReceived(t, rcv, want)
}

// TestRecoveryAfterOutageWithinMinOpen: the probe saw a backlog
// drain 45 s after a 61 s outage ended, because failed probes had grown the
// cool-down to MaxOpen (1 min). Here the same relation, scaled to keep the
// test short: MinOpen 250 ms, MaxOpen 8 s, an outage of 8 s, so that the
// cool-down has reached MaxOpen when the receiver returns. The health check
// (OPTIONS, every MinOpen) ends the cool-down: the backlog of 100 drains
// within MinOpen + one attempt + the drain itself, asserted under 2 s
// (a quarter of MaxOpen; the issue asks 5 s of a 1 min MaxOpen).
func TestRecoveryAfterOutageWithinMinOpen(t *testing.T) {
	const n = 100
	rcv, srv := newReceiver(t, receiver.Config{}, nil)
	rcv.SetDown(time.Now().Add(time.Hour))
	sink, err := delivery.NewHTTPSink(delivery.HTTPSinkConfig{URL: srv.URL + "/rec"})
	require.NoError(t, err)
	defer sink.Close()
	q := newQueue(t, delivery.Config{Sink: sink, Workers: 4,
		Backoff: delivery.Backoff{Base: 100 * time.Millisecond, Cap: 8 * time.Second},
		Circuit: delivery.Circuit{Threshold: 5, MinOpen: 250 * time.Millisecond, MaxOpen: 8 * time.Second}})
	require.NoError(t, q.Start())
	want := enqueueN(t, q, "outage", n)
	time.Sleep(8 * time.Second)
	st := q.Stats()
	require.Equal(t, delivery.CircuitOpen, st.Circuit)
	require.Zero(t, st.Delivered)
	back := time.Now()
	rcv.SetDown(time.Time{})
	waitFor(t, "the backlog drained", 10*time.Second, func() bool { return q.Stats().Delivered == n })
	took := time.Since(back)
	t.Logf("backlog of %d drained %v after the receiver came back; health checks %d (%d passed)", n, took, q.Stats().HealthChecks, q.Stats().HealthyChecks)
	assert.Less(t, took, 2*time.Second)
	assert.Positive(t, q.Stats().HealthyChecks)
	checkReceived(t, rcv, want)
}

// enqueueN enqueues n recordings named prefix-i and returns their digests
// by call ID.
func enqueueN(t *testing.T, q *delivery.Queue, prefix string, n int) map[string]string {
	t.Helper()
	src := t.TempDir()
	want := map[string]string{}
	for i := range n {
		callID := fmt.Sprintf("%s-%03d@example.com", prefix, i)
		p, sum := writeSource(t, src, callID, 200+i*3)
		want[callID] = sum
		require.NoError(t, q.Enqueue(deliverCtx(t), delivery.Recording{AudioPath: p, Metadata: delivery.Metadata{CallID: callID}}))
	}
	return want
}

// checkReceived requires the receiver to hold exactly want, once each.
func checkReceived(t *testing.T, rcv *receiver.Receiver, want map[string]string) {
	t.Helper()
	ids, err := rcv.IDs()
	require.NoError(t, err)
	require.Len(t, ids, len(want), "one stored recording per enqueued recording")
	seen := map[string]bool{}
	for _, id := range ids {
		audio, md, err := rcv.Load(id)
		require.NoError(t, err)
		sum := sha256.Sum256(audio)
		require.Equal(t, want[md.CallID], hex.EncodeToString(sum[:]), md.CallID)
		require.False(t, seen[md.CallID], "duplicate %s", md.CallID)
		seen[md.CallID] = true
	}
}
