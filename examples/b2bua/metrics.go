package main

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/sipadapter"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metricsNamespace prefixes every metric name.
const metricsNamespace = "callrec"

// metrics are the service's Prometheus metrics, on a registry of their own
// (never the global default one). Calls and verdicts come from the
// B2BUA's events, recordings and RTP counters from what it hands to
// delivery, and the spool's counters from the queue's stats callback. The
// methods are safe for concurrent use.
type metrics struct {
	reg *prometheus.Registry

	calls         *prometheus.CounterVec
	ended         *prometheus.CounterVec
	enqueueFailed prometheus.Counter
	rtpReceived   *prometheus.CounterVec
	rtpLost       *prometheus.CounterVec
	rtpRejected   [2]prometheus.Counter // caller, callee
	recDropped    *prometheus.CounterVec
	recTruncated  *prometheus.CounterVec
	draining      prometheus.Gauge
	// recAnnounced counts the empty recordings of calls that ended
	// during their announcement.
	recAnnounced prometheus.Counter

	mu    sync.Mutex
	stats delivery.Stats // the queue's latest snapshot
}

// newMetrics registers the metrics. active reports the calls in progress
// and how many are recorded; spool reports the spool's disk space.
func newMetrics(active func() (calls, recorded int), spool func() (delivery.DiskSpace, error)) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	f := factory{m.reg}
	m.calls = f.counterVec("calls_total", "Calls decided by the dial plan, by direction and verdict.", "direction", "verdict")
	m.ended = f.counterVec("calls_ended_total", "Calls ended, by cause and by who hung up.", "cause", "hung_up")
	m.enqueueFailed = f.counter("recordings_enqueue_failures_total",
		"Recordings the spool refused; each stays in the record directory for the next start.")
	m.rtpReceived = f.counterVec("rtp_packets_received_total", "RTP packets received on recorded calls, by party.", "party")
	m.rtpLost = f.counterVec("rtp_packets_lost_total", "RTP packets lost on recorded calls (sequence gaps, RFC 3550 A.3), by party.", "party")
	rejected := f.counterVec("rtp_rejected_total",
		"RTP and RTCP packets dropped for coming from another source than the party's SDP address (hijack attempts, or NAT on a side not configured with nat), by party; counted when the call ends.", "party")
	m.rtpRejected = [2]prometheus.Counter{rejected.WithLabelValues("caller"), rejected.WithLabelValues("callee")}
	m.recDropped = f.counterVec("recording_packets_dropped_total",
		"RTP packets relayed but lost to the recording because the disk did not keep up (the per-call recording queue was full), by party.", "party")
	m.recTruncated = f.counterVec("recordings_truncated_total",
		"Recordings cut short mid-call by a failed write (no_space, io_error, quota, ...), closed at their last good frame and delivered marked truncated: alert on increase.", "reason")
	m.recAnnounced = f.counter("recordings_ended_during_announcement_total",
		"Empty recordings of calls that ended (hang-up, or a crash recovered) during their announcement, delivered marked ended_during_announcement.")
	m.draining = f.gauge("draining", "1 while the service is shutting down and refusing new calls.")

	f.gaugeFunc("calls_active", "Calls in progress.", func() float64 { n, _ := active(); return float64(n) })
	f.gaugeFunc("calls_recorded_active", "Recorded calls in progress.", func() float64 { _, n := active(); return float64(n) })
	for _, q := range []struct {
		name, help string
		counter    bool
		get        func(delivery.Stats) float64
	}{
		{"recordings_written_total", "Recordings written durably into the spool.", true,
			func(s delivery.Stats) float64 { return float64(s.Enqueued) }},
		{"recordings_delivered_total", "Recordings a sink accepted.", true,
			func(s delivery.Stats) float64 { return float64(s.Delivered) }},
		{"recordings_dead_lettered_total", "Recordings moved to the dead-letter directory.", true,
			func(s delivery.Stats) float64 { return float64(s.DeadLettered) }},
		{"delivery_retries_total", "Failed delivery attempts that will be retried.", true,
			func(s delivery.Stats) float64 { return float64(s.Retried) }},
		{"delivery_destination_failures_total", "Failed delivery attempts blamed on the destination (refused credentials, missing path, bad certificate): alert on increase.", true,
			func(s delivery.Stats) float64 { return float64(s.DestinationFailures) }},
		{"delivered_bytes_total", "Audio bytes delivered.", true,
			func(s delivery.Stats) float64 { return float64(s.Bytes) }},
		{"spool_depth", "Recordings in the spool awaiting delivery, those in flight included.", false,
			func(s delivery.Stats) float64 { return float64(s.Queued) }},
		{"spool_in_flight", "Deliveries under way.", false,
			func(s delivery.Stats) float64 { return float64(s.InFlight) }},
		{"spool_oldest_age_seconds", "How long the oldest recording in the spool has waited; 0 when empty.", false,
			func(s delivery.Stats) float64 { return s.OldestAge.Seconds() }},
		{"delivery_circuit_state", "The delivery circuit breaker: 0 closed, 1 open, 2 half-open.", false,
			func(s delivery.Stats) float64 { return float64(s.Circuit) }},
	} {
		if q.counter {
			f.counterFunc(q.name, q.help, m.stat(q.get))
		} else {
			f.gaugeFunc(q.name, q.help, m.stat(q.get))
		}
	}
	f.gaugeFunc("spool_free_bytes", "Free space of the spool's file system; NaN when it cannot be read.", func() float64 {
		ds, err := spool()
		if err != nil {
			return math.NaN()
		}
		return float64(ds.Free)
	})
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// factory registers metrics under [metricsNamespace].
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace, Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

