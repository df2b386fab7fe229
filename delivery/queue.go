package delivery

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"
)

// Config configures a [Queue]. The zero value of every field but Dir and
// Sink means its default.
type Config struct {
	// Dir is the spool directory, created if missing. It should be on a
	// local file system that honours fsync. Required.
	Dir string
	// Sink receives the recordings. Required.
	Sink Sink
	// Workers is the number of concurrent deliveries. Default 4.
	Workers int
	// Backoff spaces retries and bounds them.
	Backoff Backoff
	// Circuit stops the queue hammering a failing destination.
	Circuit Circuit
	// AttemptTimeout bounds one delivery attempt. Default 10m.
	AttemptTimeout time.Duration
	// RescanInterval is how often the queue looks in the spool for entries
	// put there by another process, such as a requeue by an operator tool.
	// Default 1m; negative disables.
	RescanInterval time.Duration
	// Rand draws the jitter of retries and cool-downs. Default: a PCG
	// seeded from crypto/rand. The queue serialises its use.
	Rand rand.Source
	// Logger receives the queue's logs. Default: discard.
	Logger *slog.Logger
	// OnStats, when set, is called with a fresh snapshot after every change
	// of the counters. Calls are serialised and in order; OnStats must return
	// quickly and must not call the Queue.
	OnStats func(Stats)

	// hooks replaces file-system operations in tests.
	hooks fsHooks
}

func (c Config) withDefaults() (Config, error) {
	var err error
	switch {
	case c.Dir == "":
		return c, configError("Dir", "empty")
	case c.Sink == nil:
		return c, configError("Sink", "nil")
	case c.Workers < 0:
		return c, configError("Workers", "negative %d", c.Workers)
	case c.AttemptTimeout < 0:
		return c, configError("AttemptTimeout", "negative %v", c.AttemptTimeout)
	}
	if c.Workers == 0 {
		c.Workers = 4
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = 10 * time.Minute
	}
	if c.RescanInterval == 0 {
		c.RescanInterval = time.Minute
	}
	if c.Backoff, err = c.Backoff.withDefaults(); err != nil {
		return c, err
	}
	if c.Circuit, err = c.Circuit.withDefaults(); err != nil {
		return c, err
	}
	if c.Rand == nil {
		var seed [16]byte
		_, _ = crand.Read(seed[:])
		c.Rand = rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:]))
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.hooks.create == nil {
		c.hooks = defaultHooks()
	}
	return c, nil
}

// Queue is a durable spool of recordings and the workers that deliver them
// to a [Sink]. Create it with [New], add recordings with [Queue.Enqueue],
// start delivering with [Queue.Start], and stop with [Queue.Shutdown] or
// [Queue.Close]. All methods are safe for concurrent use.
type Queue struct {
	cfg   Config
	spool *spool
	log   *slog.Logger

	mu      sync.Mutex
	entries map[string]*entry
	// enqueuing holds the IDs of Enqueue calls between their commit into
	// queue/ and their bookkeeping, which a rescan must leave to them: were
	// it to load such an entry, the entry could be delivered and forgotten
	// before Enqueue tracked it again, miscounting it and attempting it twice.
	enqueuing map[string]int
	ready     entryHeap // due, not in flight, oldest first
	waiting   entryHeap // backing off, soonest first
	byAge     entryHeap // every entry, oldest first
	breaker   breaker
	rnd       *rand.Rand
	counters  Stats
	started   bool
	closed    bool

	statsMu sync.Mutex // serialises OnStats calls

	wake           chan struct{}
	stop           chan struct{}
	jobs           chan *entry
	attemptCtx     context.Context
	cancelAttempts context.CancelFunc
	enqueues       sync.WaitGroup
	workers        sync.WaitGroup
	stopOnce       sync.Once
	closeOnce      sync.Once
	closeErr       error
}

