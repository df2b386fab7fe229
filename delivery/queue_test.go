package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/delivery/deliverytest"
)

// fastBackoff keeps retries in the millisecond range for tests.
var fastBackoff = delivery.Backoff{Base: time.Millisecond, Cap: 10 * time.Millisecond}

var fastCircuit = delivery.Circuit{Threshold: 3, MinOpen: 2 * time.Millisecond, MaxOpen: 20 * time.Millisecond}

func newQueue(t *testing.T, cfg delivery.Config) *delivery.Queue {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.Backoff == (delivery.Backoff{}) {
		cfg.Backoff = fastBackoff
	}
	if cfg.Circuit == (delivery.Circuit{}) {
		cfg.Circuit = fastCircuit
	}
	q, err := delivery.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, q.Close()) })
	return q
}

func enqueue(t *testing.T, q *delivery.Queue, src string, n, size int) []string {
	t.Helper()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("call-%04d", i)
		p, _ := writeSource(t, src, names[i], size+i)
		require.NoError(t, q.Enqueue(context.Background(), delivery.Recording{
			AudioPath: p,
			Metadata:  delivery.Metadata{CallID: names[i], Start: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)},
		}))
	}
	return names
}

func TestQueueDelivers(t *testing.T) {
	src, dest, spool := t.TempDir(), t.TempDir(), t.TempDir()
	sink, err := delivery.NewDirSink(delivery.DirSinkConfig{Dir: dest})
	require.NoError(t, err)
	var last atomic.Value
	q := newQueue(t, delivery.Config{Dir: spool, Sink: sink, OnStats: func(s delivery.Stats) { last.Store(s) }})
	names := enqueue(t, q, src, 20, 3000)
	st := q.Stats()
	assert.Equal(t, 20, st.Queued)
	assert.Equal(t, uint64(20), st.Enqueued)
	assert.Positive(t, st.OldestAge+1)
	require.NoError(t, q.Start())
	require.ErrorIs(t, q.Start(), delivery.ErrStarted)
	waitFor(t, "delivery", 20*time.Second, func() bool {
		s, ok := last.Load().(delivery.Stats)
		return ok && s.Delivered == 20
	})

	st = q.Stats()
	assert.Zero(t, st.Queued)
	assert.Zero(t, st.OldestAge)
	assert.EqualValues(t, 20*3000+190, st.Bytes)
	for _, name := range names {
		_, err := os.Stat(filepath.Join(src, name+".wav"))
		assert.ErrorIs(t, err, os.ErrNotExist, "caller's file moved into the spool")
		b, err := os.ReadFile(filepath.Join(dest, "2026", "11", "23", name+".wav"))
		require.NoError(t, err)
		n := 3000 + int(name[len(name)-2]-'0')*10 + int(name[len(name)-1]-'0')
		assert.Equal(t, deliverytest.Audio(name, n), b)
	}
	left, err := os.ReadDir(filepath.Join(spool, "queue"))
	require.NoError(t, err)
	assert.Empty(t, left)
}

func TestQueueResumesAfterRestart(t *testing.T) {
	src, dest, spool := t.TempDir(), t.TempDir(), t.TempDir()
	sink, err := delivery.NewDirSink(delivery.DirSinkConfig{Dir: dest})
	require.NoError(t, err)
	q1, err := delivery.New(delivery.Config{Dir: spool, Sink: sink})
	require.NoError(t, err)
	enqueue(t, q1, src, 5, 100)
	_, err = delivery.New(delivery.Config{Dir: spool, Sink: sink})
	require.ErrorIs(t, err, delivery.ErrSpoolLocked)
	require.NoError(t, q1.Close())
	require.NoError(t, q1.Close())
	require.ErrorIs(t, q1.Enqueue(context.Background(), delivery.Recording{AudioPath: "x"}), delivery.ErrClosed)
	require.ErrorIs(t, q1.Start(), delivery.ErrClosed)

	q2 := newQueue(t, delivery.Config{Dir: spool, Sink: sink})
	assert.Equal(t, 5, q2.Stats().Queued)
	require.NoError(t, q2.Start())
	waitFor(t, "delivery", 20*time.Second, func() bool { return q2.Stats().Delivered == 5 })
	n, err := deliverytest.DirStore(dest, nil).Count()
	require.NoError(t, err)
	assert.Equal(t, 5, n)
}

