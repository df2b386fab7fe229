package sipadapter

import (
	"errors"
	"fmt"
	"os"

	"github.com/callrec/callrec/delivery"
)

// openAnnounced writes the sidecar (marked ended_during_announcement, no
// End) and then creates the empty WAV file. A kill between the two leaves
// a sidecar without audio, which recovery used to take for a recording
// enqueued just before a crash and removed: a call whose billing had
// started lost its recording. The two cases differ in the sidecar: every
// path that enqueues a marked recording first writes its End into the
// sidecar (call.enqueue for closeAnnounced and closeRecording; recoverOne,
// through announcedSidecar, for recovery and the stranded retries). So a
// marked sidecar without End and without audio is a recording that was
// never created, and recovery creates it, empty, and delivers it marked.

// unopenedAnnounced reports whether md, read from a sidecar whose audio
// does not exist, is that of a recording whose announcement started but
// whose file was never created.
func unopenedAnnounced(md delivery.Metadata) bool {
	return md.EndedDuringAnnouncement && md.End.IsZero()
}

// createUnopened creates the missing audio file of an unopened announced
// recording, empty: recorder.RepairAs then writes its header, as for a
// recording killed before its header was written. It returns the file's
// information; End is taken from the sidecar's modification time, when
// the announcement started.
func createUnopened(sidecar, audio string) (os.FileInfo, error) {
	st, err := os.Stat(sidecar)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(audio, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, fmt.Errorf("creating the recording of a call killed at its announcement's start: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, errors.Join(err, os.Remove(audio))
	}
	return st, nil
}

// announcedSidecar writes md, whose End is set, into the sidecar of a
// marked recording about to be enqueued by recovery, so that a crash
// after the Enqueue leaves a sidecar that the next recovery removes
// rather than delivers again (see unopenedAnnounced). A failure is
// returned for logging only: the recording is enqueued all the same, as
// call.enqueue does.
func announcedSidecar(sidecar string, md delivery.Metadata) error {
	if !md.EndedDuringAnnouncement {
		return nil
	}
	return writeSidecar(sidecar, md)
}
