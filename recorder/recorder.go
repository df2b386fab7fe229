package recorder

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/callrec/callrec/internal/ctxio"
)

// Mode chooses how the two directions of a call share the file.
type Mode uint8

// Modes. The zero value is Stereo.
const (
	Stereo Mode = iota // two channels: caller left, callee right
	Mono               // one channel: both directions mixed, saturating
)

// String returns "stereo" or "mono".
func (m Mode) String() string {
	if m == Mono {
		return "mono"
	}
	return "stereo"
}

// MarshalText encodes the mode as "stereo" or "mono", also in JSON.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText decodes "stereo" or "mono".
func (m *Mode) UnmarshalText(b []byte) error {
	switch string(b) {
	case "stereo":
		*m = Stereo
	case "mono":
		*m = Mono
	default:
		return fmt.Errorf("recorder: unknown mode %q", b)
	}
	return nil
}

// PauseMode chooses what the file holds while a recording is paused.
type PauseMode uint8

// Pause modes. The zero value is PauseSilence.
const (
	PauseSilence PauseMode = iota // paused spans are silence of their length
	PauseOmit                     // paused spans are left out of the file
)

// Defaults applied to zero fields of [Config].
const (
	DefaultJitterWindow   = 60 * time.Millisecond
	DefaultHeaderInterval = time.Second
	// MaxJitterWindow bounds Config.JitterWindow; memory per recording grows
	// with the window (64 KB per second of window: 2 bytes per sample, two
	// parties, the window behind the newest arrival and as much ahead).
	MaxJitterWindow = 5 * time.Second
)

// writeBuffer is the size of each of a recording's two output buffers.
// 4 KiB would save 4 KiB per live recording, but it makes the file grow
// in steps fine enough to use a full disk's last pages, and then the
// sidecar and spool metadata of a truncated recording no longer fit
// (sipadapter's TestMidCallDiskFullOnTmpfs).
const writeBuffer = 8 << 10

// maxPacketFrames is the longest packet (60 ms, the longest ptime in
// common use) the ring holds without making frames final early. A longer
// packet is still written whole, but may make the other leg's packets for
// the same span arrive too late.
const maxPacketFrames = 480

// Config configures a [Recording]. The zero value of every field but the
// output means its default; exactly one of Path and Writer must be set.
type Config struct {
	// Path is the file to create. It must not exist: a recording never
	// overwrites a file. Created with mode 0640.
	Path string
	// Writer receives the WAV file instead of Path, starting at offset 0.
	// When it also implements io.Reader (an *os.File opened for reading and
	// writing does), Close reads the file back for Result.SHA256.
	Writer io.WriteSeeker

	// Mode is Stereo (default) or Mono.
	Mode Mode

	// CallerPayloadTypes and CalleePayloadTypes map the payload types of the
	// packets each party sends; nil means [DefaultPayloadTypes]. Build them
	// with [PayloadTypesFromSDP].
	CallerPayloadTypes PayloadTypes
	CalleePayloadTypes PayloadTypes

	// JitterWindow is how late a packet may arrive, relative to the newest
	// arrival on either leg, and still be played: reordered and delayed
	// packets within it are put in place, older ones are dropped and counted
	// as late. Default 60 ms, at most MaxJitterWindow.
	JitterWindow time.Duration

	// HeaderInterval is how much audio may be written before the WAV
	// header's sizes are brought up to date, so that a process killed
	// mid-call leaves a playable file. Default 1 s.
	HeaderInterval time.Duration

	// Sync, when set, makes the recording flush the file to stable storage
	// (fsync) after each header update, so that the audio up to the last
	// update also survives a power failure or an operating-system crash;
	// without it, it survives the death of the process, whose writes the
	// kernel keeps. The flush runs on the goroutine whose packet completed
	// the interval, without the recording's lock, and costs a disk flush per
	// HeaderInterval per recording: BenchmarkStereoG711FileSync measures it.
	// It needs Path, or a Writer with a Sync() error method (*os.File).
	// Close flushes the file it created whether or not Sync is set.
	Sync bool

	// PauseMode is what paused spans become; default PauseSilence.
	PauseMode PauseMode

	// Start is the instant the timeline starts (the file's first frame);
	// default Clock() when New is called.
	Start time.Time

	// Clock tells the time for Start, Pause, Resume, Close and packets
	// written with a zero arrival; default time.Now. It must be the clock
	// of the arrival times given to Write: the caller's, such as the
	// relay's (sipadapter passes its one Config.Clock's Now) or a packet
	// capture's timeline (examples/pcap2wav). It is the only time the
	// recorder reads; it sets no timers.
	Clock func() time.Time

	// Logger receives debug records of re-anchors and SSRC changes and
	// errors of the output; default discards.
	Logger *slog.Logger

	// Buffers, when set, lends the recording its output buffers: it then
	// keeps one 8 KiB buffer instead of two for its lifetime, borrowing the
	// second only while a full one is being written. A process with many
	// concurrent recordings saves 8 KiB per recording by sharing one pool.
	// Nil means the recording allocates both buffers itself.
	Buffers *BufferPool
}

