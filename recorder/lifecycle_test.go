package recorder_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/recorder/recordertest"
)

func TestPause(t *testing.T) {
	tests := map[string]struct {
		mode     recorder.PauseMode
		duration time.Duration
		check    func(t *testing.T, a audio)
	}{
		"silence": {
			mode:     recorder.PauseSilence,
			duration: 4 * time.Second,
			check: func(t *testing.T, a audio) {
				for ch, f := range []float64{440, 1000} {
					assertTone(t, a, ch, 0, time.Second, f, 1440-f)
					assertSilent(t, a, ch, time.Second, 2500*time.Millisecond)
					assertTone(t, a, ch, 2500*time.Millisecond, 3900*time.Millisecond, f, 1440-f)
					assertSilent(t, a, ch, 3900*time.Millisecond, 4*time.Second)
				}
			},
		},
		"omit": {
			mode:     recorder.PauseOmit,
			duration: 2400 * time.Millisecond,
			check: func(t *testing.T, a audio) {
				assertContinuousTone(t, a, left, 0, 2400*time.Millisecond, 440)
				assertTone(t, a, right, 0, 2400*time.Millisecond, 1000, 440)
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c := newCall(t, func(cfg *recorder.Config) {
				cfg.PauseMode = tt.mode
				cfg.CalleePayloadTypes = recorder.PayloadTypes{0: recorder.CodecPCMU, 101: recorder.CodecTelephoneEvent}
			})
			for i := range 200 {
				d := time.Duration(i) * 20 * time.Millisecond
				c.clk.Set(at(d))
				switch i {
				case 50, 195:
					require.NoError(t, c.rec.Pause())
					require.NoError(t, c.rec.Pause(), "pausing twice is harmless")
				case 125:
					require.NoError(t, c.rec.Resume())
					require.NoError(t, c.rec.Resume(), "resuming twice is harmless")
				}
				c.send(c.rec.Caller(), c.caller.Next(), d)
				p := c.callee.Next()
				switch i {
				case 100: // key 9 while paused: counted, not reported
					p.PayloadType, p.Payload = 101, []byte{9, 0x80 | 10, 0, 160}
				case 150:
					p.PayloadType, p.Payload = 101, []byte{1, 0x80 | 10, 0, 160}
				}
				c.send(c.rec.Callee(), p, d)
			}
			res, a := c.close(4 * time.Second) // closes the open pause

			assert.Equal(t, []recorder.Interval{
				{Start: time.Second, End: 2500 * time.Millisecond},
				{Start: 3900 * time.Millisecond, End: 4 * time.Second},
			}, res.Pauses)
			assert.Equal(t, tt.duration, a.Duration())
			assert.Equal(t, tt.duration, res.Duration)
			tt.check(t, a)
			assert.EqualValues(t, 2, res.Callee.DTMFEvents)
			require.Len(t, res.DTMF, 1)
			assert.Equal(t, '1', res.DTMF[0].Digit)
			assert.Equal(t, 3*time.Second, res.DTMF[0].At)
		})
	}
}

// assertContinuousTone checks that channel ch has freq in every 20 ms slot.
func assertContinuousTone(t *testing.T, a audio, ch int, from, to time.Duration, freq float64) {
	t.Helper()
	assertTone(t, a, ch, from, to, freq, 1440-freq)
	for d := from; d+20*time.Millisecond <= to; d += 20 * time.Millisecond {
		require.Greater(t, recordertest.RMS(a.Segment(ch, d, d+20*time.Millisecond)), 1000.0, "channel %d has a gap at %v", ch, d)
	}
}

