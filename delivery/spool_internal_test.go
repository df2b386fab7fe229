package delivery

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// failingFile fails its writes after budget bytes with err.
type failingFile struct {
	writeFile
	budget int
	err    error
}

func (f *failingFile) Write(p []byte) (int, error) {
	if len(p) > f.budget {
		n, _ := f.writeFile.Write(p[:f.budget])
		f.budget = 0
		return n, f.err
	}
	f.budget -= len(p)
	return f.writeFile.Write(p)
}

func TestEnqueueSpoolErrorsLeaveCallerFile(t *testing.T) {
	exdev := func(string, string) error { return &os.LinkError{Op: "link", Err: syscall.EXDEV} }
	for _, tc := range []struct {
		name   string
		link   func(string, string) error
		create func(string) (writeFile, error)
		want   error
	}{
		{name: "FullDuringCopy", link: exdev, create: failAfter(1000, syscall.ENOSPC), want: ErrSpoolFull},
		{name: "QuotaDuringCopy", link: exdev, create: failAfter(0, syscall.EDQUOT), want: ErrSpoolFull},
		{name: "FullWritingMetadata", create: failAfter(10, syscall.ENOSPC), want: ErrSpoolFull},
		{name: "ReadOnlyFileSystem", link: exdev, create: failOpen(syscall.EROFS), want: ErrSpoolReadOnly},
		{name: "PermissionDenied", create: failOpen(syscall.EACCES), want: ErrSpoolReadOnly},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hooks := defaultHooks()
			if tc.link != nil {
				hooks.link = tc.link
			}
			hooks.create = tc.create
			spool := t.TempDir()
			q, err := New(Config{Dir: spool, Sink: SinkFunc(func(context.Context, Item) error { return nil }), hooks: hooks})
			require.NoError(t, err)
			defer q.Close()
			src := filepath.Join(t.TempDir(), "call.wav")
			data := make([]byte, 5000)
			for i := range data {
				data[i] = byte(i * 7)
			}
			require.NoError(t, os.WriteFile(src, data, 0o640))

			err = q.Enqueue(context.Background(), Recording{AudioPath: src, Metadata: Metadata{CallID: "c"}})
			require.ErrorIs(t, err, tc.want)
			got, rerr := os.ReadFile(src)
			require.NoError(t, rerr, "the caller's file is where it was")
			assert.Equal(t, data, got)
			for _, d := range []string{dirQueue, dirTmp} {
				ents, err := os.ReadDir(filepath.Join(spool, d))
				require.NoError(t, err)
				assert.Empty(t, ents, d)
			}
			assert.Zero(t, q.Stats().Queued)
		})
	}
}

func failAfter(budget int, errno syscall.Errno) func(string) (writeFile, error) {
	return func(name string) (writeFile, error) {
		f, err := defaultHooks().create(name)
		if err != nil {
			return nil, err
		}
		return &failingFile{writeFile: f, budget: budget, err: &os.PathError{Op: "write", Path: name, Err: errno}}, nil
	}
}

func failOpen(errno syscall.Errno) func(string) (writeFile, error) {
	return func(name string) (writeFile, error) {
		return nil, &os.PathError{Op: "open", Path: name, Err: errno}
	}
}

// TestEnqueueReadOnlySpoolDir uses real permissions, which root bypasses.
func TestEnqueueReadOnlySpoolDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions; TestEnqueueSpoolErrorsLeaveCallerFile injects EACCES instead")
	}
	spool := t.TempDir()
	q, err := New(Config{Dir: spool, Sink: SinkFunc(func(context.Context, Item) error { return nil })})
	require.NoError(t, err)
	defer q.Close()
	require.NoError(t, os.Chmod(filepath.Join(spool, dirTmp), 0o500))
	defer os.Chmod(filepath.Join(spool, dirTmp), 0o750)
	src := filepath.Join(t.TempDir(), "call.wav")
	require.NoError(t, os.WriteFile(src, []byte("audio"), 0o640))
	require.ErrorIs(t, q.Enqueue(context.Background(), Recording{AudioPath: src}), ErrSpoolReadOnly)
	_, err = os.Stat(src)
	require.NoError(t, err)
}

