package sipadapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/guidance"
	"github.com/callrec/callrec/internal/durable"
	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/sipadapter/relay"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// Files in Config.RecordDir: the recording in progress and its metadata,
// written before the recording starts so that a crash leaves both.
const (
	audioExt     = ".wav"
	partialExt   = ".json"
	closeTimeout = 30 * time.Second
)

// runMedia plays the guidance to both parties, then starts the recording.
// It runs in its own goroutine, owned by run, which waits for mediaDone. A
// guidance that cannot play is logged and skipped: the call is recorded
// all the same.
//
// The taps go in before the guidance, gated by the guidance streams: the
// first packet relayed after the guidance is the first one recorded, even
// though the recording can only be created (sidecar, file) once the
// guidance has ended. Until then the taps hold the packets (heldRecording).
func (c *call) runMedia() {
	defer close(c.mediaDone)
	c.recordWithGuidance()
}

// recordWithGuidance plays the guidance and starts the recording, as
// runMedia describes; an on-demand call runs it when the user starts the
// recording.
func (c *call) recordWithGuidance() {
	b := c.b
	held := &heldRecording{}
	gates, err := c.guidanceGates()
	if err != nil {
		b.log.Error("guidance stream: recording without guidance", "call_id", c.callID, "error", err)
		c.setFilter(relay.Caller, nil)
		c.setFilter(relay.Callee, nil)
	}
	c.media.SetTap(relay.Caller, held.tap(relay.Caller))
	c.media.SetTap(relay.Callee, held.tap(relay.Callee))
	c.mu.Lock()
	billing := c.answerAt
	c.mu.Unlock()
	recStart := b.cfg.Clock.Now()
	if gates != nil {
		var played bool
		billing, recStart, played = c.playGuidance(gates, billing)
		if !played && c.ctx.Err() != nil {
			// Hung up during the guidance: nothing to record, but the
			// recording openAnnounced created is delivered empty.
			held.discard()
			return
		}
	}
	if err := c.startRecording(billing, recStart, held); err != nil {
		held.discard()
		c.discardAnnounced()
		c.media.SetTap(relay.Caller, nil)
		c.media.SetTap(relay.Callee, nil)
		b.log.Error("starting recording: the call continues unrecorded", "call_id", c.callID, "error", err)
	}
}

// guidanceGate is a guidance stream as the relay's filter toward one party:
// the stream withholds the other party's audio while the guidance plays and
// opens the recording gate (relay.RecordFilter) when it ends. force opens
// the gate for a guidance that could not play at all.
type guidanceGate struct {
	s     *guidance.Stream
	force atomic.Bool
}

func (g *guidanceGate) Relay(p *rtp.Packet) bool {
	relay, _ := g.RelayRecord(p)
	return relay
}

func (g *guidanceGate) RelayRecord(p *rtp.Packet) (relay, record bool) {
	relay, record = g.s.RelayRecord(p)
	if record || g.force.Load() {
		return relay, relay
	}
	// Before the guidance the stream would relay: the parties must not
	// hear each other before they are told of the recording.
	return false, false
}

// withhold is the relay's filter toward both parties of a recorded call
// from the callee's answer until the guidance streams take over, so that
// neither hears the other before the guidance.
type withhold struct{}

func (withhold) Relay(*rtp.Packet) bool { return false }

// guidanceGates creates one guidance stream per direction and installs it
// as the relay's filter toward that party.
func (c *call) guidanceGates() (*[2]guidanceGate, error) {
	b := c.b
	codec, pt := negotiatedCodec(c.answer.desc)
	var gates [2]guidanceGate
	for _, p := range []relay.Party{relay.Caller, relay.Callee} {
		s, err := guidance.NewStream(guidance.StreamConfig{
			Codec: codec, PayloadType: pt, Writer: c.media.Writer(p),
			Logger: b.log, Name: "to-" + p.String(),
		})
		if err != nil {
			return nil, err
		}
		gates[p].s = s
	}
	for p := range gates {
		c.setFilter(relay.Party(p), &gates[p])
	}
	return &gates, nil
}