func TestConfigValidation(t *testing.T) {
	dir := t.TempDir()
	tests := map[string]struct {
		cfg   recorder.Config
		field string
	}{
		"no output":           {cfg: recorder.Config{}, field: "Path"},
		"two outputs":         {cfg: recorder.Config{Path: dir + "/a.wav", Writer: &recordertest.Discard{}}, field: "Writer"},
		"mode":                {cfg: recorder.Config{Writer: &recordertest.Discard{}, Mode: 7}, field: "Mode"},
		"pause mode":          {cfg: recorder.Config{Writer: &recordertest.Discard{}, PauseMode: 3}, field: "PauseMode"},
		"negative window":     {cfg: recorder.Config{Writer: &recordertest.Discard{}, JitterWindow: -time.Millisecond}, field: "JitterWindow"},
		"huge window":         {cfg: recorder.Config{Writer: &recordertest.Discard{}, JitterWindow: time.Minute}, field: "JitterWindow"},
		"tiny window":         {cfg: recorder.Config{Writer: &recordertest.Discard{}, JitterWindow: time.Microsecond}, field: "JitterWindow"},
		"negative interval":   {cfg: recorder.Config{Writer: &recordertest.Discard{}, HeaderInterval: -time.Second}, field: "HeaderInterval"},
		"caller pt above 127": {cfg: recorder.Config{Writer: &recordertest.Discard{}, CallerPayloadTypes: recorder.PayloadTypes{200: recorder.CodecPCMU}}, field: "CallerPayloadTypes"},
		"callee codec":        {cfg: recorder.Config{Writer: &recordertest.Discard{}, CalleePayloadTypes: recorder.PayloadTypes{96: 99}}, field: "CalleePayloadTypes"},
		"sync without Sync":   {cfg: recorder.Config{Writer: &recordertest.File{}, Sync: true}, field: "Sync"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			rec, err := recorder.New(tt.cfg)
			require.ErrorIs(t, err, recorder.ErrInvalidConfig)
			assert.Nil(t, rec)
			var ce *recorder.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.field, ce.Field)
			assert.Contains(t, err.Error(), tt.field)
		})
	}
}

func TestNewNeverOverwrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "exists.wav")
	require.NoError(t, os.WriteFile(path, []byte("precious"), 0o600))
	_, err := recorder.New(recorder.Config{Path: path})
	require.ErrorIs(t, err, recorder.ErrWrite)
	require.ErrorIs(t, err, os.ErrExist)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "precious", string(data))
}

func TestCloseIsIdempotent(t *testing.T) {
	c := newCall(t, nil)
	c.talk(0, time.Second, true, true)
	c.clk.Set(at(time.Second))

	var wg sync.WaitGroup
	results := make([]recorder.Result, 4)
	for i := range results {
		wg.Go(func() {
			res, err := c.rec.Close(context.Background())
			assert.NoError(t, err)
			results[i] = res
		})
	}
	wg.Wait()
	<-c.rec.Done()
	for _, res := range results[1:] {
		assert.Equal(t, results[0], res)
	}
	raw := marshal(t, c.caller.Next())
	assert.ErrorIs(t, c.rec.Caller().Write(raw, at(time.Second)), recorder.ErrClosed)
	assert.ErrorIs(t, c.rec.Callee().Write(raw[:3], at(time.Second)), recorder.ErrClosed)
	assert.ErrorIs(t, c.rec.Pause(), recorder.ErrClosed)
	assert.ErrorIs(t, c.rec.Resume(), recorder.ErrClosed)
	assert.Equal(t, time.Second, results[0].Duration)
}

// TestPauseOfNoLengthDropped pauses and resumes at one instant: the
// recording reports no pause.
func TestPauseOfNoLengthDropped(t *testing.T) {
	c := newCall(t, nil)
	c.clk.Set(at(time.Second))
	require.NoError(t, c.rec.Pause())
	require.NoError(t, c.rec.Resume())
	c.clk.Set(at(2 * time.Second))
	res, err := c.rec.Close(context.Background())
	require.NoError(t, err)
	assert.Empty(t, res.Pauses)
}