func (f factory) gaugeFunc(name, help string, fn func() float64) {
	f.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: name, Help: help}, fn))
}

func (f factory) counterFunc(name, help string, fn func() float64) {
	f.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: metricsNamespace, Name: name, Help: help}, fn))
}

// stat returns a function reading one value of the latest queue snapshot.
func (m *metrics) stat(get func(delivery.Stats) float64) func() float64 {
	return func() float64 {
		m.mu.Lock()
		defer m.mu.Unlock()
		return get(m.stats)
	}
}

// deliveryStats keeps the queue's latest snapshot; it is the queue's
// OnStats callback.
func (m *metrics) deliveryStats(s delivery.Stats) {
	m.mu.Lock()
	m.stats = s
	m.mu.Unlock()
}

// event counts a B2BUA event; it is part of the Events callback.
func (m *metrics) event(e sipadapter.Event) {
	switch e.Kind {
	case sipadapter.EventDecided:
		if d := e.Decision; d != nil {
			m.calls.WithLabelValues(d.Direction.String(), d.Verdict.String()).Inc()
		}
	case sipadapter.EventEnded:
		m.ended.WithLabelValues(e.Cause, string(e.HungUp)).Inc()
		m.rtpRejected[0].Add(float64(e.CallerRejected))
		m.rtpRejected[1].Add(float64(e.CalleeRejected))
	case sipadapter.EventEnqueued:
		m.recorded(e.Recorder)
	}
}

// recorded counts the RTP statistics the B2BUA put into a recording's
// metadata, given typed on EventEnqueued.
func (m *metrics) recorded(rs *sipadapter.RecorderStats) {
	if rs == nil {
		return
	}
	for party, s := range map[string]recorder.Stats{"caller": rs.Caller, "callee": rs.Callee} {
		m.rtpReceived.WithLabelValues(party).Add(float64(s.Received))
		m.rtpLost.WithLabelValues(party).Add(float64(s.Lost))
	}
	m.recDropped.WithLabelValues("caller").Add(float64(rs.CallerDropped))
	m.recDropped.WithLabelValues("callee").Add(float64(rs.CalleeDropped))
}

// handler serves the metrics in the Prometheus exposition formats.
func (m *metrics) handler(log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelError),
		EnableOpenMetrics: true,
	})
}

// countingDelivery is the B2BUA's [sipadapter.Delivery]: the queue, with
// its refusals counted on the way.
type countingDelivery struct {
	q *delivery.Queue
	m *metrics
}

// Enqueue hands rec to the queue and counts it.
func (d countingDelivery) Enqueue(ctx context.Context, rec delivery.Recording) error {
	truncated, reason := rec.Metadata.Truncated, rec.Metadata.TruncatedReason
	announced := rec.Metadata.EndedDuringAnnouncement
	if err := d.q.Enqueue(ctx, rec); err != nil {
		d.m.enqueueFailed.Inc()
		return err
	}
	if truncated {
		d.m.recTruncated.WithLabelValues(reason).Inc()
	}
	if announced {
		d.m.recAnnounced.Inc()
	}
	return nil
}

// strandedRecordings exports the recordings left in the record directory
// because their Close or Enqueue failed, and the age of the oldest: the
// B2BUA retries them while it runs, so a lasting non-zero value means the
// spool cannot take recordings.
func (m *metrics) strandedRecordings(stranded func() (int, time.Duration)) {
	f := factory{m.reg}
	f.gaugeFunc("recordings_stranded", "Recordings left in the record directory after a failed Close or Enqueue, retried while running.",
		func() float64 { n, _ := stranded(); return float64(n) })
	f.gaugeFunc("recordings_stranded_oldest_age_seconds", "How long the oldest stranded recording has waited; 0 when none.",
		func() float64 { _, age := stranded(); return age.Seconds() })
}