// New opens the spool in cfg.Dir, taking an exclusive lock on it
// ([ErrSpoolLocked] if another queue holds it), and loads every recording
// left there by an earlier run, oldest first. Entries the spool cannot read
// are moved to the dead-letter directory with the reason. Delivery begins
// with [Queue.Start]; Enqueue works before that.
func New(cfg Config) (*Queue, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	sp, err := openSpool(cfg.Dir, cfg.hooks)
	if err != nil {
		return nil, err
	}
	q := &Queue{
		cfg:       cfg,
		spool:     sp,
		log:       cfg.Logger.With("component", "delivery"),
		entries:   make(map[string]*entry),
		enqueuing: make(map[string]int),
		ready:     entryHeap{less: older, idx: func(e *entry) *int { return &e.readyIdx }},
		waiting:   entryHeap{less: sooner, idx: func(e *entry) *int { return &e.waitIdx }},
		byAge:     entryHeap{less: older, idx: func(e *entry) *int { return &e.ageIdx }},
		breaker:   breaker{cfg: cfg.Circuit},
		rnd:       rand.New(cfg.Rand),
		wake:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		jobs:      make(chan *entry),
	}
	q.attemptCtx, q.cancelAttempts = context.WithCancel(context.Background())
	if err := q.rescan(); err != nil {
		q.cancelAttempts()
		return nil, errors.Join(err, sp.close())
	}
	return q, nil
}

// Enqueue makes rec durable in the spool and returns once it is: its audio
// is hard-linked (or, across file systems, copied) into a staging entry with
// the metadata sidecar, everything is fsynced, and the entry is renamed into
// the queue in one atomic step. Only then is the caller's file removed.
//
// On error nothing was queued and the caller's file is where it was: errors
// wrap [ErrSpoolFull] when the disk is full, [ErrSpoolReadOnly] when the spool
// cannot be written, [ErrInvalidRecording], [ErrChecksumMismatch],
// [ErrDuplicateID], or [ErrClosed]. Enqueue checks ctx before it starts; the
// commit itself is not interrupted.
//
// With a caller-supplied Metadata.ID, Enqueue is idempotent: enqueueing the
// same audio again under an ID still queued (as a caller recovering from a
// crash between commit and removal does) removes the file and succeeds.
func (q *Queue) Enqueue(ctx context.Context, rec Recording) error {
	_, err := q.enqueue(ctx, rec)
	return err
}

func (q *Queue) enqueue(ctx context.Context, rec Recording) (Metadata, error) {
	if err := ctx.Err(); err != nil {
		return Metadata{}, err
	}
	now := time.Now()
	if rec.Metadata.ID == "" {
		// Chosen here rather than by the spool so that the rescan knows
		// which entry this call is about to commit.
		rec.Metadata.ID = newID(now)
	}
	id := rec.Metadata.ID
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return Metadata{}, ErrClosed
	}
	q.enqueues.Add(1)
	q.enqueuing[id]++
	q.mu.Unlock()
	defer q.enqueues.Done()

	md, srcErr, err := q.spool.put(rec, now)
	q.mu.Lock()
	q.enqueuing[id]--
	if q.enqueuing[id] == 0 {
		delete(q.enqueuing, id)
	}
	if err == nil && q.addLocked(newEntry(md, entryState{})) {
		q.counters.Enqueued++
	}
	q.mu.Unlock()
	if err != nil {
		return md, err
	}
	if srcErr != nil {
		q.log.Warn("recording queued but source not removed", "id", md.ID, "path", rec.AudioPath, "error", srcErr)
	}
	q.log.Debug("recording queued", "id", md.ID, "call_id", md.CallID, "bytes", md.Size)
	q.changed()
	return md, nil
}

// Start launches the workers. It returns [ErrStarted] when called twice and
// [ErrClosed] after Close.
func (q *Queue) Start() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.closed:
		return ErrClosed
	case q.started:
		return ErrStarted
	}
	q.started = true
	q.workers.Add(q.cfg.Workers + 1)
	go q.dispatch()
	if hc, ok := q.cfg.Sink.(HealthChecker); ok && q.cfg.Circuit.HealthInterval > 0 {
		q.workers.Add(1)
		go q.watchHealth(hc)
	}
	for range q.cfg.Workers {
		go q.work()
	}
	return nil
}

// Shutdown stops taking recordings and starting deliveries, lets the
// deliveries in flight finish until ctx is done, then interrupts the rest and
// waits for them. Interrupted recordings stay in the spool for the next run;
// nothing is lost. It returns ctx's error if it had to interrupt, and is safe
// to call more than once.
func (q *Queue) Shutdown(ctx context.Context) error {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.stopOnce.Do(func() { close(q.stop) })

	done := make(chan struct{})
	go func() {
		q.workers.Wait()
		q.enqueues.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		q.cancelAttempts()
		<-done
	}
	q.closeOnce.Do(func() {
		q.cancelAttempts()
		q.closeErr = q.spool.close()
	})
	return errors.Join(err, q.closeErr)
}