// TestConcurrentLegs feeds both legs from their own goroutines while a third
// pauses and resumes; run with -race.
func TestConcurrentLegs(t *testing.T) {
	c := newCall(t, nil)
	c.clk.Set(at(2 * time.Second))
	var wg sync.WaitGroup
	for _, side := range []struct {
		leg *recorder.Leg
		g   *recordertest.Tone
	}{{c.rec.Caller(), c.caller}, {c.rec.Callee(), c.callee}} {
		wg.Go(func() {
			for i := range 250 {
				assert.NoError(t, side.leg.Write(marshal(t, side.g.Next()), at(time.Duration(i)*20*time.Millisecond)))
				_ = side.leg.Stats()
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			assert.NoError(t, c.rec.Pause())
			assert.NoError(t, c.rec.Resume())
		}
	})
	wg.Wait()
	c.clk.Set(at(5 * time.Second))
	res, err := c.rec.Close(context.Background())
	require.NoError(t, err)
	// A pause has a length only when the other goroutines' packets moved
	// the mix on between its Pause and Resume; either way the reported
	// pauses are ordered, disjoint, non-empty and inside the recording.
	var last time.Duration
	for _, p := range res.Pauses {
		assert.Greater(t, p.End, p.Start, "pauses of no length are dropped")
		assert.GreaterOrEqual(t, p.Start, last, "pauses are ordered and disjoint")
		last = p.End
	}
	assert.LessOrEqual(t, last, res.Duration)
	assert.EqualValues(t, 250, res.Caller.Decoded+res.Caller.Late)
	assert.EqualValues(t, 250, res.Callee.Decoded+res.Callee.Late)
	assert.InDelta(t, 5*time.Second, res.Duration, float64(20*time.Millisecond), "%+v", res)
}

func TestWriterOutput(t *testing.T) {
	t.Run("readable writer gets a hash", func(t *testing.T) {
		f := &recordertest.File{}
		c := newCall(t, func(cfg *recorder.Config) { cfg.Path, cfg.Writer = "", f })
		c.talk(0, time.Second, true, true)
		res, _ := c.close(time.Second)
		sum := sha256.Sum256(f.Data)
		assert.Equal(t, hex.EncodeToString(sum[:]), res.SHA256)
		assert.EqualValues(t, len(f.Data), res.Size)
		assert.Empty(t, res.Path)
		a := decodeWAV(t, f.Data)
		assertTone(t, a, left, 0, time.Second, 440, 1000)
	})
	t.Run("write-only writer has no hash", func(t *testing.T) {
		w := &recordertest.Discard{}
		c := newCall(t, func(cfg *recorder.Config) { cfg.Path, cfg.Writer = "", w })
		c.talk(0, time.Second, true, true)
		res, _ := c.close(time.Second)
		assert.Empty(t, res.SHA256)
		assert.Equal(t, w.Size, res.Size)
		assert.EqualValues(t, recorder.HeaderSize+8000*4, w.Size)
	})
	t.Run("cancelled hash", func(t *testing.T) {
		c := newCall(t, nil)
		c.talk(0, time.Second, true, true)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		res, err := c.rec.Close(ctx)
		require.ErrorIs(t, err, context.Canceled)
		assert.Empty(t, res.SHA256)
		assert.Equal(t, time.Second, res.Duration, "the file is complete without its hash")
		assertTone(t, readWAV(t, c.path), left, 0, time.Second, 440, 1000)
	})
}

// failingWriter accepts writes until the file would exceed limit bytes,
// then fails every write.
type failingWriter struct {
	recordertest.Discard
	limit int64
}

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.Size+int64(len(p)) > w.limit {
		return 0, errDiskFull
	}
	return w.Discard.Write(p)
}

func TestOutputFailure(t *testing.T) {
	w := &failingWriter{limit: 20000}
	c := newCall(t, func(cfg *recorder.Config) { cfg.Path, cfg.Writer = "", w })
	var writeErr error
	for i := 0; i < 150 && writeErr == nil; i++ {
		writeErr = c.rec.Caller().Write(marshal(t, c.caller.Next()), at(time.Duration(i)*20*time.Millisecond))
	}
	require.ErrorIs(t, writeErr, recorder.ErrWrite)
	require.ErrorIs(t, writeErr, errDiskFull)
	c.clk.Set(at(3 * time.Second))
	_, err := c.rec.Close(context.Background())
	require.ErrorIs(t, err, recorder.ErrWrite)
	require.ErrorIs(t, err, errDiskFull)
}