// Interval is a span of the call's timeline, as offsets from its start.
type Interval struct {
	Start, End time.Duration
}

// Result describes a finished recording.
type Result struct {
	Path       string    // Config.Path, empty when writing to Config.Writer
	Mode       Mode      // Stereo or Mono
	Channels   int       // 2 for Stereo, 1 for Mono
	SampleRate int       // always SampleRate
	Start      time.Time // start of the timeline
	// Frames is the number of frames in the file, Duration their length.
	Frames   int64
	Duration time.Duration
	Size     int64 // file size in bytes, header included
	// SHA256 is the hex SHA-256 of the whole file; empty when the output is
	// a Writer that cannot be read back.
	SHA256         string
	Caller, Callee Stats
	// Pauses are the paused spans on the call's timeline.
	Pauses []Interval
	// DTMF are the telephone events of both legs in time order, except
	// those pressed while paused (the reason to pause is often a card
	// number); Stats.DTMFEvents counts them all.
	DTMF []DTMFEvent
	// Truncated reports that the output failed mid-call and the file ends
	// at the last frame written whole (Close returned [ErrTruncated]);
	// TruncatedReason says why, as [TruncateReason] names it.
	Truncated       bool
	TruncatedReason string
}

// Recording records the two directions of one call into a WAV file.
//
// Packets go to its two legs, [Recording.Caller] and [Recording.Callee].
// Each leg places its packets on the call's timeline in a ring of frames
// that still may change (the jitter window); frames older than the newest
// arrival minus the window are final, and are mixed or interleaved into an
// output buffer. A full buffer is written to the output by the goroutine
// that filled it, without holding the recording's lock, while the other
// buffer takes new frames. Memory is therefore fixed at construction, but
// for the DTMF events (at most 4096) and pause intervals it reports.
//
// All methods are safe for concurrent use.
type Recording struct {
	// log is Config.Logger as given: each record names the component
	// itself, since a Logger.With kept for the call's life would cost
	// every live recording a copy of the handler for records that are
	// rare (errors, and debug ones mostly filtered out).
	log        *slog.Logger
	clock      func() time.Time
	start      time.Time
	mode       Mode
	pauseMode  PauseMode
	window     int64 // jitter window in frames
	headerSize int64 // HeaderInterval in data bytes
	frameBytes int64
	path       string
	file       *os.File // set when Path was given; closed by Close
	out        io.WriteSeeker
	syncer     syncer // flushes out after each header update; nil unless Config.Sync
	legs       [2]Leg
	done       chan struct{} // closed when Close finished

	mu       sync.Mutex
	cond     sync.Cond // signals !busy and inflight == 0; L is &mu
	closing  bool
	inflight int // accepts that may release mu while writing
	mix      mixer
	paused   bool
	pauses   []span
	pauseIdx int // first pause not entirely before mix.flushed
	events   []DTMFEvent
	fill     []byte      // encoded frames not yet handed to the output
	spare    []byte      // the other buffer; nil while busy, and always with pool
	pool     *BufferPool // Config.Buffers; nil when the recording owns both buffers
	busy     bool        // a goroutine is writing to out
	hdr      [HeaderSize]byte
	frames   int64 // frames emitted into the file
	written  int64 // data bytes written to out
	headerAt int64 // data bytes described by the header on out
	full     bool  // the file reached its size limit
	err      error // sticky output error
	// result is set by Close before done; a pointer, so that live
	// recordings do not carry a Result each.
	result   *Result
	closeErr error
}

