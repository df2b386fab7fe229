package sipadapter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/callrec/callrec/recorder"
)

// A recorded call's recording exists from the start of its announcement,
// the billing start, not only from its end: a party who heard "this call
// is recorded" is owed a recording even when the call ends (hang-up,
// crash) before the announcement does. openAnnounced writes the sidecar,
// marked ended_during_announcement, and the WAV file with a header
// describing no audio. When the announcement ends, startRecording rewrites
// the sidecar without the mark and the recorder takes the file over, its
// timeline starting then, so the announcement and whatever the parties
// sent while it played stay out of the recording. Otherwise the file
// stays empty: a hang-up delivers it as it is (closeAnnounced), and after
// a crash the next start's recovery delivers it like any cut recording,
// the sidecar still marked.

// openAnnounced creates the call's recording, empty, before its
// announcement plays; billing is the announcement's start. A failure is
// logged: the recording is then created when the announcement ends, as
// without this step.
func (c *call) openAnnounced(billing time.Time) {
	b := c.b
	md := c.metadata(billing)
	md.EndedDuringAnnouncement = true
	sidecar := filepath.Join(b.cfg.RecordDir, c.id+partialExt)
	path := filepath.Join(b.cfg.RecordDir, c.id+audioExt)
	if err := writeSidecar(sidecar, md); err != nil {
		b.log.Error("creating the recording at the announcement's start", "call_id", c.callID, "error", err)
		return
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err == nil {
		if _, err = f.Write(emptyWAV(md.Channels)); err != nil {
			err = errors.Join(err, f.Close(), os.Remove(path))
		}
	}
	if err != nil {
		err = errors.Join(err, os.Remove(sidecar))
		b.log.Error("creating the recording at the announcement's start", "call_id", c.callID, "error", err)
		return
	}
	c.mu.Lock()
	c.announced = f
	c.mu.Unlock()
}

// emptyWAV is the header of a WAV file holding no audio.
func emptyWAV(channels int) []byte {
	h := recorder.Header{Channels: uint16(channels), SampleRate: recorder.SampleRate, BitsPerSample: 16}
	hdr, _ := h.Marshal() // cannot fail: Marshal sizes its own buffer
	return hdr
}

// takeAnnounced hands the file openAnnounced created to the caller, who
// then owns it; nil when there is none.
func (c *call) takeAnnounced() *os.File {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.announced
	c.announced = nil
	return f
}

// discardAnnounced removes the recording openAnnounced created, if
// nothing took it over: the recording failed to start after the
// announcement, and the call goes on unrecorded.
func (c *call) discardAnnounced() {
	f := c.takeAnnounced()
	if f == nil {
		return
	}
	err := errors.Join(f.Close(), os.Remove(f.Name()), os.Remove(filepath.Join(c.b.cfg.RecordDir, c.id+partialExt)))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		c.b.log.Warn("removing the recording created at the announcement's start", "call_id", c.callID, "error", err)
	}
}

// closeAnnounced enqueues the empty recording of a call that ended during
// its announcement, marked so in its metadata and the CDR. It returns the
// recording ID once delivery has it, "" when there is no such recording
// or it could not be enqueued (it then stays in RecordDir and is retried,
// like any recording whose Enqueue failed).
func (c *call) closeAnnounced(end time.Time) string {
	b := c.b
	f := c.takeAnnounced()
	if f == nil {
		return ""
	}
	c.mu.Lock()
	c.endedInAnnouncement = true
	billing := c.guidanceStart
	if billing.IsZero() {
		billing = c.answerAt
	}
	c.mu.Unlock()
	path := f.Name()
	if err := closeFile(f); err != nil {
		b.log.Error("closing the recording of a call that ended during its announcement", "call_id", c.callID, "path", path, "error", err)
		b.strand(c.id, err)
		return ""
	}
	md := c.metadata(billing)
	md.End, md.EndedDuringAnnouncement = end, true
	sum := sha256.Sum256(emptyWAV(md.Channels))
	md.SHA256 = hex.EncodeToString(sum[:])
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if !c.enqueue(ctx, path, md) {
		return ""
	}
	b.log.Info("the call ended during its announcement: its empty recording is enqueued", "call_id", c.callID, "recording_id", md.ID)
	return md.ID
}

// closeFile flushes f to stable storage and closes it, as the recorder
// does with the files it creates itself.
func closeFile(f *os.File) error {
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%w: %w", recorder.ErrWrite, err)
	}
	return nil
}