func TestEnqueueCopiesAcrossFileSystems(t *testing.T) {
	hooks := defaultHooks()
	hooks.link = func(string, string) error { return &os.LinkError{Op: "link", Err: syscall.EXDEV} }
	spool := t.TempDir()
	q, err := New(Config{Dir: spool, Sink: SinkFunc(func(context.Context, Item) error { return nil }), hooks: hooks})
	require.NoError(t, err)
	defer q.Close()
	src := filepath.Join(t.TempDir(), "call.WAV")
	require.NoError(t, os.WriteFile(src, []byte("RIFF audio"), 0o640))
	md, err := q.enqueue(context.Background(), Recording{AudioPath: src, Metadata: Metadata{CallID: "c"}})
	require.NoError(t, err)
	assert.Equal(t, ".wav", md.AudioExt)
	assert.Equal(t, int64(10), md.Size)
	got, err := os.ReadFile(q.spool.audioPath(&md))
	require.NoError(t, err)
	assert.Equal(t, "RIFF audio", string(got))
	_, err = os.Stat(src)
	assert.ErrorIs(t, err, os.ErrNotExist, "the caller's file is removed after commit")
}

func TestSpoolErrorClassification(t *testing.T) {
	for _, tc := range []struct {
		errno syscall.Errno
		want  error
	}{
		{syscall.ENOSPC, ErrSpoolFull},
		{syscall.EDQUOT, ErrSpoolFull},
		{syscall.EROFS, ErrSpoolReadOnly},
		{syscall.EACCES, ErrSpoolReadOnly},
		{syscall.EPERM, ErrSpoolReadOnly},
	} {
		t.Run(tc.errno.Error(), func(t *testing.T) {
			err := spoolError("write", &os.PathError{Op: "write", Path: "x", Err: tc.errno})
			require.ErrorIs(t, err, tc.want)
			require.ErrorIs(t, err, tc.errno)
		})
	}
	err := spoolError("write", io.ErrUnexpectedEOF)
	assert.False(t, errors.Is(err, ErrSpoolFull) || errors.Is(err, ErrSpoolReadOnly))
	assert.NoError(t, spoolError("x", nil))
}

func TestBackoff(t *testing.T) {
	b, err := Backoff{Base: 100 * time.Millisecond, Cap: time.Second}.withDefaults()
	require.NoError(t, err)
	for _, tc := range []struct {
		attempt int
		ceiling time.Duration
	}{
		{1, 100 * time.Millisecond},
		{2, 200 * time.Millisecond},
		{3, 400 * time.Millisecond},
		{4, 800 * time.Millisecond},
		{5, time.Second},
		{60, time.Second},
		{1 << 30, time.Second},
	} {
		assert.Equal(t, tc.ceiling, b.ceiling(tc.attempt), "attempt %d", tc.attempt)
		assert.Zero(t, b.delay(tc.attempt, 0))
		assert.Equal(t, tc.ceiling/2, b.delay(tc.attempt, 0.5))
		assert.Less(t, b.delay(tc.attempt, 0.999999), tc.ceiling+1)
	}
	assert.Equal(t, defaultMaxAge, b.MaxAge)
	assert.True(t, b.exhausted(1, defaultMaxAge))
	assert.False(t, b.exhausted(1000, time.Hour))
	b.MaxAttempts, b.MaxAge = 3, -1
	assert.True(t, b.exhausted(3, 0))
	assert.False(t, b.exhausted(2, 1000*time.Hour))
}

func TestBreaker(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	cfg, err := Circuit{Threshold: 2, MinOpen: time.Second, MaxOpen: 4 * time.Second}.withDefaults()
	require.NoError(t, err)
	b := breaker{cfg: cfg}
	permit := func(at time.Duration) (bool, bool) {
		ok, probe, _ := b.permit(t0.Add(at))
		return ok, probe
	}
	ok, probe := permit(0)
	require.True(t, ok)
	require.False(t, probe)
	b.failure(t0, false, 0, 0, false)
	assert.Equal(t, CircuitClosed, b.state, "one failure is below the threshold")
	b.failure(t0, false, 0, 0, false)
	require.Equal(t, CircuitOpen, b.state)
	// Cool-down with r=0 is MinOpen/2.
	ok, _ = permit(400 * time.Millisecond)
	assert.False(t, ok)
	ok, probe = permit(500 * time.Millisecond)
	require.True(t, ok)
	require.True(t, probe)
	b.start(true)
	ok, _ = permit(600 * time.Millisecond)
	assert.False(t, ok, "one probe at a time")
	b.failure(t0.Add(time.Second), true, 0, 0.5, false)
	require.Equal(t, CircuitOpen, b.state)
	// Second opening: 2s, jittered into [1s, 2s); r=0.5 gives 1.5s.
	assert.Equal(t, t0.Add(time.Second+1500*time.Millisecond), b.openUntil, "cool-down doubles")
	b.failure(t0.Add(time.Second), false, 0, 0, false)
	assert.Equal(t, CircuitOpen, b.state, "late failures do not extend the cool-down")
	// A Retry-After longer than the cool-down wins.
	ok, probe = permit(10 * time.Second)
	require.True(t, ok && probe)
	b.start(true)
	b.failure(t0.Add(10*time.Second), true, time.Minute, 0, false)
	assert.Equal(t, t0.Add(70*time.Second), b.openUntil)
	ok, probe = permit(70 * time.Second)
	require.True(t, ok && probe)
	b.start(true)
	assert.True(t, b.success(true), "a successful probe closes the circuit")
	assert.Equal(t, CircuitClosed, b.state)
	assert.False(t, b.success(false))
	// Abandoned probes free the slot.
	b.failure(t0, false, 0, 0, false)
	b.failure(t0, false, 0, 0, false)
	ok, probe = permit(time.Hour)
	require.True(t, ok && probe)
	b.start(true)
	b.abandon(true)
	ok, _ = permit(time.Hour)
	assert.True(t, ok)
}

