package sipadapter

import (
	"encoding/json"
	"io"
	"os"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/internal/durable"
)

// A recorded call's sidecar is written durably once, when the call is
// known to be owed a recording (openAnnounced at the announcement's start,
// or startRecording without an announcement), and rewritten only when what
// a recovery would deliver changes:
//
//   - at the announcement's end, to drop the ended_during_announcement
//     mark: data fsynced and renamed over the durable sidecar, without the
//     directory fsync (updateSidecar), since either version surviving a
//     power cut is a complete sidecar naming the same recording;
//   - before Enqueue only for a truncated recording, whose mark a recovery
//     cannot rebuild (call.enqueue); any other's final metadata
//     is written only when Enqueue fails and the recording is stranded.
//     A crash during a successful Enqueue then recovers the recording
//     from the earlier sidecar: the same audio, repaired and enqueued, its
//     end taken from the file's time and without the recorder statistics,
//     as for a call cut by a crash. Before this, the sidecar was rewritten
//     durably before every Enqueue, 0.5 ms of CPU per call
//     (BenchmarkSidecarLifecycle).

// writeSidecar writes md durably to path: on stable storage, name
// included, when it returns nil.
func writeSidecar(path string, md delivery.Metadata) error {
	raw, err := json.Marshal(md)
	if err != nil {
		return err
	}
	return durable.WriteFile(path, raw, 0o640)
}

// updateSidecar writes md to path, which already holds a durable sidecar
// of the same recording when replace is set: the data is fsynced and
// renamed over it, and the directory left to the next journal commit.
// Without replace it is writeSidecar.
func updateSidecar(path string, md delivery.Metadata, replace bool) error {
	if !replace {
		return writeSidecar(path, md)
	}
	raw, err := json.Marshal(md)
	if err != nil {
		return err
	}
	p, err := durable.Create(path, 0o640)
	if err != nil {
		return err
	}
	if _, err := p.Write(raw); err != nil {
		p.Abort()
		return err
	}
	return p.CommitNoSyncDir()
}

// createRecording creates the recording's file, as the recorder would
// from a path, for the recorder to write through unhashed.
func createRecording(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
}

// unhashed is the recording's file as the recorder's Writer without its
// Read method (Truncate stays: a recording cut by a failing disk is
// salvaged through it), so that Close does not read the file back for its SHA-256:
// the spool computes the same digest when it links the file in (Enqueue
// reads it once either way), and the recorder's sum would only be checked
// against it. The call fsyncs and closes the file (closeFile).
type unhashed struct{ f *os.File }

func (u unhashed) Write(p []byte) (int, error) { return u.f.Write(p) }

func (u unhashed) Seek(offset int64, whence int) (int64, error) { return u.f.Seek(offset, whence) }

func (u unhashed) Truncate(size int64) error { return u.f.Truncate(size) }

var _ io.WriteSeeker = unhashed{}