// flakySink fails with err until healed, then delivers into a map.
type flakySink struct {
	mu        sync.Mutex
	err       error
	calls     int
	inFlight  int
	maxFlight int
	order     []string
	delay     time.Duration
	got       map[string]int
	attempts  map[string][]int
}

func newFlakySink(err error) *flakySink {
	return &flakySink{err: err, got: map[string]int{}, attempts: map[string][]int{}}
}

func (s *flakySink) Deliver(ctx context.Context, item delivery.Item) error {
	s.mu.Lock()
	s.calls++
	s.inFlight++
	s.maxFlight = max(s.maxFlight, s.inFlight)
	err, delay := s.err, s.delay
	s.attempts[item.Metadata.ID] = append(s.attempts[item.Metadata.ID], item.Attempt)
	s.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight--
	if err != nil {
		return err
	}
	s.got[item.Metadata.CallID]++
	s.order = append(s.order, item.Metadata.CallID)
	return nil
}

func (s *flakySink) set(err error) {
	s.mu.Lock()
	s.err = err
	s.maxFlight = s.inFlight
	s.mu.Unlock()
}

func (s *flakySink) snapshot() (calls, maxFlight int, order []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, s.maxFlight, append([]string(nil), s.order...)
}

func TestQueueDeadLetterAndRequeue(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		backoff  delivery.Backoff
		attempts int
	}{
		{name: "Permanent", err: delivery.Permanent(errors.New("rejected")), attempts: 1},
		{name: "MaxAttempts", err: errors.New("flaky"), backoff: delivery.Backoff{Base: time.Millisecond, Cap: 2 * time.Millisecond, MaxAttempts: 3}, attempts: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, spool := t.TempDir(), t.TempDir()
			sink := newFlakySink(tc.err)
			q := newQueue(t, delivery.Config{Dir: spool, Sink: sink, Backoff: tc.backoff,
				Circuit: delivery.Circuit{Threshold: 100, MinOpen: time.Millisecond, MaxOpen: time.Millisecond}})
			enqueue(t, q, src, 1, 500)
			require.NoError(t, q.Start())
			waitFor(t, "dead letter", 10*time.Second, func() bool { return q.Stats().DeadLettered == 1 })

			dls, err := q.DeadLetters()
			require.NoError(t, err)
			require.Len(t, dls, 1)
			dl := dls[0]
			assert.Equal(t, "call-0000", dl.Metadata.CallID)
			assert.Equal(t, tc.attempts, dl.Attempts)
			assert.Contains(t, dl.LastError, tc.err.Error())
			assert.NoError(t, dl.Err)
			text, err := os.ReadFile(filepath.Join(spool, "dead", dl.Name, "error.txt"))
			require.NoError(t, err)
			assert.Contains(t, string(text), tc.err.Error())
			assert.Equal(t, 0, q.Stats().Queued)

			sink.set(nil)
			require.ErrorIs(t, q.Requeue(context.Background(), "no-such-id"), delivery.ErrNotFound)
			require.NoError(t, q.Requeue(context.Background(), dl.Name))
			waitFor(t, "redelivery", 10*time.Second, func() bool { return q.Stats().Delivered == 1 })
			dls, err = q.DeadLetters()
			require.NoError(t, err)
			assert.Empty(t, dls)
			sink.mu.Lock()
			defer sink.mu.Unlock()
			want := make([]int, tc.attempts+1)
			for i := range want {
				want[i] = i + 1
			}
			want[tc.attempts] = 1 // a requeued recording starts afresh
			assert.Equal(t, want, sink.attempts[dl.Metadata.ID])
		})
	}
}

func TestRequeueOfflinePickedUpByRescan(t *testing.T) {
	src, spool := t.TempDir(), t.TempDir()
	sink := newFlakySink(delivery.Permanent(errors.New("no")))
	q := newQueue(t, delivery.Config{Dir: spool, Sink: sink, RescanInterval: 5 * time.Millisecond})
	enqueue(t, q, src, 2, 100)
	require.NoError(t, q.Start())
	waitFor(t, "dead letters", 10*time.Second, func() bool { return q.Stats().DeadLettered == 2 })
	sink.set(nil)
	dls, err := delivery.DeadLetters(spool)
	require.NoError(t, err)
	require.Len(t, dls, 2)
	for _, dl := range dls {
		require.NoError(t, delivery.Requeue(spool, dl.Name)) // as examples/requeue does
	}
	require.ErrorIs(t, delivery.Requeue(spool, dls[0].Name), delivery.ErrNotFound)
	waitFor(t, "redelivery", 10*time.Second, func() bool { return q.Stats().Delivered == 2 })
}

