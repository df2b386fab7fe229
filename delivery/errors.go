package delivery

import (
	"errors"
	"fmt"
	"syscall"
	"time"
)

// Errors returned by the spool and the queue. Callers branch on them with
// [errors.Is]; the returned errors wrap them together with the offending path
// or identifier.
var (
	// ErrSpoolFull reports that the spool's file system has no space (ENOSPC)
	// or quota (EDQUOT) left. The caller's audio file is left where it was.
	ErrSpoolFull = errors.New("delivery: spool full")
	// ErrSpoolReadOnly reports that the spool cannot be written: a read-only
	// file system (EROFS) or missing permissions (EACCES, EPERM). The caller's
	// audio file is left where it was.
	ErrSpoolReadOnly = errors.New("delivery: spool read-only")
	// ErrSpoolLocked reports that another Queue, possibly in another process,
	// already owns the spool directory.
	ErrSpoolLocked = errors.New("delivery: spool locked by another queue")
	// ErrInvalidRecording reports a Recording or Metadata that cannot be
	// accepted: no audio path, an unsafe ID, a directory instead of a file.
	ErrInvalidRecording = errors.New("delivery: invalid recording")
	// ErrChecksumMismatch reports audio whose SHA-256 differs from the one in
	// its metadata: at Enqueue, the caller's file does not match the digest it
	// declared; at delivery, the spooled copy is corrupt.
	ErrChecksumMismatch = errors.New("delivery: checksum mismatch")
	// ErrDuplicateID reports an Enqueue whose Metadata.ID is already in the
	// dead-letter directory, or queued with different audio.
	ErrDuplicateID = errors.New("delivery: duplicate recording id")
	// ErrNotFound reports an unknown recording ID, for example in
	// [Queue.Requeue].
	ErrNotFound = errors.New("delivery: recording not found")
	// ErrClosed reports a call on a Queue or Sink that has been closed.
	ErrClosed = errors.New("delivery: closed")
	// ErrStarted reports a second call to [Queue.Start].
	ErrStarted = errors.New("delivery: already started")
	// ErrInvalidConfig reports a configuration field with an unusable value;
	// the wrapping error names the field.
	ErrInvalidConfig = errors.New("delivery: invalid config")
	// ErrInsecureHostKey reports an SFTP configuration whose host-key callback
	// accepts any key, such as ssh.InsecureIgnoreHostKey.
	ErrInsecureHostKey = errors.New("delivery: host key callback accepts any key")
	// ErrPermanent is matched by every error marked with [Permanent]: the sink
	// will never accept this recording as it stands.
	ErrPermanent = errors.New("delivery: permanent failure")
	// ErrRetryable is matched by every error that is not permanent: the sink
	// may accept the recording later.
	ErrRetryable = errors.New("delivery: retryable failure")
	// ErrDestination is matched by every error marked with [Destination]:
	// the destination itself is misconfigured or unreachable by name
	// (refused credentials, missing path, bad certificate, unknown host),
	// so every recording would fail alike. Such errors are retryable; they
	// open the circuit at once and never dead-letter a recording.
	ErrDestination = errors.New("delivery: destination failure")
	// ErrNoHealthCheck is returned by a [HealthChecker] whose destination
	// offers no health check; the queue then probes with a delivery.
	ErrNoHealthCheck = errors.New("delivery: no health check")
)

// configError returns an error wrapping [ErrInvalidConfig] that names field.
func configError(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
}

// SinkError is the error a [Sink] returns to say whether a delivery may be
// retried. Construct it with [Permanent] or [Retryable]; the queue treats any
// other non-nil error as retryable.
type SinkError struct {
	// Err is the underlying failure.
	Err error
	// Permanent reports that retrying cannot succeed: the recording goes to
	// the dead-letter directory at once.
	Permanent bool
	// RetryAfter, when positive, is the earliest time from now at which the
	// destination asked to be tried again (an HTTP Retry-After, for example).
	RetryAfter time.Duration
	// Destination reports a retryable failure of the destination as a whole
	// rather than of this recording; see [ErrDestination].
	Destination bool
}

// Error returns the underlying error's message with its classification.
func (e *SinkError) Error() string {
	kind := "retryable"
	switch {
	case e.Permanent:
		kind = "permanent"
	case e.Destination:
		kind = "destination"
	}
	if e.Err == nil {
		return kind + " failure"
	}
	return kind + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *SinkError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrPermanent], [ErrRetryable] or
// [ErrDestination] matching the error's classification.
func (e *SinkError) Is(target error) bool {
	switch target {
	case ErrPermanent:
		return e.Permanent
	case ErrRetryable:
		return !e.Permanent
	case ErrDestination:
		return e.Destination && !e.Permanent
	}
	return false
}

// Permanent marks err as a failure that retrying cannot fix. It returns nil
// when err is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &SinkError{Err: err, Permanent: true}
}

// Retryable marks err as a failure that may go away; after, when positive, is
// the earliest delay before the next attempt. It returns nil when err is nil.
func Retryable(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return &SinkError{Err: err, RetryAfter: after}
}

// Destination marks err as a retryable failure of the destination as a
// whole (see [ErrDestination]); after, when positive, is the earliest delay
// before the next attempt. It returns nil when err is nil.
func Destination(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return &SinkError{Err: err, RetryAfter: after, Destination: true}
}

// IsDestination reports whether err was marked with [Destination] anywhere
// in its chain and not also marked permanent.
func IsDestination(err error) bool {
	return errors.Is(err, ErrDestination) && !IsPermanent(err)
}

// IsPermanent reports whether err was marked with [Permanent] anywhere in its
// chain. Unclassified errors are retryable.
func IsPermanent(err error) bool {
	return errors.Is(err, ErrPermanent)
}

// retryAfter returns the RetryAfter hint carried by err, or zero.
func retryAfter(err error) time.Duration {
	var se *SinkError
	if errors.As(err, &se) && !se.Permanent {
		return se.RetryAfter
	}
	return 0
}

// spoolError classifies a file-system error from the spool: ENOSPC and
// EDQUOT become [ErrSpoolFull], EROFS, EACCES and EPERM become
// [ErrSpoolReadOnly]. Other errors are wrapped unchanged.
func spoolError(op string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("%w: %s: %w", ErrSpoolFull, op, err)
	case errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("%w: %s: %w", ErrSpoolReadOnly, op, err)
	}
	return fmt.Errorf("delivery: %s: %w", op, err)
}
