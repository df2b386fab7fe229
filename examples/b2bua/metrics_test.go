package main

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/dialplan"
	"github.com/callrec/callrec/sipadapter"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMetricsExposition(t *testing.T) {
	dir := t.TempDir()
	m := newMetrics(
		func() (int, int) { return 3, 2 },
		func() (delivery.DiskSpace, error) { return delivery.DiskSpace{Total: 1 << 30, Free: 123456}, nil },
	)
	for _, e := range []sipadapter.Event{
		{Kind: sipadapter.EventDecided, Decision: &dialplan.Decision{Direction: dialplan.Outgoing, Verdict: dialplan.VerdictRecord}},
		{Kind: sipadapter.EventDecided, Decision: &dialplan.Decision{Direction: dialplan.Outgoing, Verdict: dialplan.VerdictRecord}},
		{Kind: sipadapter.EventDecided, Decision: &dialplan.Decision{Direction: dialplan.Outgoing, Verdict: dialplan.VerdictEmergency}},
		{Kind: sipadapter.EventDecided, Decision: &dialplan.Decision{Direction: dialplan.Incoming, Verdict: dialplan.VerdictConnectUnrecorded}},
		{Kind: sipadapter.EventRinging, Code: 180},
		{Kind: sipadapter.EventEnded, Cause: sipadapter.CauseBye, HungUp: sipadapter.PartyCallee},
		{Kind: sipadapter.EventEnded, Cause: sipadapter.CauseRefused, Code: 403},
	} {
		m.event(e)
	}
	m.deliveryStats(delivery.Stats{
		Queued: 5, InFlight: 1, Enqueued: 7, Delivered: 2, Retried: 3, DeadLettered: 1, Bytes: 4096,
		OldestAge: 90 * time.Second, Circuit: delivery.CircuitHalfOpen,
	})

	// The RTP counters come from the recordings handed to the spool.
	q, err := delivery.New(delivery.Config{Dir: filepath.Join(dir, "spool"), Sink: delivery.SinkFunc(nil)})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, q.Close()) })
	d := countingDelivery{q: q, m: m}
	audio := filepath.Join(dir, "call.wav")
	require.NoError(t, os.WriteFile(audio, []byte("RIFF"), 0o600))
	require.NoError(t, d.Enqueue(t.Context(), delivery.Recording{AudioPath: audio, Metadata: delivery.Metadata{
		CallID:        "c1",
		RecorderStats: []byte(`{"caller":{"Received":1000,"Lost":7},"callee":{"Received":990,"Lost":12},"dtmf":[],"caller_dropped":4,"callee_dropped":0}`),
	}}))
	err = d.Enqueue(t.Context(), delivery.Recording{AudioPath: filepath.Join(dir, "absent.wav")})
	require.ErrorIs(t, err, delivery.ErrInvalidRecording)

	require.NoError(t, testutil.GatherAndCompare(m.reg, strings.NewReader(`
# HELP callrec_calls_total Calls decided by the dial plan, by direction and verdict.
# TYPE callrec_calls_total counter
callrec_calls_total{direction="incoming",verdict="connect-unrecorded"} 1
callrec_calls_total{direction="outgoing",verdict="emergency"} 1
callrec_calls_total{direction="outgoing",verdict="record"} 2
# HELP callrec_calls_ended_total Calls ended, by cause and by who hung up.
# TYPE callrec_calls_ended_total counter
callrec_calls_ended_total{cause="bye",hung_up="callee"} 1
callrec_calls_ended_total{cause="refused",hung_up=""} 1
# HELP callrec_calls_active Calls in progress.
# TYPE callrec_calls_active gauge
callrec_calls_active 3
# HELP callrec_calls_recorded_active Recorded calls in progress.
# TYPE callrec_calls_recorded_active gauge
callrec_calls_recorded_active 2
# HELP callrec_rtp_packets_lost_total RTP packets lost on recorded calls (sequence gaps, RFC 3550 A.3), by party.
# TYPE callrec_rtp_packets_lost_total counter
callrec_rtp_packets_lost_total{party="callee"} 12
callrec_rtp_packets_lost_total{party="caller"} 7
# HELP callrec_rtp_packets_received_total RTP packets received on recorded calls, by party.
# TYPE callrec_rtp_packets_received_total counter
callrec_rtp_packets_received_total{party="callee"} 990
callrec_rtp_packets_received_total{party="caller"} 1000
# HELP callrec_recording_packets_dropped_total RTP packets relayed but lost to the recording because the disk did not keep up (the per-call recording queue was full), by party.
# TYPE callrec_recording_packets_dropped_total counter
callrec_recording_packets_dropped_total{party="callee"} 0
callrec_recording_packets_dropped_total{party="caller"} 4
# HELP callrec_recordings_enqueue_failures_total Recordings the spool refused; each stays in the record directory for the next start.
# TYPE callrec_recordings_enqueue_failures_total counter
callrec_recordings_enqueue_failures_total 1
# HELP callrec_recordings_written_total Recordings written durably into the spool.
# TYPE callrec_recordings_written_total counter
callrec_recordings_written_total 7
# HELP callrec_recordings_delivered_total Recordings a sink accepted.
# TYPE callrec_recordings_delivered_total counter
callrec_recordings_delivered_total 2
# HELP callrec_recordings_dead_lettered_total Recordings moved to the dead-letter directory.
# TYPE callrec_recordings_dead_lettered_total counter
callrec_recordings_dead_lettered_total 1
# HELP callrec_delivery_retries_total Failed delivery attempts that will be retried.
# TYPE callrec_delivery_retries_total counter
callrec_delivery_retries_total 3
# HELP callrec_delivered_bytes_total Audio bytes delivered.
# TYPE callrec_delivered_bytes_total counter
callrec_delivered_bytes_total 4096
# HELP callrec_spool_depth Recordings in the spool awaiting delivery, those in flight included.
# TYPE callrec_spool_depth gauge
callrec_spool_depth 5
# HELP callrec_spool_in_flight Deliveries under way.
# TYPE callrec_spool_in_flight gauge
callrec_spool_in_flight 1
# HELP callrec_spool_oldest_age_seconds How long the oldest recording in the spool has waited; 0 when empty.
# TYPE callrec_spool_oldest_age_seconds gauge
callrec_spool_oldest_age_seconds 90
# HELP callrec_delivery_circuit_state The delivery circuit breaker: 0 closed, 1 open, 2 half-open.
# TYPE callrec_delivery_circuit_state gauge
callrec_delivery_circuit_state 2
# HELP callrec_spool_free_bytes Free space of the spool's file system; NaN when it cannot be read.
# TYPE callrec_spool_free_bytes gauge
callrec_spool_free_bytes 123456
# HELP callrec_draining 1 while the service is shutting down and refusing new calls.
# TYPE callrec_draining gauge
callrec_draining 0
`),
		"callrec_calls_total", "callrec_calls_ended_total", "callrec_calls_active", "callrec_calls_recorded_active",
		"callrec_rtp_packets_lost_total", "callrec_rtp_packets_received_total", "callrec_recording_packets_dropped_total",
		"callrec_recordings_enqueue_failures_total",
		"callrec_recordings_written_total", "callrec_recordings_delivered_total", "callrec_recordings_dead_lettered_total",
		"callrec_delivery_retries_total", "callrec_delivered_bytes_total", "callrec_spool_depth", "callrec_spool_in_flight",
		"callrec_spool_oldest_age_seconds", "callrec_delivery_circuit_state", "callrec_spool_free_bytes", "callrec_draining",
	))

	// The handler serves the same registry, with the Go and process
	// collectors.
	rec := httptest.NewRecorder()
	m.handler(slog.New(slog.DiscardHandler)).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	body := rec.Body.String()
	for _, want := range []string{"callrec_calls_active 3\n", "callrec_spool_depth 5\n", "go_goroutines ", "process_open_fds "} {
		assert.Contains(t, body, want)
	}
}

