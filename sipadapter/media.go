package sipadapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/dialplan"
	"github.com/callrec/callrec/guidance"
	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/sipadapter/relay"
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
func (c *call) runMedia() {
	defer close(c.mediaDone)
	b := c.b
	billing, played := c.playGuidance()
	if !played && c.ctx.Err() != nil {
		return // hung up during the guidance: nothing to record
	}
	if err := c.startRecording(billing); err != nil {
		b.log.Error("starting recording: the call continues unrecorded", "call_id", c.callID, "error", err)
	}
}

// playGuidance installs one guidance stream per direction as the relay's
// filter and plays the line's announcement through them. It returns the
// billing start and whether the guidance played to its end.
func (c *call) playGuidance() (time.Time, bool) {
	b := c.b
	codec, pt := negotiatedCodec(c.answer.desc)
	var streams [2]*guidance.Stream
	for _, p := range []relay.Party{relay.Caller, relay.Callee} {
		s, err := guidance.NewStream(guidance.StreamConfig{
			Codec: codec, PayloadType: pt, Writer: c.media.Writer(p), Clock: b.cfg.GuidanceClock,
			Logger: b.log, Name: "to-" + p.String(),
		})
		if err != nil {
			b.log.Error("guidance stream: recording without guidance", "call_id", c.callID, "error", err)
			c.media.SetFilter(relay.Caller, nil)
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.answerAt, false
		}
		streams[p] = s
		c.media.SetFilter(p, s)
	}
	announcement := max(c.line.Announcement, 1)
	c.emit(Event{Kind: EventGuidanceStarted})
	res, err := b.cfg.Announcer.Play(c.ctx, announcement, streams[relay.Caller], streams[relay.Callee])
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
	if res.Started.IsZero() { // never started: billing starts at the answer
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.answerAt, err == nil
	}
	return res.Started, err == nil
}

// negotiatedCodec returns the first voice codec of the answer, which both
// parties send.
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
				switch pts[uint8(pt)] {
				case recorder.CodecPCMU:
					return guidance.PCMU, uint8(pt)
				case recorder.CodecPCMA:
					return guidance.PCMA, uint8(pt)
				}
			}
		}
	}
	return guidance.PCMU, 0
}

// startRecording writes the metadata sidecar, creates the recording and
// taps both parties into it.
func (c *call) startRecording(billingStart time.Time) error {
	b := c.b
	callerPTs, err := recorder.PayloadTypesFromSDP(c.answer.desc)
	if err != nil {
		return err
	}
	calleePTs, err := recorder.PayloadTypesFromSDP(c.offer.desc)
	if err != nil {
		return err
	}
	now := b.cfg.Clock.Now()
	md := c.metadata(billingStart)
	path := filepath.Join(b.cfg.RecordDir, c.id+audioExt)
	if err := writeSidecar(filepath.Join(b.cfg.RecordDir, c.id+partialExt), md); err != nil {
		return err
	}
	mode := recorder.Stereo
	if c.line.Mono {
		mode = recorder.Mono
	}
	rec, err := recorder.New(recorder.Config{
		Path: path, Mode: mode, CallerPayloadTypes: callerPTs, CalleePayloadTypes: calleePTs,
		JitterWindow: b.cfg.JitterWindow, Start: now, Clock: b.cfg.Clock.Now, Logger: b.log,
	})
	if err != nil {
		_ = os.Remove(filepath.Join(b.cfg.RecordDir, c.id+partialExt))
		return err
	}
	c.mu.Lock()
	c.rec, c.recPath = rec, path
	c.mu.Unlock()
	c.media.SetTap(relay.Caller, rec.Caller())
	c.media.SetTap(relay.Callee, rec.Callee())
	c.emit(Event{Kind: EventRecordingStarted, Time: now, Path: path})
	return nil
}

// metadata describes the call for delivery.
func (c *call) metadata(billingStart time.Time) delivery.Metadata {
	c.mu.Lock()
	defer c.mu.Unlock()
	dir := delivery.Outgoing
	if c.decision.Direction == dialplan.Incoming {
		dir = delivery.Incoming
	}
	channels := 2
	if c.line.Mono {
		channels = 1
	}
	return delivery.Metadata{
		ID: c.id, CallID: c.callID, Direction: dir, Caller: c.caller, Callee: c.decision.Destination,
		Line: c.line.Kind.String(), LineNumber: c.line.Number, Dialled: c.decision.Dialled,
		Destination: c.decision.Destination, Start: c.start, Answer: c.answerAt, GuidanceStart: billingStart,
		Channels: channels, AnnouncementID: strconv.Itoa(max(c.line.Announcement, 1)), AudioExt: audioExt,
	}
}

