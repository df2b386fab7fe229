package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/dialplan"
	"github.com/callrec/callrec/guidance"
	"github.com/callrec/callrec/sipadapter"
)

// httpShutdown bounds the metrics server's shutdown; httpTimeout bounds
// each of its requests.
const (
	httpShutdown = 5 * time.Second
	httpTimeout  = 10 * time.Second
)

// app is the running service: the delivery queue, the B2BUA, and the HTTP
// server of the metrics and health probes. [newApp] builds and binds it,
// [app.run] serves until its context ends and then drains.
type app struct {
	cfg     *config
	log     *slog.Logger
	metrics *metrics
	health  *health

	queue     *delivery.Queue
	closeSink func() error
	b2bua     *sipadapter.B2BUA
	cdr       io.Writer
	cdrFile   *os.File // nil unless log.cdr names a file
	httpSrv   *http.Server
	httpLn    net.Listener // nil when metrics.listen is empty
}

// newApp builds the service from cfg and binds its sockets. Nothing is
// served until [app.run]; on error everything already opened is closed.
func newApp(cfg *config, log *slog.Logger, stdout io.Writer) (*app, error) {
	a := &app{cfg: cfg, log: log, health: &health{spoolDir: cfg.queue.Dir}}
	a.metrics = newMetrics(a.activeCalls, a.diskSpace)
	if err := a.open(stdout); err != nil {
		return nil, errors.Join(err, a.close())
	}
	return a, nil
}

// open creates the queue with its sinks, the B2BUA and the HTTP listener.
func (a *app) open(stdout io.Writer) error {
	cfg, log := a.cfg, a.log
	if err := os.MkdirAll(cfg.adapter.RecordDir, 0o750); err != nil {
		return fmt.Errorf("record directory: %w", err)
	}
	sink, closeSink, err := buildSink(cfg.sinks)
	if err != nil {
		return err
	}
	a.closeSink = closeSink
	qc := cfg.queue
	qc.Sink = sipadapter.NotifySink(sink, a.event)
	qc.OnStats = a.metrics.deliveryStats
	qc.Logger = log
	if a.queue, err = delivery.New(qc); err != nil {
		return fmt.Errorf("spool: %w", err)
	}

	plan, err := dialplan.New(cfg.plan)
	if err != nil {
		return err
	}
	gc := cfg.guidance
	gc.Logger = log
	announcer, err := guidance.NewAnnouncer(gc)
	if err != nil {
		return err
	}
	switch cfg.cdr {
	case "":
	case cdrStdout:
		a.cdr = stdout
	default:
		if a.cdrFile, err = os.OpenFile(cfg.cdr, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640); err != nil {
			return fmt.Errorf("cdr: %w", err)
		}
		a.cdr = a.cdrFile
	}

	ac := cfg.adapter
	ac.Plan = plan
	ac.Lines = cfg.lines
	ac.Delivery = countingDelivery{q: a.queue, m: a.metrics}
	ac.SpoolFree = func() (uint64, error) {
		ds, err := a.queue.DiskSpace()
		return ds.Free, err
	}
	ac.Priority = cfg.priority.match
	ac.Announcer = announcer
	ac.Events = a.event
	ac.CDR = a.cdr
	ac.Logger = log
	if a.b2bua, err = sipadapter.New(ac); err != nil {
		return err
	}
	a.metrics.strandedRecordings(a.b2bua.Stranded)

	if cfg.metricsListen != "" {
		if a.httpLn, err = net.Listen("tcp", cfg.metricsListen); err != nil {
			return fmt.Errorf("metrics listen: %w", err)
		}
		mux := a.health.mux(a.metrics.handler(log))
		if cfg.pprof {
			withPprof(mux)
		}
		a.httpSrv = &http.Server{
			Handler:           a.recordingControl(mux, cfg.managementToken),
			ReadHeaderTimeout: httpTimeout,
			ReadTimeout:       httpTimeout,
			WriteTimeout:      httpTimeout,
			IdleTimeout:       2 * httpTimeout,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
	}
	return nil
}

// activeCalls feeds the calls_active gauges; it reads a.b2bua, which is
// set before the metrics can be scraped.
func (a *app) activeCalls() (calls, recorded int) {
	if a.b2bua == nil {
		return 0, 0
	}
	return a.b2bua.ActiveCalls()
}

func (a *app) diskSpace() (delivery.DiskSpace, error) {
	if a.queue == nil {
		return delivery.DiskSpace{}, delivery.ErrClosed
	}
	return a.queue.DiskSpace()
}

// event logs a B2BUA event and counts it. It runs on the B2BUA's and the
// queue's goroutines and returns at once.
func (a *app) event(e sipadapter.Event) {
	a.metrics.event(e)
	attrs := []slog.Attr{slog.String("event", e.Kind.String()), slog.String("call_id", e.CallID)}
	level := slog.LevelDebug
	switch e.Kind {
	case sipadapter.EventDecided:
		if d := e.Decision; d != nil {
			attrs = append(attrs, slog.String("direction", d.Direction.String()), slog.String("verdict", d.Verdict.String()),
				slog.String("reason", d.Reason))
		}
		level = slog.LevelInfo
	case sipadapter.EventEnded:
		attrs = append(attrs, slog.String("cause", e.Cause), slog.String("hung_up", string(e.HungUp)), slog.Int("code", e.Code))
		level = slog.LevelInfo
	case sipadapter.EventEnqueued, sipadapter.EventDelivered:
		attrs = append(attrs, slog.String("recording_id", e.RecordingID))
		level = slog.LevelInfo
	case sipadapter.EventRecordingStarted:
		attrs = append(attrs, slog.String("path", e.Path))
	case sipadapter.EventRinging:
		attrs = append(attrs, slog.Int("code", e.Code))
	}
	a.log.LogAttrs(context.Background(), level, "call", attrs...)
}

// run serves until ctx ends, then shuts down gracefully: it stops taking
// calls, lets the active ones finish for up to the shutdown grace, ends the
// rest (their recordings go into the spool), and stops the queue, leaving
// undelivered recordings in the spool for the next start. It closes the
// app in every case.
func (a *app) run(ctx context.Context) (err error) {
	defer func() { err = errors.Join(err, a.close()) }()
	if err := a.queue.Start(); err != nil {
		return err
	}
	serveCtx, stopServe := context.WithCancel(context.Background())
	defer stopServe()
	served := make(chan error, 1)
	go func() { served <- a.b2bua.Serve(serveCtx) }()
	a.health.serving.Store(true)

	httpDone := make(chan error, 1)
	if a.httpSrv != nil {
		go func() { httpDone <- a.httpSrv.Serve(a.httpLn) }()
	}
	a.log.Info("serving",
		"inside", a.b2bua.Addr(sipadapter.Inside).String(),
		"outside", a.b2bua.Addr(sipadapter.Outside).String(),
		"metrics", a.metricsAddr(),
		"spool", a.cfg.queue.Dir)

	var runErr error
	select {
	case <-ctx.Done():
		a.log.Info("shutting down", "grace", a.cfg.shutdownGrace.String())
	case err := <-served:
		runErr = errors.Join(errSIPStopped, err)
		served <- nil // for the wait below
	case err := <-httpDone:
		runErr = fmt.Errorf("metrics server: %w", err)
	}

	a.drain()
	stopServe()
	serveErr := <-served
	a.health.serving.Store(false)
	closeErr := a.b2bua.Close()

	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.spoolShutdown)
	defer cancel()
	qErr := a.queue.Shutdown(sctx)
	if errors.Is(qErr, context.DeadlineExceeded) {
		a.log.Warn("deliveries interrupted: they stay in the spool for the next start", "timeout", a.cfg.spoolShutdown.String())
		qErr = nil
	}
	st := a.queue.Stats()
	a.log.Info("stopped", "spool_depth", st.Queued, "delivered", st.Delivered, "dead_lettered", st.DeadLettered)
	return errors.Join(runErr, serveErr, closeErr, qErr)
}