func (c *Config) validate() error {
	switch {
	case c.Path == "" && c.Writer == nil:
		return &ConfigError{Field: "Path", Reason: "neither Path nor Writer is set"}
	case c.Path != "" && c.Writer != nil:
		return &ConfigError{Field: "Writer", Reason: "both Path and Writer are set"}
	case c.Mode > Mono:
		return &ConfigError{Field: "Mode", Reason: fmt.Sprintf("unknown mode %d", c.Mode)}
	case c.PauseMode > PauseOmit:
		return &ConfigError{Field: "PauseMode", Reason: fmt.Sprintf("unknown pause mode %d", c.PauseMode)}
	case c.JitterWindow < 0 || c.JitterWindow > MaxJitterWindow:
		return &ConfigError{Field: "JitterWindow", Reason: fmt.Sprintf("%v is outside [0, %v]", c.JitterWindow, MaxJitterWindow)}
	case c.JitterWindow > 0 && c.JitterWindow < frameDuration:
		return &ConfigError{Field: "JitterWindow", Reason: fmt.Sprintf("%v is shorter than one frame", c.JitterWindow)}
	case c.HeaderInterval < 0:
		return &ConfigError{Field: "HeaderInterval", Reason: "negative"}
	}
	if _, ok := c.Writer.(syncer); c.Sync && c.Writer != nil && !ok {
		return &ConfigError{Field: "Sync", Reason: "the Writer has no Sync method"}
	}
	return nil
}

// New starts a recording. It validates cfg, creates the output file when
// cfg.Path is set, and writes a WAV header describing no audio yet.
// Errors wrap [ErrInvalidConfig] (see [ConfigError]) or [ErrWrite].
func New(cfg Config) (*Recording, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	callerPTs, err := newPayloadTable(cfg.CallerPayloadTypes, "CallerPayloadTypes")
	if err != nil {
		return nil, err
	}
	calleePTs, err := newPayloadTable(cfg.CalleePayloadTypes, "CalleePayloadTypes")
	if err != nil {
		return nil, err
	}
	r := &Recording{
		log:        cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		clock:      cfg.Clock,
		mode:       cfg.Mode,
		pauseMode:  cfg.PauseMode,
		window:     framesOf(cmp.Or(cfg.JitterWindow, DefaultJitterWindow)),
		frameBytes: 4,
		path:       cfg.Path,
		out:        cfg.Writer,
		done:       make(chan struct{}),
		pool:       cfg.Buffers,
	}
	if r.pool != nil {
		r.fill = r.pool.get()
	} else {
		r.fill, r.spare = make([]byte, 0, writeBuffer), make([]byte, 0, writeBuffer)
	}
	if r.clock == nil {
		r.clock = time.Now
	}
	if r.mode == Mono {
		r.frameBytes = 2
	}
	r.headerSize = max(framesOf(cmp.Or(cfg.HeaderInterval, DefaultHeaderInterval)), 1) * r.frameBytes
	r.start = cfg.Start
	if r.start.IsZero() {
		r.start = r.clock()
	}
	r.cond.L = &r.mu
	// The ring holds the window behind the newest arrival, as much ahead of
	// it (a sender whose clock runs fast) and the longest packet.
	r.mix = newMixer(2*r.window + maxPacketFrames)
	r.legs[SideCaller] = Leg{r: r, side: SideCaller, pts: callerPTs}
	r.legs[SideCallee] = Leg{r: r, side: SideCallee, pts: calleePTs}

	if cfg.Path != "" {
		f, err := os.OpenFile(cfg.Path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrWrite, err)
		}
		r.file, r.out = f, f
	}
	if cfg.Sync {
		r.syncer = r.out.(syncer) // validate checked a Writer; *os.File has Sync
	}
	if err := r.writeOut(nil, 0, true); err != nil {
		if r.file != nil {
			err = errors.Join(err, r.file.Close(), os.Remove(cfg.Path))
		}
		return nil, err
	}
	return r, nil
}

// syncer is an output that can flush its writes to stable storage, as
// *os.File does.
type syncer interface{ Sync() error }

// Caller returns the leg of the packets the caller sends.
func (r *Recording) Caller() *Leg { return &r.legs[SideCaller] }

