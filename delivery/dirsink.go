package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/callrec/callrec/internal/ctxio"
	"github.com/callrec/callrec/internal/durable"
)

// DirSinkConfig configures a [DirSink].
type DirSinkConfig struct {
	// Dir is the destination directory, local or mounted; created if
	// missing. Required.
	Dir string
	// Location is the time zone of the date partition. Default UTC.
	Location *time.Location
}

// DirSink delivers recordings into a directory tree partitioned by date:
// Dir/2026/11/23/<call-id>.wav with <call-id>.json beside it. Each file is
// written to a hidden temporary name, fsynced and renamed into place, the
// audio before its sidecar, so a reader that waits for the .json always
// finds complete audio. When Dir is on the spool's file system, the audio
// is a hard link to the spooled file (checked against its digest first)
// rather than a copy: the same durable blocks under a second name. Redelivering a recording replaces its files; a
// different recording with the same Call-ID is stored as
// <call-id>~<id>.wav rather than overwriting it, even when both are
// delivered at the same moment. DirSink is safe for concurrent use.
type DirSink struct {
	cfg   DirSinkConfig
	names nameLocks
}

// NewDirSink returns a DirSink writing under cfg.Dir, which it creates.
func NewDirSink(cfg DirSinkConfig) (*DirSink, error) {
	if cfg.Dir == "" {
		return nil, configError("DirSinkConfig.Dir", "empty")
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("delivery: dir sink: %w", err)
	}
	return &DirSink{cfg: cfg}, nil
}

// Deliver stores item under the sink's directory. Failures to write are
// retryable; audio that does not match its digest is a permanent failure.
func (s *DirSink) Deliver(ctx context.Context, item Item) error {
	md := item.Metadata
	dir, err := durable.MkdirAll(s.cfg.Dir, md.DatePath(s.cfg.Location))
	if err != nil {
		return Retryable(fmt.Errorf("dir sink: %w", err), 0)
	}
	unlock, err := s.names.lock(ctx, filepath.Join(dir, md.BaseName()))
	if err != nil {
		return Retryable(fmt.Errorf("dir sink: %w", err), 0)
	}
	defer unlock()
	base, err := destBase(md, func(name string) ([]byte, error) {
		return readSmall(os.Open(filepath.Join(dir, name)))
	})
	if err != nil {
		return Retryable(fmt.Errorf("dir sink: %w", err), 0)
	}
	meta, err := item.MetadataJSON()
	if err != nil {
		return Permanent(err)
	}
	// The audio is renamed into place before its sidecar, and one
	// directory fsync then makes both names durable before Deliver
	// reports success, as the archive files recordings.
	if err := s.placeAudio(ctx, item, dir, base+md.AudioExt); err != nil {
		return classify("dir sink: ", err)
	}
	if err := writeLocalAtomic(dir, base+".json", ctxio.Reader(ctx, bytes.NewReader(meta))); err != nil {
		return classify("dir sink: ", err)
	}
	if err := durable.SyncDir(dir); err != nil {
		return classify("dir sink: ", err)
	}
	return nil
}

// placeAudio stores the item's audio at dir/name, durable once dir is
// fsynced: hard-linked to
// the spool's file when the queue gave its path and both are on the same
// file system (see linkAudio), copied otherwise.
func (s *DirSink) placeAudio(ctx context.Context, item Item, dir, name string) error {
	if item.path != "" {
		if err := linkAudio(ctx, item, filepath.Join(dir, name)); !errors.Is(err, errNoLink) {
			return err
		}
	}
	audio, err := item.OpenVerified()
	if err != nil {
		return fmt.Errorf("open audio: %w", err)
	}
	defer audio.Close()
	return writeLocalAtomic(dir, name, ctxio.Reader(ctx, audio))
}

// errNoLink is linkAudio's report that the audio could not be linked (the
// destination is another file system, or forbids links): copy it.
var errNoLink = errors.New("dir sink: cannot link")

// linkAudio checks the spooled audio against its digest and size, as a
// copy through Item.OpenVerified does, then links it at name: the
// destination shares the spool's blocks, which the spool made durable when
// it committed the entry, instead of writing and flushing them again
// (BenchmarkDirSinkDeliver). The spool removes only its own name once the
// delivery succeeds.
func linkAudio(ctx context.Context, item Item, name string) error {
	audio, err := item.OpenVerified()
	if err != nil {
		return fmt.Errorf("open audio: %w", err)
	}
	_, err = io.Copy(io.Discard, ctxio.Reader(ctx, audio))
	audio.Close()
	if err != nil {
		return err
	}
	err = durable.LinkNoSyncDir(item.path, name)
	var le *os.LinkError
	if errors.As(err, &le) {
		// Only the link itself failed (EXDEV, EPERM, EMLINK, ...): the
		// destination is unchanged and a copy may succeed.
		return fmt.Errorf("%w: %w", errNoLink, err)
	}
	return err
}

// classify keeps a Permanent error permanent and makes any other error
// retryable, adding prefix to the message.
func classify(prefix string, err error) error {
	if IsPermanent(err) {
		return Permanent(fmt.Errorf("%s%w", prefix, err))
	}
	return Retryable(fmt.Errorf("%s%w", prefix, err), 0)
}

// writeLocalAtomic writes r to dir/name through a hidden temporary file,
// fsynced and renamed into place (see internal/durable); the name is
// durable once the caller has fsynced dir.
func writeLocalAtomic(dir, name string, r io.Reader) error {
	f, err := durable.Create(filepath.Join(dir, name), 0o640)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := io.Copy(f, r); err != nil {
		return err
	}
	return f.CommitNoSyncDir()
}

// destBase returns the base name under which md is stored at a destination
// where read returns the contents of an existing file (fs.ErrNotExist when
// absent): the Call-ID-based name, unless its sidecar belongs to another
// recording, then <name>~<id>.
func destBase(md Metadata, read func(name string) ([]byte, error)) (string, error) {
	base := md.BaseName()
	b, err := read(base + ".json")
	if errors.Is(err, fs.ErrNotExist) {
		return base, nil
	}
	if err != nil {
		return "", err
	}
	var other struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(b, &other) == nil && other.ID == md.ID {
		return base, nil
	}
	return base + "~" + md.ID, nil
}

// readSmall reads at most 1 MiB from the file open returned, and closes it.
func readSmall(f io.ReadCloser, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 1<<20))
}