// playGuidance plays the line's announcement through the gates. It returns
// the billing start (the guidance's start, answerAt if it never started),
// the instant the recording starts (the guidance's end, on the call's
// clock) and whether the guidance played to its end.
func (c *call) playGuidance(gates *[2]guidanceGate, answerAt time.Time) (billing, recStart time.Time, played bool) {
	b := c.b
	announcement := max(c.line.Announcement, 1)
	billing = answerAt
	openGates := func() time.Time {
		now := b.cfg.Clock.Now()
		for p := range gates {
			gates[p].force.Store(true)
		}
		return now
	}
	if _, err := b.cfg.Announcer.Prompt(announcement); err != nil {
		// Checked first so that no guidance event announces a guidance
		// that cannot play.
		b.log.Error("guidance: recording without it", "call_id", c.callID, "announcement", announcement, "error", err)
		return billing, openGates(), true
	}
	c.openAnnounced(b.cfg.Clock.Now())
	c.emit(Event{Kind: EventGuidanceStarted})
	res, err := b.cfg.Announcer.Play(c.ctx, announcement, gates[relay.Caller].s, gates[relay.Callee].s)
	c.mu.Lock()
	c.guidanceStart = res.Started
	c.mu.Unlock()
	ended := Event{Kind: EventGuidanceEnded, Time: res.Ended}
	if res.Interrupted {
		ended.Cause = "interrupted"
	}
	c.emit(ended)
	if err != nil && !res.Interrupted {
		b.log.Error("guidance: recording without it", "call_id", c.callID, "announcement", announcement, "error", err)
	}
	if !res.Started.IsZero() {
		billing = res.Started
	}
	if res.Ended.IsZero() { // never began: the streams' gates stay shut
		return billing, openGates(), err == nil
	}
	// On the call's clock, which the relay stamps arrivals with and which
	// may not be the guidance's; the streams' gates are open by now.
	return billing, b.cfg.Clock.Now(), err == nil
}

// negotiatedCodec returns the first voice codec of the answer, which both
// parties send, with its payload type. recorder.Codec and guidance.Codec
// number PCMU and PCMA alike, so the recorder's reading of the SDP converts.
func negotiatedCodec(sd *sdp.SessionDescription) (guidance.Codec, uint8) {
	pts, err := recorder.PayloadTypesFromSDP(sd)
	if err == nil {
		for _, md := range sd.MediaDescriptions {
			if md.MediaName.Media != "audio" || md.MediaName.Port.Value == 0 {
				continue
			}
			for _, f := range md.MediaName.Formats {
				pt, err := strconv.Atoi(f)
				if err != nil || pt < 0 || pt > 127 {
					continue
				}
				if c := pts[uint8(pt)]; c == recorder.CodecPCMU || c == recorder.CodecPCMA {
					return guidance.Codec(c), uint8(pt)
				}
			}
		}
	}
	return guidance.PCMU, 0
}

// startRecording writes the metadata sidecar, creates the recording with
// its timeline starting at recStart (or at the first packet held, if that
// came a moment earlier) and hands it the packets held meanwhile.
func (c *call) startRecording(billingStart, recStart time.Time, held *heldRecording) error {
	b := c.b
	callerPTs, err := recorder.PayloadTypesFromSDP(c.answer.desc)
	if err != nil {
		return err
	}
	calleePTs, err := recorder.PayloadTypesFromSDP(c.offer.desc)
	if err != nil {
		return err
	}
	md := c.metadata(billingStart)
	path := filepath.Join(b.cfg.RecordDir, c.id+audioExt)
	if b.cfg.beforeSidecar != nil {
		b.cfg.beforeSidecar()
	}
	c.mu.Lock()
	replace := c.announced != nil // openAnnounced's sidecar is on stable storage
	c.mu.Unlock()
	if err := updateSidecar(filepath.Join(b.cfg.RecordDir, c.id+partialExt), md, replace); err != nil {
		return err
	}
	// The file created at the announcement's start, if any, is the one
	// recorded into (announced.go); the recorder writes its header anew.
	f := c.takeAnnounced()
	mode := recorder.Stereo
	if c.line.Mono {
		mode = recorder.Mono
	}
	start := earliest(recStart, held.first())
	if f == nil && b.cfg.recordWriter == nil {
		if f, err = createRecording(path); err != nil {
			_ = os.Remove(filepath.Join(b.cfg.RecordDir, c.id+partialExt))
			return err
		}
	}
	var w io.WriteSeeker
	if f != nil {
		w = unhashed{f}
	}
	if b.cfg.recordWriter != nil {
		if f != nil { // the test's writer creates the file itself
			_, _ = f.Close(), os.Remove(path)
			f = nil
		}
		if w, err = b.cfg.recordWriter(path); err != nil {
			_ = os.Remove(filepath.Join(b.cfg.RecordDir, c.id+partialExt))
			return err
		}
	}
	create := path
	if w != nil {
		create = "" // recorder.Config takes one or the other
	}
	rec, err := recorder.New(recorder.Config{
		Path: create, Writer: w, Mode: mode, CallerPayloadTypes: callerPTs, CalleePayloadTypes: calleePTs,
		JitterWindow: b.cfg.JitterWindow, Start: start, Clock: b.cfg.Clock.Now, Logger: b.log,
		Buffers: &b.wavBufs,
	})
	if err != nil {
		if f != nil {
			_, _ = f.Close(), os.Remove(path)
		}
		_ = os.Remove(filepath.Join(b.cfg.RecordDir, c.id+partialExt))
		return err
	}
	q := newRecordQueue(rec, b.recBufs)
	c.mu.Lock()
	c.rec, c.recPath, c.recQ, c.recFile = rec, path, q, f
	c.mu.Unlock()
	replayed, dropped, err := held.attach(rec, q)
	c.mu.Lock()
	c.heldLost = dropped
	c.mu.Unlock()
	if dropped != [2]uint64{} || err != nil {
		b.log.Warn("packets held while the recording was being opened", "call_id", c.callID,
			"replayed", replayed, "dropped", dropped[0]+dropped[1], "error", err)
	}
	c.emit(Event{Kind: EventRecordingStarted, Time: start, Path: path})
	return nil
}

