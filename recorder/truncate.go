package recorder

import (
	"errors"
	"fmt"
	"io"
	"syscall"
)

// Reasons [TruncateReason] gives for a recording cut short.
const (
	ReasonNoSpace   = "no_space"       // ENOSPC: the file system is full
	ReasonQuota     = "quota"          // EDQUOT: the user's disk quota is used up
	ReasonIOError   = "io_error"       // EIO: the device failed
	ReasonTooLarge  = "file_too_large" // EFBIG: a file size limit of the system
	ReasonReadOnly  = "read_only"      // EROFS: the file system was remounted read-only
	ReasonWriteFail = "write_error"    // any other output error
)

// TruncateReason names, in snake_case for metadata and metric labels, the
// output error that cut a recording short: one of the Reason constants.
func TruncateReason(err error) string {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return ReasonNoSpace
	case errors.Is(err, syscall.EDQUOT):
		return ReasonQuota
	case errors.Is(err, syscall.EIO):
		return ReasonIOError
	case errors.Is(err, syscall.EFBIG):
		return ReasonTooLarge
	case errors.Is(err, syscall.EROFS):
		return ReasonReadOnly
	default:
		return ReasonWriteFail
	}
}

// truncater is an output that can be cut to a size, as *os.File can.
type truncater interface{ Truncate(size int64) error }

// salvage finishes an output that failed mid-call at the last frame written
// whole: it cuts off whatever the failed write left behind and rewrites the
// header for the data before it, so that the file is a valid WAV whose
// sizes match its length. Neither needs new space on a full file system:
// the header is rewritten in place. Only Close calls it, with no write in
// progress.
func (r *Recording) salvage(size int64) error {
	t, ok := r.out.(truncater)
	if !ok {
		return fmt.Errorf("%w: the output cannot be truncated to its last good frame", ErrWrite)
	}
	if err := t.Truncate(size); err != nil {
		return fmt.Errorf("%w: truncate: %w", ErrWrite, err)
	}
	h := Header{Channels: uint16(r.frameBytes / 2), SampleRate: SampleRate, BitsPerSample: 16, DataSize: uint32(size - HeaderSize)}
	if _, err := h.MarshalTo(r.hdr[:]); err != nil {
		return err
	}
	if _, err := r.out.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	if _, err := r.out.Write(r.hdr[:]); err != nil {
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	if r.syncer != nil { // Close flushes only files without Config.Sync
		if err := r.syncer.Sync(); err != nil {
			return fmt.Errorf("%w: sync: %w", ErrWrite, err)
		}
	}
	r.written, r.headerAt = size-HeaderSize, size-HeaderSize
	return nil
}