// Close interrupts the deliveries in flight, leaving them in the spool, and
// waits for the workers to stop. It is safe to call more than once.
func (q *Queue) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := q.Shutdown(ctx)
	if errors.Is(err, context.Canceled) {
		err = q.closeErr
	}
	return err
}

// Stats returns a snapshot of the queue's counters.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.statsLocked()
}

func (q *Queue) statsLocked() Stats {
	s := q.counters
	s.Queued = len(q.entries)
	s.Circuit = q.breaker.state
	if e := q.byAge.peek(); e != nil {
		s.OldestAge = max(0, time.Now().Sub(e.md.Enqueued))
	}
	return s
}

// DiskSpace returns the size and free space of the spool's file system, for
// a caller that refuses new calls when the spool runs short.
func (q *Queue) DiskSpace() (DiskSpace, error) {
	return diskSpace(q.cfg.Dir)
}

// changed wakes the dispatcher and reports fresh stats.
func (q *Queue) changed() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
	if q.cfg.OnStats == nil {
		return
	}
	q.statsMu.Lock()
	defer q.statsMu.Unlock()
	q.cfg.OnStats(q.Stats())
}

// addLocked tracks e and reports whether it was new: an ID already tracked
// is ignored.
func (q *Queue) addLocked(e *entry) bool {
	if _, ok := q.entries[e.md.ID]; ok {
		return false
	}
	q.entries[e.md.ID] = e
	q.byAge.add(e)
	if e.notBefore.IsZero() {
		q.ready.add(e)
	} else {
		q.waiting.add(e)
	}
	return true
}

// forgetLocked stops tracking e.
func (q *Queue) forgetLocked(e *entry) {
	delete(q.entries, e.md.ID)
	q.byAge.remove(e)
	q.ready.remove(e)
	q.waiting.remove(e)
}

// promoteLocked moves the entries due at now (all when everything is true)
// from waiting to ready.
func (q *Queue) promoteLocked(now time.Time, everything bool) {
	for e := q.waiting.peek(); e != nil && (everything || !e.notBefore.After(now)); e = q.waiting.peek() {
		q.waiting.remove(e)
		q.ready.add(e)
	}
}

// rescan loads spooled entries the queue does not track yet; unreadable ones
// are dead-lettered.
func (q *Queue) rescan() error {
	found, err := q.spool.scan(dirQueue, func(name string) bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		_, known := q.entries[name]
		return known || q.enqueuing[name] > 0
	})
	if err != nil {
		return err
	}
	added := 0
	for _, f := range found {
		if f.err != nil {
			if errors.Is(f.err, fs.ErrNotExist) {
				continue // delivered or dead-lettered since the scan listed it
			}
			st := f.state
			st.LastError = "unreadable spool entry: " + f.err.Error()
			st.DeadLettered = time.Now().UTC()
			if _, err := q.spool.bury(f.id, st); err != nil {
				q.log.Error("cannot dead-letter unreadable entry", "id", f.id, "error", err)
				continue
			}
			q.log.Error("unreadable spool entry dead-lettered", "id", f.id, "error", f.err)
			q.mu.Lock()
			q.counters.DeadLettered++
			q.mu.Unlock()
			continue
		}
		q.mu.Lock()
		q.addLocked(newEntry(f.md, f.state))
		q.mu.Unlock()
		added++
	}
	if added > 0 {
		q.log.Info("spooled recordings loaded", "count", added)
		q.changed()
	}
	return nil
}