// TestQueueMaxAge runs in a synctest bubble: time moves only when every
// goroutine of the queue waits. maxSource makes every delay its ceiling less
// a nanosecond, so the attempts fall at 0, 40 and 80 minutes, and the third
// one, past MaxAge, dead-letters the recording.
func TestQueueMaxAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newFlakySink(errors.New("down"))
		q := newQueue(t, delivery.Config{Sink: sink, Rand: maxSource{},
			Backoff: delivery.Backoff{Base: 40 * time.Minute, Cap: 40 * time.Minute, MaxAge: time.Hour},
			Circuit: delivery.Circuit{Threshold: 1000}})
		enqueue(t, q, t.TempDir(), 1, 10)
		require.NoError(t, q.Start())
		synctest.Wait()
		require.Equal(t, uint64(1), q.Stats().Retried, "first attempt")
		time.Sleep(40 * time.Minute)
		synctest.Wait()
		require.Equal(t, uint64(2), q.Stats().Retried, "second attempt")
		assert.Equal(t, 40*time.Minute, q.Stats().OldestAge)
		assert.Zero(t, q.Stats().DeadLettered)
		time.Sleep(40 * time.Minute)
		synctest.Wait()
		require.Equal(t, uint64(1), q.Stats().DeadLettered, "dead letter by age")
		calls, _, _ := sink.snapshot()
		assert.Equal(t, 3, calls)
	})
}

func TestQueueCircuitProbesOneAtATime(t *testing.T) {
	sink := newFlakySink(errors.New("503"))
	sink.delay = 2 * time.Millisecond
	q := newQueue(t, delivery.Config{Sink: sink, Workers: 4,
		Circuit: delivery.Circuit{Threshold: 3, MinOpen: 5 * time.Millisecond, MaxOpen: 10 * time.Millisecond}})
	enqueue(t, q, t.TempDir(), 30, 100)
	require.NoError(t, q.Start())
	waitFor(t, "circuit opens", 10*time.Second, func() bool { return q.Stats().Circuit != delivery.CircuitClosed })
	time.Sleep(20 * time.Millisecond) // deliveries started before the circuit opened end
	sink.set(errors.New("still 503")) // resets the concurrency high-water mark
	waitFor(t, "probes", 10*time.Second, func() bool { return q.Stats().Retried >= 12 })
	calls, maxFlight, _ := sink.snapshot()
	assert.Equal(t, 1, maxFlight, "an open circuit lets one probe through at a time")
	assert.Less(t, calls, 100, "the circuit stops the queue hammering the sink")

	sink.set(nil)
	waitFor(t, "drain", 10*time.Second, func() bool { return q.Stats().Delivered == 30 })
	_, maxFlight, _ = sink.snapshot()
	assert.Greater(t, maxFlight, 1, "recovery drains with every worker")
	assert.Equal(t, delivery.CircuitClosed, q.Stats().Circuit)
}

func TestQueueDrainsOldestFirst(t *testing.T) {
	sink := newFlakySink(errors.New("down"))
	q := newQueue(t, delivery.Config{Sink: sink, Workers: 1})
	names := enqueue(t, q, t.TempDir(), 15, 10)
	require.NoError(t, q.Start())
	waitFor(t, "circuit opens", 10*time.Second, func() bool { return q.Stats().Circuit != delivery.CircuitClosed })
	sink.set(nil)
	waitFor(t, "drain", 10*time.Second, func() bool { return q.Stats().Delivered == 15 })
	_, _, order := sink.snapshot()
	assert.Equal(t, names, order)
}

func TestQueueShutdownLeavesInFlightInSpool(t *testing.T) {
	spool := t.TempDir()
	started := make(chan struct{})
	sink := delivery.SinkFunc(func(ctx context.Context, _ delivery.Item) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})
	q, err := delivery.New(delivery.Config{Dir: spool, Sink: sink, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	enqueue(t, q, t.TempDir(), 1, 10)
	require.NoError(t, q.Start())
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, q.Shutdown(ctx), context.DeadlineExceeded)
	require.NoError(t, q.Shutdown(context.Background()))
	assert.Zero(t, q.Stats().Retried, "an interrupted attempt is not a failure")

	dest := t.TempDir()
	dsink, err := delivery.NewDirSink(delivery.DirSinkConfig{Dir: dest})
	require.NoError(t, err)
	q2 := newQueue(t, delivery.Config{Dir: spool, Sink: dsink})
	assert.Equal(t, 1, q2.Stats().Queued)
	require.NoError(t, q2.Start())
	waitFor(t, "delivery after restart", 10*time.Second, func() bool { return q2.Stats().Delivered == 1 })
}