// Callee returns the leg of the packets the callee sends.
func (r *Recording) Callee() *Leg { return &r.legs[SideCallee] }

// Leg returns the leg of side s: [Recording.Caller] for [SideCaller],
// [Recording.Callee] for [SideCallee]. It lets a media plane that numbers
// the parties as [Side] does (sipadapter/relay.Party) pick a leg without a
// mapping.
func (r *Recording) Leg(s Side) *Leg {
	if s == SideCallee {
		return r.Callee()
	}
	return r.Caller()
}

// Start returns the instant of the file's first frame.
func (r *Recording) Start() time.Time { return r.start }

// Done returns a channel closed when Close has finished.
func (r *Recording) Done() <-chan struct{} { return r.done }

// Pause starts keeping audio out of the file from the Clock's now on, until
// [Recording.Resume]: the span becomes silence or is omitted, according to
// Config.PauseMode. Audio already final (older than the jitter window) is
// not affected. Pausing a paused recording does nothing.
func (r *Recording) Pause() error {
	now := r.clock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return ErrClosed
	}
	if r.paused {
		return nil
	}
	pos := max(framesOf(now.Sub(r.start)), r.mix.flushed)
	if n := len(r.pauses); n > 0 {
		pos = max(pos, r.pauses[n-1].end)
	}
	r.pauses = append(r.pauses, span{start: pos, end: -1})
	r.paused = true
	return nil
}

// Resume ends a pause at the Clock's now. Resuming a recording that is not
// paused does nothing.
func (r *Recording) Resume() error {
	now := r.clock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return ErrClosed
	}
	if !r.paused {
		return nil
	}
	p := &r.pauses[len(r.pauses)-1]
	p.end = max(framesOf(now.Sub(r.start)), p.start, r.mix.flushed)
	if p.end == p.start {
		r.pauses = r.pauses[:len(r.pauses)-1] // nothing was paused
		r.pauseIdx = min(r.pauseIdx, len(r.pauses))
	}
	r.paused = false
	return nil
}

// Close finishes the recording at the Clock's now (or at the end of the
// last audio placed, when later): it writes the remaining frames, the final
// header, flushes and closes the file it created, and returns the result.
//
// The SHA-256 covers the final file, header included, as a receiver that
// checks the delivered file computes it. It is computed by reading the file
// back: the header's sizes, known only now, lie in the first 64-byte block
// of the digest, so no hash taken while writing could be completed. Reading
// back costs about the hash itself (1.1 ms per minute of stereo, at 1.7
// GB/s; BenchmarkCloseMinute) and also checks that the output returns what
// was written. ctx bounds it: when ctx ends first, the result is returned
// complete but for SHA256, with ctx's error.
//
// Close is idempotent: later calls wait for the first and return its
// result, or ctx's error when their ctx ends first.
// Writes on the legs return [ErrClosed] once Close began.
func (r *Recording) Close(ctx context.Context) (Result, error) {
	end := r.clock()
	r.mu.Lock()
	if r.closing {
		r.mu.Unlock()
		return r.awaitClose(ctx)
	}
	r.closing = true
	for r.inflight > 0 || r.busy {
		r.cond.Wait()
	}
	r.endLocked(end)
	res := r.resultLocked()
	err := r.failureLocked(&res)
	buf := r.fill[:cap(r.fill)]
	// Nothing touches fill once closing is set and drained: the hash below
	// borrows it, then it goes back to the pool.
	r.fill, r.spare = nil, nil
	r.mu.Unlock()

	if err == nil || res.Truncated {
		sum, herr := r.hash(ctx, buf)
		res.SHA256 = sum
		if herr != nil {
			err = errors.Join(err, herr)
		}
	}
	err = r.closeFile(err)
	if r.pool != nil {
		r.pool.put(buf)
	}
	r.result, r.closeErr = &res, err
	close(r.done)
	return res, err
}