// dispatch hands due entries to the workers, oldest first, as the circuit
// permits. It owns the choice of what runs next; workers report back through
// finish.
func (q *Queue) dispatch() {
	defer q.workers.Done()
	nextRescan := time.Now().Add(q.cfg.RescanInterval)
	for {
		now := time.Now()
		if q.cfg.RescanInterval > 0 && !now.Before(nextRescan) {
			if err := q.rescan(); err != nil {
				q.log.Error("spool rescan failed", "error", err)
			}
			nextRescan = now.Add(q.cfg.RescanInterval)
		}
		job, wakeAt := q.next(now)
		if job != nil {
			select {
			case q.jobs <- job:
				continue
			case <-q.stop:
				q.putBack(job)
				return
			}
		}
		if q.cfg.RescanInterval > 0 && (wakeAt.IsZero() || nextRescan.Before(wakeAt)) {
			wakeAt = nextRescan
		}
		var timer *time.Timer
		var fire <-chan time.Time
		if !wakeAt.IsZero() {
			timer = time.NewTimer(max(0, wakeAt.Sub(now)))
			fire = timer.C
		}
		select {
		case <-q.wake:
		case <-fire:
		case <-q.stop:
		}
		if timer != nil {
			timer.Stop()
		}
		select {
		case <-q.stop:
			return
		default:
		}
	}
}

// next picks the entry to deliver now and marks it in flight, or returns
// when to look again (zero: on the next wake-up).
func (q *Queue) next(now time.Time) (job *entry, wakeAt time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	// Choose only when a worker is free, so that the choice reflects the
	// circuit and the backlog at the moment the delivery starts.
	if len(q.entries) == 0 || q.counters.InFlight >= q.cfg.Workers {
		return nil, time.Time{}
	}
	ok, probe, until := q.breaker.permit(now)
	if !ok {
		return nil, until
	}
	// While the circuit is not closed, per-recording backoff gives way to
	// the circuit's pacing: the probe is the oldest recording of all.
	q.promoteLocked(now, probe)
	job = q.ready.peek()
	if job == nil {
		if w := q.waiting.peek(); w != nil {
			return nil, w.notBefore
		}
		return nil, time.Time{}
	}
	q.ready.remove(job)
	q.breaker.start(probe)
	job.inFlight, job.probe = true, probe
	q.counters.InFlight++
	return job, time.Time{}
}

// work runs deliveries until the queue stops.
func (q *Queue) work() {
	defer q.workers.Done()
	for {
		select {
		case e := <-q.jobs:
			select {
			case <-q.stop: // handed over as the queue stopped: do not start
				q.putBack(e)
				return
			default:
			}
			q.attempt(e)
		case <-q.stop:
			return
		}
	}
}

// attempt delivers one entry and settles its fate: removed when delivered,
// dead-lettered when refused for good or out of attempts, otherwise
// scheduled again. All file-system work happens outside the mutex.
func (q *Queue) attempt(e *entry) {
	md := e.md
	audio := q.spool.audioPath(&md)
	item := Item{Metadata: md, Attempt: e.state.Attempts + 1, path: audio, open: func() (io.ReadCloser, error) {
		return os.Open(audio)
	}}
	ctx, cancel := context.WithTimeout(q.attemptCtx, q.cfg.AttemptTimeout)
	err := q.cfg.Sink.Deliver(ctx, item)
	cancel()
	now := time.Now()
	log := q.log.With("id", md.ID, "call_id", md.CallID, "attempt", item.Attempt)

	switch {
	case err == nil:
		q.delivered(e, now, log)
	case q.attemptCtx.Err() != nil:
		// Interrupted by shutdown: not the destination's fault, not counted.
		log.Info("delivery interrupted by shutdown; left in spool", "error", err)
		q.putBack(e)
	case q.vanished(md.ID):
		log.Warn("spool entry vanished during delivery", "error", err)
		q.forget(e)
	default:
		f := q.judge(e, err, now)
		q.recordFailure(md.ID, &f, log)
		q.settleFailure(e, f)
	}
}

// delivered removes a delivered entry from the spool and from memory, and
// tells the circuit breaker the destination works.
func (q *Queue) delivered(e *entry, now time.Time, log *slog.Logger) {
	md := e.md
	rmErr := q.spool.remove(md.ID)
	if rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
		log.Error("delivered but not removed from spool; it will be delivered again", "error", rmErr)
	}
	log.Info("recording delivered", "bytes", md.Size)
	q.mu.Lock()
	q.settleLocked(e)
	q.forgetLocked(e)
	q.counters.Delivered++
	q.counters.Bytes += uint64(md.Size)
	if q.breaker.success(e.probe) {
		q.promoteLocked(now, true)
		log.Info("destination recovered; draining backlog", "queued", len(q.entries))
	}
	q.mu.Unlock()
	q.changed()
}

// vanished reports whether the entry id is no longer in queue/ (removed
// by hand while it was being delivered).
func (q *Queue) vanished(id string) bool {
	_, err := os.Stat(q.spool.path(dirQueue, id))
	return errors.Is(err, fs.ErrNotExist)
}