func TestQueueGracefulShutdownFinishesInFlight(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	var delivered atomic.Int32
	sink := delivery.SinkFunc(func(ctx context.Context, _ delivery.Item) error {
		close(started)
		<-release
		delivered.Add(1)
		return nil
	})
	q := newQueue(t, delivery.Config{Sink: sink, Workers: 1})
	enqueue(t, q, t.TempDir(), 1, 10)
	require.NoError(t, q.Start())
	<-started
	done := make(chan error)
	go func() { done <- q.Shutdown(context.Background()) }()
	close(release)
	require.NoError(t, <-done)
	assert.Equal(t, int32(1), delivered.Load())
	assert.Equal(t, uint64(1), q.Stats().Delivered)
}

func TestQueueUnreadableEntryIsDeadLettered(t *testing.T) {
	spool := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(spool, "queue", "broken-1"), 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(spool, "queue", "broken-1", "metadata.json"), []byte("{not json"), 0o640))
	require.NoError(t, os.MkdirAll(filepath.Join(spool, "tmp", "half-written.1234"), 0o750))
	q := newQueue(t, delivery.Config{Dir: spool, Sink: newFlakySink(nil)})
	assert.Zero(t, q.Stats().Queued)
	dls, err := q.DeadLetters()
	require.NoError(t, err)
	require.Len(t, dls, 1)
	assert.Contains(t, dls[0].LastError, "unreadable spool entry")
	assert.Error(t, dls[0].Err)
	tmp, err := os.ReadDir(filepath.Join(spool, "tmp"))
	require.NoError(t, err)
	assert.Empty(t, tmp, "interrupted staging is cleaned at start")
}

func TestQueueEnqueueErrors(t *testing.T) {
	q := newQueue(t, delivery.Config{Sink: newFlakySink(nil)})
	src := t.TempDir()
	p, sum := writeSource(t, src, "good", 100)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		rec  delivery.Recording
		want error
	}{
		{name: "NoPath", rec: delivery.Recording{}, want: delivery.ErrInvalidRecording},
		{name: "Missing", rec: delivery.Recording{AudioPath: filepath.Join(src, "nope.wav")}, want: delivery.ErrInvalidRecording},
		{name: "Directory", rec: delivery.Recording{AudioPath: src}, want: delivery.ErrInvalidRecording},
		{name: "BadID", rec: delivery.Recording{AudioPath: p, Metadata: delivery.Metadata{ID: "../etc"}}, want: delivery.ErrInvalidRecording},
		{name: "DotID", rec: delivery.Recording{AudioPath: p, Metadata: delivery.Metadata{ID: ".hidden"}}, want: delivery.ErrInvalidRecording},
		{name: "BadExt", rec: delivery.Recording{AudioPath: p, Metadata: delivery.Metadata{AudioExt: "wav"}}, want: delivery.ErrInvalidRecording},
		{name: "WrongDigest", rec: delivery.Recording{AudioPath: p, Metadata: delivery.Metadata{SHA256: "00" + sum[2:]}}, want: delivery.ErrChecksumMismatch},
		{name: "Cancelled", ctx: cancelled, rec: delivery.Recording{AudioPath: p}, want: context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			require.ErrorIs(t, q.Enqueue(ctx, tc.rec), tc.want)
			b, err := os.ReadFile(p)
			require.NoError(t, err, "the caller's file stays")
			assert.Equal(t, deliverytest.Audio("good", 100), b)
			assert.Zero(t, q.Stats().Queued)
		})
	}
	require.NoError(t, q.Enqueue(context.Background(), delivery.Recording{AudioPath: p, Metadata: delivery.Metadata{ID: "fixed-id", SHA256: sum}}))
	p2, _ := writeSource(t, src, "again", 10)
	require.ErrorIs(t, q.Enqueue(context.Background(), delivery.Recording{AudioPath: p2, Metadata: delivery.Metadata{ID: "fixed-id"}}), delivery.ErrDuplicateID)
	_, err := os.Stat(p2)
	require.NoError(t, err)
}