// awaitClose is Close after the first call: it waits for the first to
// finish and returns its result, or ctx's error when ctx ends first.
func (r *Recording) awaitClose(ctx context.Context) (Result, error) {
	select {
	case <-r.done:
		return *r.result, r.closeErr
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// endLocked writes what remains up to end (or up to the last audio
// placed, when later): it ends the DTMF events still sounding and a pause
// still open, then flushes the mix and drains it to the output.
func (r *Recording) endLocked(end time.Time) {
	for i := range r.legs {
		if e := &r.legs[i].event; e.active && !e.done {
			e.done = true
			r.reportEvent(&r.legs[i], e)
		}
	}
	endPos := max(framesOf(end.Sub(r.start)), r.mix.end, r.mix.flushed)
	if r.paused {
		r.pauses[len(r.pauses)-1].end = max(endPos, r.pauses[len(r.pauses)-1].start)
		r.paused = false
	}
	r.flushLocked(endPos)
	r.drainLocked(true)
}

// resultLocked describes the recording as emitted: its format, frames,
// leg statistics, pauses, and DTMF events in time order. failureLocked
// corrects it when not every frame reached the output.
func (r *Recording) resultLocked() Result {
	res := Result{
		Path:       r.path,
		Mode:       r.mode,
		Channels:   int(r.frameBytes / 2),
		SampleRate: SampleRate,
		Start:      r.start,
		Frames:     r.frames,
		Duration:   durationOf(r.frames),
		Size:       HeaderSize + r.written,
		Caller:     r.legs[SideCaller].statsLocked(),
		Callee:     r.legs[SideCallee].statsLocked(),
		DTMF:       slices.Clone(r.events),
	}
	for _, p := range r.pauses {
		res.Pauses = append(res.Pauses, Interval{Start: durationOf(p.start), End: durationOf(p.end)})
	}
	slices.SortStableFunc(res.DTMF, func(a, b DTMFEvent) int { return cmp.Compare(a.At, b.At) })
	return res
}

// failureLocked returns how writing failed, if it did. After a write
// failure the output is salvaged at its last whole frame and res is cut
// to match and marked truncated ([ErrTruncated]); when salvage fails too,
// both errors are returned. An output that reached the WAV size limit adds
// [ErrFileTooLarge].
func (r *Recording) failureLocked(res *Result) error {
	var err error
	if r.err != nil {
		// The frames emitted after the failure never reached the file.
		res.Frames = r.written / r.frameBytes
		res.Duration, res.Size = durationOf(res.Frames), HeaderSize+res.Frames*r.frameBytes
		if serr := r.salvage(res.Size); serr != nil {
			err = errors.Join(r.err, serr)
		} else {
			res.Truncated, res.TruncatedReason = true, TruncateReason(r.err)
			err = fmt.Errorf("%w: %w", ErrTruncated, r.err)
		}
	}
	if r.full {
		err = errors.Join(err, ErrFileTooLarge)
	}
	return err
}

// closeFile flushes (unless Config.Sync flushed the final header already)
// and closes the file Close created, if any, and returns err joined with
// whatever failed.
func (r *Recording) closeFile(err error) error {
	if r.file == nil {
		return err
	}
	if r.syncer == nil {
		if serr := r.file.Sync(); serr != nil {
			err = errors.Join(err, fmt.Errorf("%w: %w", ErrWrite, serr))
		}
	}
	if cerr := r.file.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("%w: %w", ErrWrite, cerr))
	}
	return err
}