// metadata describes the call for delivery.
func (c *call) metadata(billingStart time.Time) delivery.Metadata {
	c.mu.Lock()
	defer c.mu.Unlock()
	channels := 2
	if c.line.Mono {
		channels = 1
	}
	return delivery.Metadata{
		ID: c.id, CallID: c.callID, Instance: c.b.cfg.InstanceID, Direction: delivery.Direction(c.decision.Direction.String()), Caller: c.caller, Callee: c.decision.Destination,
		Line: c.line.Kind.String(), LineNumber: c.line.Number, Dialled: c.decision.Dialled,
		Destination: c.decision.Destination, DivertedFrom: c.decision.ForwardedFrom, DiversionReason: c.div.reason,
		Start: c.start, Answer: c.answerAt, GuidanceStart: billingStart,
		Channels: channels, AnnouncementID: strconv.Itoa(max(c.line.Announcement, 1)), AudioExt: audioExt,
	}
}

// RecorderStats is the recorder's part of a recording's metadata
// (delivery.Metadata's recorder_stats), also given typed on EventEnqueued.
type RecorderStats struct {
	Caller recorder.Stats       `json:"caller"`
	Callee recorder.Stats       `json:"callee"`
	DTMF   []recorder.DTMFEvent `json:"dtmf,omitempty"`
	Pauses []recorder.Interval  `json:"pauses,omitempty"` // on-demand stops
	// CallerDropped and CalleeDropped count packets relayed but lost to
	// the recording: the recording queue was full (a disk stalled longer
	// than it absorbs) or the holding buffer was, while it was opened.
	CallerDropped uint64 `json:"caller_dropped"`
	CalleeDropped uint64 `json:"callee_dropped"`
}