// forget drops an entry that is no longer in the spool from memory.
func (q *Queue) forget(e *entry) {
	q.mu.Lock()
	q.settleLocked(e)
	q.forgetLocked(e)
	q.mu.Unlock()
	q.changed()
}

// failure is the outcome of a failed attempt.
type failure struct {
	err error
	now time.Time
	// state is the entry's state with this attempt counted.
	state entryState
	// permanent: the destination refused the recording for good;
	// destination: the destination itself is broken (credentials, URL …).
	permanent, destination bool
	// dead: the entry is to be dead-lettered rather than retried.
	dead bool
	// backoffJitter and breakerJitter are drawn under the mutex.
	backoffJitter, breakerJitter float64
}

// judge decides what a failed attempt means for the entry: retried later,
// or dead-lettered when refused for good or out of attempts.
func (q *Queue) judge(e *entry, err error, now time.Time) failure {
	q.mu.Lock()
	f := failure{err: err, now: now, state: e.state}
	f.backoffJitter, f.breakerJitter = q.rnd.Float64(), q.rnd.Float64()
	q.mu.Unlock()
	f.state.Attempts++
	f.state.LastAttempt = now.UTC()
	f.state.LastError = err.Error()
	f.permanent, f.destination = IsPermanent(err), IsDestination(err)
	since := e.md.Enqueued
	if f.state.Requeued.After(since) {
		since = f.state.Requeued
	}
	// A destination failure says nothing about this recording: it waits
	// for the destination to be fixed however long that takes.
	f.dead = f.permanent || (!f.destination && q.cfg.Backoff.exhausted(f.state.Attempts, now.Sub(since)))
	if f.dead {
		f.state.DeadLettered = now.UTC()
	}
	return f
}

// recordFailure writes a failed attempt to the spool: the entry moves to
// dead/, or its attempt state is saved for the retry. An entry that cannot
// be moved to dead/ is retried instead (f.dead is cleared).
func (q *Queue) recordFailure(id string, f *failure, log *slog.Logger) {
	if f.dead {
		if _, berr := q.spool.bury(id, f.state); berr != nil {
			log.Error("cannot dead-letter; will retry", "error", berr)
			f.dead = false
		} else {
			log.Warn("recording dead-lettered", "permanent", f.permanent, "error", f.err)
			return
		}
	}
	if serr := q.spool.saveState(id, f.state); serr != nil {
		log.Warn("cannot save attempt state", "error", serr)
	}
	if f.destination {
		log.Error("destination refused the delivery: check its credentials, URL, certificate or directory; recording kept and retried",
			"error", f.err)
	} else {
		log.Info("delivery failed; will retry", "error", f.err)
	}
}

// settleFailure applies a failed attempt in memory: the entry is forgotten
// or scheduled again after its backoff, the counters move, and the circuit
// breaker learns whether the destination answered.
func (q *Queue) settleFailure(e *entry, f failure) {
	q.mu.Lock()
	q.settleLocked(e)
	e.state = f.state
	if f.dead {
		q.forgetLocked(e)
		q.counters.DeadLettered++
	} else {
		q.counters.Retried++
		delay := max(q.cfg.Backoff.delay(f.state.Attempts, f.backoffJitter), retryAfter(f.err))
		e.notBefore = f.now.Add(delay)
		q.waiting.add(e)
	}
	if f.destination {
		q.counters.DestinationFailures++
	}
	if f.permanent {
		q.breaker.success(e.probe) // the destination answered
	} else {
		q.breaker.failure(f.now, e.probe, retryAfter(f.err), f.breakerJitter, f.destination)
	}
	e.probe = false
	q.mu.Unlock()
	q.changed()
}

// putBack returns an entry whose delivery did not start or was interrupted
// by shutdown to the ready set, without counting an attempt.
func (q *Queue) putBack(e *entry) {
	q.mu.Lock()
	q.breaker.abandon(e.probe)
	q.settleLocked(e)
	e.probe = false
	q.ready.add(e)
	q.mu.Unlock()
}

// settleLocked marks e no longer in flight.
func (q *Queue) settleLocked(e *entry) {
	if e.inFlight {
		e.inFlight = false
		q.counters.InFlight--
	}
}