// drain marks the service not ready and lets the calls in progress end by
// themselves for up to the shutdown grace; sipadapter answers new calls
// 503 meanwhile.
func (a *app) drain() {
	a.health.draining.Store(true)
	a.metrics.draining.Set(1)
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.shutdownGrace)
	defer cancel()
	if err := a.b2bua.Drain(ctx); err != nil {
		calls, _ := a.b2bua.ActiveCalls()
		a.log.Warn("shutdown grace over: ending the remaining calls", "calls", calls)
	}
}

func (a *app) metricsAddr() string {
	if a.httpLn == nil {
		return ""
	}
	return a.httpLn.Addr().String()
}

// close releases everything newApp opened. The B2BUA and the queue are
// idempotent to close, so close may follow run's orderly shutdown.
func (a *app) close() error {
	var errs []error
	if a.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), httpShutdown)
		errs = append(errs, a.httpSrv.Shutdown(ctx))
		cancel()
	}
	if a.httpLn != nil {
		// Shutdown closed it if it was being served.
		if err := a.httpLn.Close(); !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if a.b2bua != nil {
		errs = append(errs, a.b2bua.Close())
	}
	if a.queue != nil {
		errs = append(errs, a.queue.Close())
	}
	if a.closeSink != nil {
		errs = append(errs, a.closeSink())
	}
	if a.cdrFile != nil {
		errs = append(errs, a.cdrFile.Close())
	}
	return errors.Join(errs...)
}