func TestLegStatsSnapshot(t *testing.T) {
	c := newCall(t, nil)
	c.talk(0, 200*time.Millisecond, true, false)
	c.caller.Skip()
	c.talk(220*time.Millisecond, 300*time.Millisecond, true, false)
	s := c.rec.Caller().Stats()
	assert.EqualValues(t, 14, s.Received)
	assert.EqualValues(t, 1, s.Lost)
	assert.Equal(t, recorder.SideCaller, c.rec.Caller().Side())
	assert.Equal(t, "callee", c.rec.Callee().Side().String())
	assert.Equal(t, at(0), c.rec.Start())
	_, err := c.rec.Close(context.Background())
	require.NoError(t, err)
}

// syncingFile is an in-memory file that records, at each Sync, the data
// size its header claims and the data it holds.
type syncingFile struct {
	recordertest.File
	synced  [][2]int64 // header DataSize, data bytes present
	failing error      // returned by Sync when set
}

func (f *syncingFile) Sync() error {
	if f.failing != nil {
		return f.failing
	}
	var h recorder.Header
	if err := h.Unmarshal(f.Data); err != nil {
		return err
	}
	f.synced = append(f.synced, [2]int64{int64(h.DataSize), int64(len(f.Data)) - recorder.HeaderSize})
	return nil
}

func TestSync(t *testing.T) {
	t.Run("after each header update", func(t *testing.T) {
		f := &syncingFile{}
		c := newCall(t, func(cfg *recorder.Config) { cfg.Path, cfg.Writer, cfg.Sync = "", f, true })
		c.talk(0, 3*time.Second, true, true)
		require.Len(t, f.synced, 3, "New's empty header, then one flush per second of audio so far: %v", f.synced)
		res, _ := c.close(3 * time.Second)

		const second = recorder.SampleRate * 4
		require.Len(t, f.synced, 4, "and once at Close: %v", f.synced)
		assert.Equal(t, [2]int64{0, 0}, f.synced[0])
		for i, s := range f.synced {
			assert.Equal(t, s[1], s[0], "flush %d: the header describes exactly the data on disk", i)
			if i > 0 {
				assert.Greater(t, s[0], f.synced[i-1][0])
				assert.LessOrEqual(t, s[0]-f.synced[i-1][0], int64(second+8<<10), "at most HeaderInterval and one write buffer apart")
			}
		}
		assert.Equal(t, res.Size-recorder.HeaderSize, f.synced[3][0])
	})
	t.Run("a failed sync is a write error", func(t *testing.T) {
		f := &syncingFile{failing: errDiskFull}
		_, err := recorder.New(recorder.Config{Writer: f, Sync: true})
		require.ErrorIs(t, err, recorder.ErrWrite)
		require.ErrorIs(t, err, errDiskFull)
	})
	t.Run("a file from Path", func(t *testing.T) {
		c := newCall(t, func(cfg *recorder.Config) { cfg.Sync = true })
		c.talk(0, 2*time.Second, true, true)
		res, a := c.close(2 * time.Second)
		assert.Equal(t, 2*time.Second, res.Duration)
		assertTone(t, a, left, 0, 2*time.Second, 440, 1000)
	})
}

// blockingSyncFile is an in-memory file whose Syncs, once armed, wait for
// release, like a flush to a slow disk.
type blockingSyncFile struct {
	recordertest.File
	armed   atomic.Bool
	once    sync.Once
	entered chan struct{} // closed when a Sync starts waiting
	release chan struct{}
}

func (f *blockingSyncFile) Sync() error {
	if !f.armed.Load() {
		return nil
	}
	f.once.Do(func() { close(f.entered) })
	<-f.release
	return nil
}