// recorderStats is the recorder's part of the metadata.
type recorderStats struct {
	Caller recorder.Stats       `json:"caller"`
	Callee recorder.Stats       `json:"callee"`
	DTMF   []recorder.DTMFEvent `json:"dtmf,omitempty"`
}

// closeRecording finishes the recording, if any, and enqueues it with its
// metadata. It returns the recording ID once delivery has it. On failure
// the file and sidecar stay in RecordDir for the next start to enqueue.
func (c *call) closeRecording(end time.Time) string {
	b := c.b
	c.mu.Lock()
	rec, path, billing := c.rec, c.recPath, c.guidanceStart
	c.mu.Unlock()
	if rec == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	res, err := rec.Close(ctx)
	if err != nil {
		b.log.Error("closing recording", "call_id", c.callID, "path", path, "error", err)
		return ""
	}
	md := c.metadata(billing)
	md.End, md.Duration, md.Channels, md.SHA256 = end, res.Duration, res.Channels, res.SHA256
	if raw, err := json.Marshal(recorderStats{Caller: res.Caller, Callee: res.Callee, DTMF: res.DTMF}); err == nil {
		md.RecorderStats = raw
	}
	sidecar := filepath.Join(b.cfg.RecordDir, c.id+partialExt)
	if err := writeSidecar(sidecar, md); err != nil {
		b.log.Warn("updating sidecar", "call_id", c.callID, "error", err)
	}
	if err := b.cfg.Delivery.Enqueue(ctx, delivery.Recording{AudioPath: path, Metadata: md}); err != nil {
		b.log.Error("enqueueing recording: left for the next start", "call_id", c.callID, "path", path, "error", err)
		return ""
	}
	if err := os.Remove(sidecar); err != nil && !errors.Is(err, os.ErrNotExist) {
		b.log.Warn("removing sidecar", "path", sidecar, "error", err)
	}
	return md.ID
}

func writeSidecar(path string, md delivery.Metadata) error {
	raw, err := json.Marshal(md)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, werr := f.Write(raw)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// recover enqueues the recordings a previous run left in RecordDir: each
// sidecar whose audio file is still there is repaired with recorder.Repair
// and enqueued; a sidecar without audio (enqueued just before a crash) is
// removed.
func (b *B2BUA) recover(ctx context.Context) error {
	entries, err := os.ReadDir(b.cfg.RecordDir)
	if err != nil {
		return fmt.Errorf("sipadapter: reading RecordDir: %w", err)
	}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, partialExt) {
			continue
		}
		id := strings.TrimSuffix(name, partialExt)
		sidecar := filepath.Join(b.cfg.RecordDir, name)
		audio := filepath.Join(b.cfg.RecordDir, id+audioExt)
		if err := b.recoverOne(ctx, sidecar, audio); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

func (b *B2BUA) recoverOne(ctx context.Context, sidecar, audio string) error {
	raw, err := os.ReadFile(sidecar)
	if err != nil {
		return err
	}
	var md delivery.Metadata
	if err := json.Unmarshal(raw, &md); err != nil {
		return fmt.Errorf("sidecar: %w", err)
	}
	st, err := os.Stat(audio)
	if errors.Is(err, os.ErrNotExist) {
		return os.Remove(sidecar)
	}
	if err != nil {
		return err
	}
	if err := recorder.Repair(audio); err != nil {
		return err
	}
	if md.End.IsZero() {
		md.End = st.ModTime()
	}
	md.SHA256, md.Size = "", 0 // the repaired file differs from any recorded sum
	if err := b.cfg.Delivery.Enqueue(ctx, delivery.Recording{AudioPath: audio, Metadata: md}); err != nil {
		return err
	}
	b.emit(Event{Kind: EventEnqueued, Time: b.cfg.Clock.Now(), CallID: md.CallID, RecordingID: md.ID})
	return os.Remove(sidecar)
}