func TestMetricsSpoolFreeUnreadable(t *testing.T) {
	m := newMetrics(func() (int, int) { return 0, 0 },
		func() (delivery.DiskSpace, error) { return delivery.DiskSpace{}, errors.New("gone") })
	rec := httptest.NewRecorder()
	m.handler(slog.New(slog.DiscardHandler)).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	assert.Contains(t, string(body), "callrec_spool_free_bytes NaN\n")
}

func TestMetricsIgnoreMalformedRecorderStats(t *testing.T) {
	m := newMetrics(func() (int, int) { return 0, 0 }, func() (delivery.DiskSpace, error) { return delivery.DiskSpace{}, nil })
	m.recorded(delivery.Metadata{RecorderStats: []byte(`{"caller":`)})
	m.recorded(delivery.Metadata{})
	assert.Equal(t, 0, testutil.CollectAndCount(m.rtpLost))
}

func BenchmarkMetricsEvent(b *testing.B) {
	m := newMetrics(func() (int, int) { return 0, 0 }, func() (delivery.DiskSpace, error) { return delivery.DiskSpace{}, nil })
	decided := sipadapter.Event{Kind: sipadapter.EventDecided, Decision: &dialplan.Decision{Verdict: dialplan.VerdictRecord}}
	ended := sipadapter.Event{Kind: sipadapter.EventEnded, Cause: sipadapter.CauseBye, HungUp: sipadapter.PartyCaller}
	b.ReportAllocs()
	for b.Loop() {
		m.event(decided)
		m.event(ended)
	}
}

func TestMetricsRTPRejected(t *testing.T) {
	m := newMetrics(func() (int, int) { return 0, 0 }, func() (delivery.DiskSpace, error) { return delivery.DiskSpace{}, nil })
	m.event(sipadapter.Event{Kind: sipadapter.EventEnded, Cause: sipadapter.CauseBye, CalleeRejected: 20})
	m.event(sipadapter.Event{Kind: sipadapter.EventEnded, Cause: sipadapter.CauseBye, CallerRejected: 3, CalleeRejected: 1})
	require.NoError(t, testutil.GatherAndCompare(m.reg, strings.NewReader(`
# HELP callrec_rtp_rejected_total RTP and RTCP packets dropped for coming from another source than the party's SDP address (hijack attempts, or NAT on a side not configured with nat), by party; counted when the call ends.
# TYPE callrec_rtp_rejected_total counter
callrec_rtp_rejected_total{party="callee"} 21
callrec_rtp_rejected_total{party="caller"} 3
`), "callrec_rtp_rejected_total"))
}