// TestSlowHeaderUpdateDoesNotStallTheOtherLeg holds a header update's
// flush, started by a packet of the caller's leg, and checks that the
// callee's leg goes on recording meanwhile into the other buffer, past
// the next header interval, and that the file is whole.
func TestSlowHeaderUpdateDoesNotStallTheOtherLeg(t *testing.T) {
	const (
		interval = 100 * time.Millisecond // the header is due every 3,200 bytes
		ahead    = 8                      // callee packets sent during the flush: 160 ms, 5,120 bytes < 8 KiB
	)
	f := &blockingSyncFile{entered: make(chan struct{}), release: make(chan struct{})}
	c := newCall(t, func(cfg *recorder.Config) {
		cfg.Path, cfg.Writer, cfg.Sync = "", f, true
		cfg.HeaderInterval = interval
		cfg.JitterWindow = 300 * time.Millisecond // the stalled caller's packets stay playable
	})
	const start = 50
	c.talk(0, start*20*time.Millisecond, true, true)
	f.armed.Store(true)

	// The caller sends on until one of its packets makes a header due and
	// its Write blocks in the flush.
	var blocked atomic.Int64
	callerDone := make(chan error, 1)
	go func() {
		for i := start; i < start+10; i++ {
			blocked.Store(int64(i))
			if err := c.rec.Caller().Write(marshal(t, c.caller.Next()), at(time.Duration(i)*20*time.Millisecond)); err != nil {
				callerDone <- err
				return
			}
			select {
			case <-f.entered:
				callerDone <- nil
				return
			default:
			}
		}
		callerDone <- errors.New("no header update in 200 ms of audio")
	}()
	select {
	case <-f.entered:
	case err := <-callerDone:
		t.Fatal(err)
	}
	last := int(blocked.Load())

	calleeDone := make(chan error, 1)
	go func() {
		for i := start; i <= last+ahead; i++ {
			if err := c.rec.Callee().Write(marshal(t, c.callee.Next()), at(time.Duration(i)*20*time.Millisecond)); err != nil {
				calleeDone <- err
				return
			}
		}
		calleeDone <- nil
	}()
	select {
	case err := <-calleeDone:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		close(f.release)
		t.Fatal("the callee's leg waited for the caller's header flush")
	}
	close(f.release)
	require.NoError(t, <-callerDone)

	for i := last + 1; i < 100; i++ {
		d := time.Duration(i) * 20 * time.Millisecond
		c.send(c.rec.Caller(), c.caller.Next(), d)
		if i > last+ahead {
			c.send(c.rec.Callee(), c.callee.Next(), d)
		}
	}
	c.clk.Set(at(2 * time.Second))
	res, err := c.rec.Close(context.Background())
	require.NoError(t, err)
	assert.Zero(t, res.Caller.Late+res.Callee.Late+res.Caller.Reanchors+res.Callee.Reanchors)
	a := decodeWAV(t, f.Data)
	assertContinuous(t, a, left, 0, 2*time.Second)
	assertContinuousTone(t, a, right, 0, 2*time.Second, 1000)
}

// TestSecondCloseHonoursItsContext holds the first Close in its final
// flush and checks that a second Close returns when its own context ends,
// then the first Close's result once it has finished.
func TestSecondCloseHonoursItsContext(t *testing.T) {
	f := &blockingSyncFile{entered: make(chan struct{}), release: make(chan struct{})}
	c := newCall(t, func(cfg *recorder.Config) { cfg.Path, cfg.Writer, cfg.Sync = "", f, true })
	c.talk(0, 500*time.Millisecond, true, true)
	c.clk.Set(at(500 * time.Millisecond))
	f.armed.Store(true)
	first := make(chan error, 1)
	go func() {
		_, err := c.rec.Close(context.Background())
		first <- err
	}()
	<-f.entered

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	second := make(chan error, 1)
	go func() {
		_, err := c.rec.Close(ctx)
		second <- err
	}()
	select {
	case err := <-second:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		close(f.release)
		t.Fatal("the second Close ignored its context")
	}

	close(f.release)
	require.NoError(t, <-first)
	res, err := c.rec.Close(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 500*time.Millisecond, res.Duration)
}