// hash returns the hex SHA-256 of the output, read back from the start,
// or "" when the output cannot be read.
func (r *Recording) hash(ctx context.Context, buf []byte) (string, error) {
	rd, ok := r.out.(io.Reader)
	if !ok {
		return "", nil
	}
	if _, err := r.out.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("recorder: hash: %w", err)
	}
	h := sha256.New()
	if _, err := io.CopyBuffer(h, ctxio.Reader(ctx, rd), buf); err != nil {
		return "", fmt.Errorf("recorder: hash: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// accept records a packet with a valid header on leg l.
func (r *Recording) accept(l *Leg, h header, payload []byte, arrival time.Time) error {
	if arrival.IsZero() {
		arrival = r.clock()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return ErrClosed
	}
	r.inflight++
	defer r.leave()

	st := &l.stats
	st.Received++
	if st.First.IsZero() {
		st.First = arrival
	}
	st.Last = arrival
	arr := framesOf(arrival.Sub(r.start))
	r.mix.now = max(r.mix.now, arr)

	class := l.classify(h)
	switch class {
	case seqDuplicate:
		st.Duplicated++
		return r.outputErr()
	case seqStale:
		st.Late++
		return r.outputErr()
	case seqReordered:
		st.Reordered++
	}

	codec := l.pts[h.pt]
	var ev telephoneEvent
	var lead, n int64
	switch {
	case codec.audio():
		n = int64(len(payload))
	case codec == CodecTelephoneEvent && ev.unmarshal(payload):
		lead = int64(ev.duration)
	}
	pos, ok := l.place(h, class, arr, lead, n)
	var err error
	switch {
	case !ok:
		st.Late++
	case codec.audio():
		if r.writeAudio(l.side, codec, pos, payload) {
			st.Decoded++
		} else {
			st.Late++
		}
	case codec == CodecTelephoneEvent && len(payload) >= telephoneEventSize:
		st.EventPackets++
		l.receiveEvent(ev, h.ts, pos)
	case codec == CodecTelephoneEvent:
		st.Skipped++
		err = errEvent
	case codec == CodecComfortNoise:
		st.ComfortNoise++
	default:
		st.Skipped++
	}
	r.flushLocked(r.mix.now - r.window)
	return cmp.Or(err, r.outputErr())
}

// leave ends an accept; Close waits for all of them.
func (r *Recording) leave() {
	r.inflight--
	if r.inflight == 0 && r.closing {
		r.cond.Broadcast()
	}
}

func (r *Recording) outputErr() error {
	if r.err != nil {
		return r.err
	}
	if r.full {
		return ErrFileTooLarge
	}
	return nil
}

// writeAudio decodes payload into side's channel from frame pos on. It
// reports whether any sample was late enough to still be played.
func (r *Recording) writeAudio(side Side, codec Codec, pos int64, payload []byte) bool {
	m := &r.mix
	played := len(payload) == 0
	for len(payload) > 0 {
		chunk := min(int64(len(payload)), m.size()/2)
		if end := pos + chunk; end > m.flushed+m.size() {
			r.flushLocked(end - m.size()) // may release mu: recheck below
		}
		if skip := m.flushed - pos; skip > 0 {
			skip = min(skip, chunk)
			payload, pos, chunk = payload[skip:], pos+skip, chunk-skip
			if chunk == 0 {
				continue
			}
		}
		for done := int64(0); done < chunk; {
			n := m.contiguous(pos+done, chunk-done)
			decodeG711(codec, m.samples(side, pos+done, n), payload[done:done+n])
			done += n
		}
		payload, pos = payload[chunk:], pos+chunk
		m.end = max(m.end, pos)
		played = true
	}
	return played
}

// reportEvent records a finished or superseded telephone event.
func (r *Recording) reportEvent(l *Leg, e *pendingEvent) {
	l.stats.DTMFEvents++
	for _, p := range r.pauses {
		if p.contains(e.pos) {
			return
		}
	}
	if len(r.events) >= maxEvents {
		return
	}
	r.events = append(r.events, DTMFEvent{
		Side:     l.side,
		Event:    e.code,
		Digit:    eventDigit(e.code),
		At:       durationOf(e.pos),
		Duration: durationOf(int64(e.duration)),
	})
}

// pauseAt reports whether frame pos is paused and the frame where that
// changes next.
func (r *Recording) pauseAt(pos int64) (bool, int64) {
	for r.pauseIdx < len(r.pauses) {
		if p := r.pauses[r.pauseIdx]; p.end < 0 || p.end > pos {
			break
		}
		r.pauseIdx++
	}
	if r.pauseIdx == len(r.pauses) {
		return false, math.MaxInt64
	}
	p := r.pauses[r.pauseIdx]
	switch {
	case pos < p.start:
		return false, p.start
	case p.end < 0:
		return true, math.MaxInt64
	default:
		return true, p.end
	}
}

// flushLocked makes the frames before target final: it emits them into the
// output buffer (mixed or interleaved, silenced or left out while paused)
// and clears their ring slots. It may release mu to write a full buffer.
func (r *Recording) flushLocked(target int64) {
	m := &r.mix
	for m.flushed < target {
		from := m.flushed
		paused, change := r.pauseAt(from)
		n := m.contiguous(from, min(target, change)-from)
		caller, callee := m.samples(SideCaller, from, n), m.samples(SideCallee, from, n)
		if !paused || r.pauseMode == PauseSilence {
			room := int64(cap(r.fill)-len(r.fill)) / r.frameBytes
			if room == 0 {
				r.drainLocked(false)
				continue
			}
			n = min(n, room)
			caller, callee = caller[:n], callee[:n]
			if paused {
				clear(caller)
				clear(callee)
			}
			r.emit(caller, callee)
		}
		clear(caller)
		clear(callee)
		m.flushed = from + n
	}
	// While another goroutine writes, the header waits for the next packet
	// after it: waiting here would stall this leg for that write (and its
	// flush, with Config.Sync) although the other buffer has room.
	if !r.busy && r.headerDue() {
		r.drainLocked(false)
	}
}

// emit appends the frames of both sides to the output buffer, which has
// room for them: interleaved for stereo, mixed with saturation for mono.
func (r *Recording) emit(caller, callee []int16) {
	if r.full || r.err != nil {
		return
	}
	n := int64(len(caller))
	if limit := maxDataSize / r.frameBytes; r.frames+n > limit {
		n = limit - r.frames
		caller = caller[:n]
		r.full = true
		r.log.Error("wav size limit reached: discarding audio", "component", "recorder")
	}
	callee = callee[:len(caller)]
	le := binary.LittleEndian
	at := len(r.fill)
	buf := r.fill[at : at+int(n*r.frameBytes)]
	if r.mode == Stereo {
		for i, s := range caller {
			le.PutUint32(buf[4*i:4*i+4], uint32(uint16(s))|uint32(uint16(callee[i]))<<16)
		}
	} else {
		for i, s := range caller {
			mixed := int32(s) + int32(callee[i])
			le.PutUint16(buf[2*i:2*i+2], uint16(max(min(mixed, math.MaxInt16), math.MinInt16)))
		}
	}
	r.fill = r.fill[:at+len(buf)]
	r.frames += n
}

// headerDue reports whether the header lags the data by HeaderInterval.
func (r *Recording) headerDue() bool {
	return r.written+int64(len(r.fill))-r.headerAt >= r.headerSize
}

// drainLocked hands the output buffer to the output, and brings the header
// up to date when it is due or force is set. It waits for a write in
// progress and releases mu while writing.
func (r *Recording) drainLocked(force bool) {
	for r.busy {
		r.cond.Wait()
	}
	if r.err != nil {
		r.fill = r.fill[:0]
		return
	}
	// A forced update is skipped when the header already describes every
	// byte: Close must not cost a second header write and flush.
	header := r.headerDue() || force && r.headerAt != r.written+int64(len(r.fill))
	if len(r.fill) == 0 && !header {
		return
	}
	buf := r.fill
	if r.pool != nil {
		r.fill = r.pool.get()
	} else {
		r.fill, r.spare = r.spare[:0], nil
	}
	r.busy = true
	dataEnd := r.written + int64(len(buf))
	r.mu.Unlock()
	err := r.writeOut(buf, dataEnd, header)
	r.mu.Lock()
	r.busy = false
	if r.pool != nil {
		r.pool.put(buf)
	} else {
		r.spare = buf[:0]
	}
	r.cond.Broadcast()
	if err != nil {
		r.err = err
		r.log.Error("output failed: discarding audio", "component", "recorder", "error", err)
		return
	}
	r.written = dataEnd
	if header {
		r.headerAt = dataEnd
	}
}

// writeOut appends data to the output and, when header is set, rewrites the
// header for dataEnd bytes of data. Only the busy goroutine calls it.
func (r *Recording) writeOut(data []byte, dataEnd int64, header bool) error {
	if len(data) > 0 {
		if _, err := r.out.Write(data); err != nil {
			return fmt.Errorf("%w: %w", ErrWrite, err)
		}
	}
	if !header {
		return nil
	}
	h := Header{Channels: uint16(r.frameBytes / 2), SampleRate: SampleRate, BitsPerSample: 16, DataSize: uint32(dataEnd)}
	if _, err := h.MarshalTo(r.hdr[:]); err != nil {
		return err
	}
	if _, err := r.out.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	if _, err := r.out.Write(r.hdr[:]); err != nil {
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	if _, err := r.out.Seek(HeaderSize+dataEnd, io.SeekStart); err != nil {
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	if r.syncer != nil {
		if err := r.syncer.Sync(); err != nil {
			return fmt.Errorf("%w: sync: %w", ErrWrite, err)
		}
	}
	return nil
}