func TestCircuitStateString(t *testing.T) {
	for s, want := range map[CircuitState]string{CircuitClosed: "closed", CircuitOpen: "open", CircuitHalfOpen: "half-open", 9: "invalid"} {
		assert.Equal(t, want, s.String())
		b, err := s.MarshalText()
		require.NoError(t, err)
		assert.Equal(t, want, string(b))
	}
}

func TestEnqueueAgainAfterCrashBeforeSourceRemoval(t *testing.T) {
	for _, mode := range []string{"link", "copy"} {
		t.Run(mode, func(t *testing.T) {
			q, err := New(Config{Dir: t.TempDir(), Sink: SinkFunc(func(context.Context, Item) error { return nil })})
			require.NoError(t, err)
			defer q.Close()
			src := filepath.Join(t.TempDir(), "call.wav")
			require.NoError(t, os.WriteFile(src, []byte("RIFF audio"), 0o640))
			md, err := q.enqueue(context.Background(), Recording{AudioPath: src, Metadata: Metadata{ID: "call-1"}})
			require.NoError(t, err)
			// Put the caller's file back as a crash before its removal would
			// have left it.
			if mode == "link" {
				require.NoError(t, os.Link(q.spool.audioPath(&md), src))
			} else {
				require.NoError(t, os.WriteFile(src, []byte("RIFF audio"), 0o640))
			}
			again, err := q.enqueue(context.Background(), Recording{AudioPath: src, Metadata: Metadata{ID: "call-1"}})
			require.NoError(t, err)
			assert.Equal(t, md.SHA256, again.SHA256)
			_, err = os.Stat(src)
			assert.ErrorIs(t, err, os.ErrNotExist)
			st := q.Stats()
			assert.Equal(t, 1, st.Queued)
			assert.Equal(t, uint64(1), st.Enqueued)

			require.NoError(t, os.WriteFile(src, []byte("RIFF other"), 0o640))
			_, err = q.enqueue(context.Background(), Recording{AudioPath: src, Metadata: Metadata{ID: "call-1"}})
			require.ErrorIs(t, err, ErrDuplicateID)
			_, err = os.Stat(src)
			require.NoError(t, err, "different audio stays with the caller")
		})
	}
}

// TestBreakerHealthWake: a passing health check ends the cool-down; when
// the probe it let through fails, health checks are ignored until that new
// cool-down ends, then trusted again; a success clears everything.
func TestBreakerHealthWake(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	b := breaker{cfg: Circuit{Threshold: 1, MinOpen: 10 * time.Second, MaxOpen: time.Minute}}
	b.failure(t0, false, 0, 0.999, false)
	require.Equal(t, CircuitOpen, b.state)
	assert.True(t, b.healthy(t0.Add(time.Second)), "a passing check ends the cool-down")
	ok, probe, _ := b.permit(t0.Add(time.Second))
	require.True(t, ok && probe)
	b.start(true)
	b.failure(t0.Add(2*time.Second), true, 0, 0.999, false) // the probe fails anyway
	require.Equal(t, CircuitOpen, b.state)
	until := b.openUntil
	assert.False(t, b.healthy(t0.Add(3*time.Second)), "distrusted for the rest of the cool-down")
	assert.Equal(t, until, b.openUntil)
	ok, probe, _ = b.permit(until)
	require.True(t, ok && probe)
	b.start(true)
	b.failure(until, true, 0, 0.999, false) // a cool-down probe fails: not health-woken
	assert.True(t, b.healthy(until.Add(time.Second)), "trusted again")
	ok, probe, _ = b.permit(until.Add(time.Second))
	require.True(t, ok && probe)
	b.start(true)
	assert.True(t, b.success(true))
	assert.False(t, b.healthWoke)
	assert.True(t, b.distrustUntil.IsZero())
	assert.False(t, b.healthy(until.Add(2*time.Second)), "a closed circuit needs no wake")
}
