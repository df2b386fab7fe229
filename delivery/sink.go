package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
)

// Sink delivers recordings to one destination.
//
// Deliver stores item at the destination and returns nil only once the
// destination holds the complete audio and its metadata. The queue calls
// Deliver from up to [Config.Workers] goroutines at once, each with a
// different item, so implementations must be safe for concurrent use.
// Deliver must be idempotent: the same item (same Metadata.ID) may be
// delivered again after a crash or a lost acknowledgement, and must then
// replace, not duplicate, the earlier copy. It must honour ctx and return
// promptly when it is cancelled. A failure is classified with [Permanent] or
// [Retryable]; an unclassified error is retryable.
type Sink interface {
	Deliver(ctx context.Context, item Item) error
}

// SinkFunc adapts a function to the [Sink] interface.
type SinkFunc func(ctx context.Context, item Item) error

// Deliver calls f(ctx, item).
func (f SinkFunc) Deliver(ctx context.Context, item Item) error { return f(ctx, item) }

// Item is one spooled recording handed to a [Sink].
type Item struct {
	// Metadata describes the recording; ID, SHA256, Size and AudioExt are
	// always set.
	Metadata Metadata
	// Attempt counts delivery attempts of this recording, 1 for the first.
	Attempt int

	open func() (io.ReadCloser, error)
	// path is the audio's file in the spool, for a sink on the same file
	// system to link rather than copy (see DirSink); "" for items built
	// with NewItem.
	path string
}

// NewItem returns an Item whose audio is read from the readers open returns.
// The queue builds items itself; NewItem serves sinks' tests and callers
// that drive a Sink directly.
func NewItem(md Metadata, open func() (io.ReadCloser, error)) Item {
	return Item{Metadata: md, Attempt: 1, open: open}
}

// Open returns a new reader of the item's audio, positioned at its start.
// Each call opens the audio afresh; the caller closes the reader.
func (it Item) Open() (io.ReadCloser, error) {
	if it.open == nil {
		return nil, fmt.Errorf("%w: item %q has no audio", ErrInvalidRecording, it.Metadata.ID)
	}
	return it.open()
}

// MetadataJSON returns the JSON sidecar delivered next to the audio.
func (it Item) MetadataJSON() ([]byte, error) {
	b, err := json.MarshalIndent(it.Metadata, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("delivery: encode metadata of %q: %w", it.Metadata.ID, err)
	}
	return append(b, '\n'), nil
}

// OpenVerified returns a reader of the item's audio that checks, when it
// reaches the end, that exactly Metadata.Size bytes with digest
// Metadata.SHA256 were read. A mismatch surfaces as a read error wrapping
// [ErrChecksumMismatch] marked [Permanent], so a sink never commits a
// corrupt or truncated copy.
func (it Item) OpenVerified() (io.ReadCloser, error) {
	rc, err := it.Open()
	if err != nil {
		return nil, err
	}
	return &verifyingReader{rc: rc, h: sha256.New(), want: it.Metadata.SHA256, size: it.Metadata.Size}, nil
}

// verifyingReader hashes what it reads and checks digest and length at EOF.
type verifyingReader struct {
	rc   io.ReadCloser
	h    hash.Hash
	want string
	size int64
	n    int64
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.n > v.size {
		return n, Permanent(fmt.Errorf("%w: audio longer than %d bytes", ErrChecksumMismatch, v.size))
	}
	if err == io.EOF {
		if v.n != v.size {
			return n, Permanent(fmt.Errorf("%w: audio is %d bytes, want %d", ErrChecksumMismatch, v.n, v.size))
		}
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want {
			return n, Permanent(fmt.Errorf("%w: audio sha256 %s, want %s", ErrChecksumMismatch, got, v.want))
		}
	}
	return n, err
}

func (v *verifyingReader) Close() error { return v.rc.Close() }