// closeRecording finishes the recording, if any, and enqueues it with its
// metadata. It returns the recording ID once delivery has it. On failure
// the file and sidecar stay in RecordDir for the next start to enqueue.
func (c *call) closeRecording(end time.Time) string {
	b := c.b
	c.mu.Lock()
	rec, path, billing, q, lost, f := c.rec, c.recPath, c.guidanceStart, c.recQ, c.heldLost, c.recFile
	c.mu.Unlock()
	if rec == nil {
		return c.closeAnnounced(end) // "" unless the call ended during its announcement
	}
	if q != nil { // the media session is closed: nothing more is queued
		q.close()
		ql := q.lost()
		lost[0] += ql[0]
		lost[1] += ql[1]
		if lost != [2]uint64{} {
			b.log.Warn("packets lost to the recording: the disk did not keep up", "call_id", c.callID,
				"caller", lost[0], "callee", lost[1])
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	res, err := rec.Close(ctx)
	if f != nil { // the recorder closes only the files it created
		err = errors.Join(err, closeFile(f))
	}
	if err != nil && !c.closedTruncated(res, err) {
		b.log.Error("closing recording", "call_id", c.callID, "path", path, "error", err)
		b.strand(c.id, err)
		return ""
	}
	md := c.metadata(billing)
	md.End, md.Duration, md.Channels, md.SHA256 = end, res.Duration, res.Channels, res.SHA256
	md.Truncated, md.TruncatedReason = res.Truncated, res.TruncatedReason
	stats := &RecorderStats{Caller: res.Caller, Callee: res.Callee, DTMF: res.DTMF, Pauses: res.Pauses,
		CallerDropped: lost[0], CalleeDropped: lost[1]}
	if raw, err := json.Marshal(stats); err == nil {
		md.RecorderStats = raw
	}
	if !c.enqueue(ctx, path, md) {
		return ""
	}
	c.mu.Lock()
	c.recStats = stats
	c.mu.Unlock()
	return md.ID
}

// enqueue brings the call's sidecar up to date with md, hands the
// recording at path to delivery and removes the sidecar. When Enqueue
// fails the recording stays in RecordDir, is retried, and enqueue reports
// false.
func (c *call) enqueue(ctx context.Context, path string, md delivery.Metadata) bool {
	b := c.b
	sidecar := filepath.Join(b.cfg.RecordDir, c.id+partialExt)
	// The marks a crash during Enqueue must not lose: truncated, which
	// the sidecar written at the start lacks (sidecar.go), and the End of
	// a recording ended during its announcement, without which recovery
	// would take its sidecar for one never created and deliver it again
	// (recoverannounced.go).
	writtenBefore := md.Truncated || md.EndedDuringAnnouncement
	if writtenBefore {
		if err := writeSidecar(sidecar, md); err != nil {
			b.log.Warn("updating sidecar", "call_id", c.callID, "error", err)
		}
	}
	if err := b.cfg.Delivery.Enqueue(ctx, delivery.Recording{AudioPath: path, Metadata: md}); err != nil {
		b.log.Error("enqueueing recording: left in RecordDir and retried", "call_id", c.callID, "path", path, "error", err)
		if !writtenBefore {
			// For the next start's recovery, should this process end
			// before the retries succeed.
			if err := writeSidecar(sidecar, md); err != nil {
				b.log.Warn("updating sidecar", "call_id", c.callID, "error", err)
			}
		}
		b.strandMetadata(c.id, err, md)
		return false
	}
	if err := os.Remove(sidecar); err != nil && !errors.Is(err, os.ErrNotExist) {
		b.log.Warn("removing sidecar", "path", sidecar, "error", err)
	}
	return true
}

// recover enqueues the recordings a previous run left in RecordDir: each
// sidecar whose audio file is still there is repaired with recorder.RepairAs
// and enqueued; a sidecar without audio (enqueued just before a crash) is
// removed, but for an announced recording never created (unopenedAnnounced),
// which is created empty and enqueued.
func (b *B2BUA) recover(ctx context.Context) error {
	entries, err := os.ReadDir(b.cfg.RecordDir)
	if err != nil {
		return fmt.Errorf("sipadapter: reading RecordDir: %w", err)
	}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if target, ok := durable.TempTarget(name); ok && !e.IsDir() && strings.HasSuffix(target, partialExt) {
			// A sidecar write the crash tore; the sidecar it was to
			// replace, if any, is intact.
			if err := os.Remove(filepath.Join(b.cfg.RecordDir, name)); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if e.IsDir() || !strings.HasSuffix(name, partialExt) {
			continue
		}
		id := strings.TrimSuffix(name, partialExt)
		sidecar := filepath.Join(b.cfg.RecordDir, name)
		audio := filepath.Join(b.cfg.RecordDir, id+audioExt)
		if err := b.recoverOne(ctx, sidecar, audio, nil); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
			b.strand(id, err)
		}
	}
	return errors.Join(errs...)
}

// sidecarStats returns the recorder statistics a sidecar carries: those of
// a recording closed before delivery refused it; nil for one cut by a crash.
func sidecarStats(md delivery.Metadata) *RecorderStats {
	if len(md.RecorderStats) == 0 {
		return nil
	}
	var s RecorderStats
	if json.Unmarshal(md.RecorderStats, &s) != nil {
		return nil
	}
	return &s
}

func (b *B2BUA) recoverOne(ctx context.Context, sidecar, audio string, known *delivery.Metadata) error {
	var md delivery.Metadata
	if known != nil {
		md = known.Clone() // the sidecar may predate it: its update failed on a full disk
	} else {
		raw, err := os.ReadFile(sidecar)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(raw, &md); err != nil {
			return fmt.Errorf("sidecar: %w", err)
		}
	}
	st, err := os.Stat(audio)
	if errors.Is(err, os.ErrNotExist) && unopenedAnnounced(md) {
		st, err = createUnopened(sidecar, audio)
	}
	if errors.Is(err, os.ErrNotExist) {
		return os.Remove(sidecar)
	}
	if err != nil {
		return err
	}
	mode := recorder.Stereo
	if md.Channels == 1 {
		mode = recorder.Mono
	}
	if err := recorder.RepairAs(audio, mode); err != nil {
		return err
	}
	if md.End.IsZero() {
		md.End = st.ModTime()
	}
	md.SHA256, md.Size = "", 0 // the repaired file differs from any recorded sum
	if err := announcedSidecar(sidecar, md); err != nil {
		b.log.Warn("updating sidecar", "call_id", md.CallID, "error", err)
	}
	if err := b.cfg.Delivery.Enqueue(ctx, delivery.Recording{AudioPath: audio, Metadata: md}); err != nil {
		return err
	}
	b.emit(Event{Kind: EventEnqueued, Time: b.cfg.Clock.Now(), CallID: md.CallID, RecordingID: md.ID,
		Recorder: sidecarStats(md), EndedDuringAnnouncement: md.EndedDuringAnnouncement})
	return os.Remove(sidecar)
}
