package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sync"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/internal/durable"
)

// file moves the verified audio at staged into the DirSink layout
// (Dir/<date>/<call-id><ext>, or <call-id>~<id> when another recording
// holds that name, as DirSink names them) and writes its sidecar beside
// it, durably: both files' data fsynced, then one fsync of the directory
// for both names, shared with the recordings filed there at the same
// time. Moving the staged file instead of copying it saves a second write
// and a second SHA-256 of the audio. It returns the audio's path relative
// to Dir.
//
// When audio is not nil it is the staged file, written but not yet
// committed: its fsync then runs at the same time as the sidecar's, which
// costs one wait for the disk instead of two. The audio is still renamed
// first, so that a crash never leaves a sidecar (which Rebuild indexes)
// without its audio.
func (a *Archive) file(ctx context.Context, md delivery.Metadata, staged string, audio *durable.Pending) (string, error) {
	datePath := md.DatePath(a.cfg.Location)
	dir, err := durable.MkdirAll(a.cfg.Dir, datePath)
	if err != nil {
		return "", fmt.Errorf("archive: file %s: %w", md.ID, err)
	}
	unlockName, err := a.names.lock(ctx, filepath.Join(dir, md.BaseName()))
	if err != nil {
		return "", err
	}
	var once sync.Once
	unlock := func() { once.Do(unlockName) }
	defer unlock()
	base, err := a.baseName(dir, md)
	if err != nil {
		return "", fmt.Errorf("archive: file %s: %w", md.ID, err)
	}
	meta, err := delivery.NewItem(md, nil).MetadataJSON()
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidRecording, err)
	}
	side, err := durable.Create(filepath.Join(dir, base+".json"), 0o600)
	if err != nil {
		return "", fmt.Errorf("archive: file %s: %w", md.ID, err)
	}
	defer side.Abort()
	if _, err := side.Write(meta); err != nil {
		return "", fmt.Errorf("archive: file %s: %w", md.ID, err)
	}
	if err := syncBoth(audio, side); err != nil {
		return "", fmt.Errorf("archive: file %s: %w", md.ID, err)
	}
	if err := os.Rename(staged, filepath.Join(dir, base+md.AudioExt)); err != nil {
		return "", fmt.Errorf("archive: file %s: %w", md.ID, err)
	}
	// The sidecar's data is already on disk: this fsync finds nothing to write.
	if err := side.CommitNoSyncDir(); err != nil {
		return "", fmt.Errorf("archive: file %s: %w", md.ID, err)
	}
	unlock()
	if err := a.dirSync.sync(dir); err != nil {
		return "", fmt.Errorf("archive: file %s: %w", md.ID, err)
	}
	return path.Join(datePath, base+md.AudioExt), nil
}

// syncBoth commits the staged audio (fsync and rename within the staging
// directory; nil when it was committed before) while fsyncing the
// sidecar's data, so that both fsyncs wait for the disk together.
func syncBoth(audio, side *durable.Pending) error {
	if audio == nil {
		return side.Sync()
	}
	errc := make(chan error, 1)
	go func() { errc <- audio.CommitNoSyncDir() }()
	serr := side.Sync()
	if err := <-errc; err != nil {
		return err
	}
	return serr
}

// baseName is DirSink's choice of name: the Call-ID's, unless a sidecar of
// another recording has it.
func (a *Archive) baseName(dir string, md delivery.Metadata) (string, error) {
	base := md.BaseName()
	raw, err := os.ReadFile(filepath.Join(dir, base+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return base, nil
	}
	if err != nil {
		return "", err
	}
	var other struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &other) == nil && other.ID == md.ID {
		return base, nil
	}
	return base + "~" + md.ID, nil
}

// nameLocks serialises the filing of recordings that want the same name
// (the same Call-ID on the same day), so that the collision check and the
// renames of one are not interleaved with another's.
type nameLocks struct {
	mu   sync.Mutex
	held map[string]chan struct{}
}

func (l *nameLocks) lock(ctx context.Context, name string) (func(), error) {
	for {
		l.mu.Lock()
		if l.held == nil {
			l.held = map[string]chan struct{}{}
		}
		ch, busy := l.held[name]
		if !busy {
			ch = make(chan struct{})
			l.held[name] = ch
			l.mu.Unlock()
			return func() {
				l.mu.Lock()
				delete(l.held, name)
				l.mu.Unlock()
				close(ch)
			}, nil
		}
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// dirSyncer coalesces the directory fsyncs of recordings filed at the
// same time into the same directory: a caller waits for one fsync that
// started after its renames, and one fsync serves every caller waiting
// when it starts.
type dirSyncer struct {
	mu   sync.Mutex
	dirs map[string]*dirSync
}

type dirSync struct {
	cond    *sync.Cond
	started uint64 // number of fsyncs started
	done    uint64 // number of fsyncs finished
	running bool
	err     error // of the last finished fsync
}

// sync returns once an fsync of dir begun after the call has finished.
// It keeps one small entry per directory ever synced: one per day.
func (s *dirSyncer) sync(dir string) error {
	s.mu.Lock()
	if s.dirs == nil {
		s.dirs = map[string]*dirSync{}
	}
	d := s.dirs[dir]
	if d == nil {
		d = &dirSync{cond: sync.NewCond(&s.mu)}
		s.dirs[dir] = d
	}
	// The fsync running now may have begun before our renames: wait for
	// the next one to start.
	want := d.started + 1
	for d.done < want {
		if d.running {
			d.cond.Wait()
			continue
		}
		d.running = true
		d.started++
		n := d.started
		s.mu.Unlock()
		err := durable.SyncDir(dir)
		s.mu.Lock()
		d.running, d.done, d.err = false, n, err
		d.cond.Broadcast()
	}
	err := d.err
	s.mu.Unlock()
	return err
}