func TestNewConfig(t *testing.T) {
	sink := newFlakySink(nil)
	for _, tc := range []struct {
		name  string
		cfg   delivery.Config
		field string
	}{
		{name: "NoDir", cfg: delivery.Config{Sink: sink}, field: "Dir"},
		{name: "NoSink", cfg: delivery.Config{Dir: "x"}, field: "Sink"},
		{name: "Workers", cfg: delivery.Config{Dir: "x", Sink: sink, Workers: -1}, field: "Workers"},
		{name: "Timeout", cfg: delivery.Config{Dir: "x", Sink: sink, AttemptTimeout: -1}, field: "AttemptTimeout"},
		{name: "Base", cfg: delivery.Config{Dir: "x", Sink: sink, Backoff: delivery.Backoff{Base: -1}}, field: "Backoff.Base"},
		{name: "Cap", cfg: delivery.Config{Dir: "x", Sink: sink, Backoff: delivery.Backoff{Base: time.Second, Cap: time.Millisecond}}, field: "Backoff.Cap"},
		{name: "MaxAttempts", cfg: delivery.Config{Dir: "x", Sink: sink, Backoff: delivery.Backoff{MaxAttempts: -2}}, field: "Backoff.MaxAttempts"},
		{name: "Threshold", cfg: delivery.Config{Dir: "x", Sink: sink, Circuit: delivery.Circuit{Threshold: -1}}, field: "Circuit.Threshold"},
		{name: "MaxOpen", cfg: delivery.Config{Dir: "x", Sink: sink, Circuit: delivery.Circuit{MinOpen: time.Minute, MaxOpen: time.Second}}, field: "Circuit.MaxOpen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := delivery.New(tc.cfg)
			require.ErrorIs(t, err, delivery.ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.field)
		})
	}
}

func TestQueueDiskSpace(t *testing.T) {
	q := newQueue(t, delivery.Config{Sink: newFlakySink(nil)})
	ds, err := q.DiskSpace()
	require.NoError(t, err)
	assert.Positive(t, ds.Total)
	assert.LessOrEqual(t, ds.Free, ds.Total)
}

// TestQueueEnqueuedCountedOnceDespiteRescans enqueues while the queue
// rescans its spool every millisecond, so that a rescan often lists an
// entry between its commit and Enqueue's bookkeeping. Each recording must
// still count once as enqueued and be tracked once.
func TestQueueEnqueuedCountedOnceDespiteRescans(t *testing.T) {
	const n = 60
	q := newQueue(t, delivery.Config{Sink: newFlakySink(nil), RescanInterval: time.Millisecond})
	require.NoError(t, q.Start())
	src := t.TempDir()
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			for i := range n / 3 {
				p, _ := writeSource(t, src, fmt.Sprintf("w%d-%02d", w, i), 100)
				assert.NoError(t, q.Enqueue(context.Background(), delivery.Recording{AudioPath: p}))
			}
		})
	}
	wg.Wait()
	waitFor(t, "delivery", 20*time.Second, func() bool { return q.Stats().Queued == 0 })
	st := q.Stats()
	assert.Equal(t, uint64(n), st.Enqueued)
	assert.Equal(t, uint64(n), st.Delivered)
}

// TestQueueHonoursRetryAfter checks that a destination's Retry-After
// postpones the next attempt beyond the (much shorter) backoff, and no
// further.
func TestQueueHonoursRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		sink := delivery.SinkFunc(func(context.Context, delivery.Item) error {
			if calls.Add(1) == 1 {
				return delivery.Retryable(errors.New("503 busy"), 10*time.Minute)
			}
			return nil
		})
		q := newQueue(t, delivery.Config{Sink: sink, RescanInterval: -1,
			Backoff: delivery.Backoff{Base: time.Millisecond, Cap: time.Millisecond},
			Circuit: delivery.Circuit{Threshold: 1000}})
		enqueue(t, q, t.TempDir(), 1, 10)
		require.NoError(t, q.Start())
		synctest.Wait()
		require.Equal(t, uint64(1), q.Stats().Retried, "first attempt")

		time.Sleep(10*time.Minute - time.Second)
		synctest.Wait() // every goroutine waits: no early attempt is pending
		assert.Equal(t, int32(1), calls.Load(), "retried before Retry-After")
		assert.Zero(t, q.Stats().Delivered)

		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, uint64(1), q.Stats().Delivered, "retry after Retry-After")
		assert.Equal(t, int32(2), calls.Load())
	})
}
