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

// filing is one verified recording on its way into the DirSink layout
// (Dir/<date>/<call-id><ext> and .json, or <call-id>~<id> when another
// recording holds that name, as DirSink names them).
type filing struct {
	md       delivery.Metadata
	datePath string // md's date folder, slash-separated
	dir      string // Dir/datePath
	// audio is the audio of a POST: written and verified in dir under a
	// temporary name, not yet fsynced. Nil for a PUT, whose audio was
	// committed in the staging area (staged) when it was acknowledged.
	audio  *durable.Pending
	staged string
	// side is the sidecar, written in dir under a temporary name.
	side *durable.Pending

	rel      string // the audio's path relative to Dir, once filed
	err      error
	audioErr error // of the audio's fsync
}

// fileGroup files and indexes a group of recordings delivered at the same
// time with as few waits for the disk as the guarantee allows: the data of
// every file of the group is fsynced at once; then the files get their
// names, each audio before its sidecar, so that a crash never leaves a
// sidecar (which Rebuild indexes) without its audio; then each date
// directory is fsynced once for the whole group; then the group's rows
// are written in one transaction. A row is thus never written before its
// files are durable, and a recording is acknowledged only after both, so
// a 2xx means that both files, data and names, survive a power cut.
//
// Groups run one at a time (see group), which also serialises the choice
// of names: two recordings of one Call-ID on one day never race for one
// name.
func (a *Archive) fileGroup(ctx context.Context, group []*filing) {
	var wg sync.WaitGroup
	for _, f := range group {
		if f.audio != nil {
			wg.Go(func() { f.audioErr = f.audio.Sync() })
		}
		wg.Go(func() { f.err = f.side.Sync() })
	}
	wg.Wait()
	dirs := map[string][]*filing{}
	for _, f := range group {
		if f.err = errors.Join(f.audioErr, f.err); f.err == nil {
			f.err = a.rename(f)
		}
		if f.err != nil {
			f.err = fmt.Errorf("archive: file %s: %w", f.md.ID, f.err)
			continue
		}
		dirs[f.dir] = append(dirs[f.dir], f)
	}
	for dir, fs := range dirs {
		wg.Go(func() {
			if err := durable.SyncDir(dir); err != nil {
				for _, f := range fs {
					f.err = fmt.Errorf("archive: file %s: %w", f.md.ID, err)
				}
			}
		})
	}
	wg.Wait()
	a.index(ctx, group)
}

// index writes the rows of the filed recordings of a group in one
// transaction.
func (a *Archive) index(ctx context.Context, group []*filing) {
	var filed []*filing
	var rs []Recording
	now := a.cfg.Now()
	for _, f := range group {
		if f.err == nil {
			filed = append(filed, f)
			rs = append(rs, Recording{Metadata: f.md, AudioPath: f.rel, Verified: now})
		}
	}
	if len(rs) == 0 {
		return
	}
	err := a.store.PutBatch(ctx, rs)
	for i, f := range filed {
		if err != nil && len(rs) > 1 {
			// One bad row must not fail the others: retry one by one.
			f.err = a.store.Put(ctx, rs[i])
		} else {
			f.err = err
		}
	}
}

// rename gives f's fsynced files their names.
func (a *Archive) rename(f *filing) error {
	base, err := a.baseName(f.dir, f.md)
	if err != nil {
		return err
	}
	name := filepath.Join(f.dir, base+f.md.AudioExt)
	if f.audio != nil {
		err = f.audio.CommitTo(name)
	} else {
		err = os.Rename(f.staged, name)
	}
	if err != nil {
		return err
	}
	if err := f.side.CommitTo(filepath.Join(f.dir, base+".json")); err != nil {
		return err
	}
	f.rel = path.Join(f.datePath, base+f.md.AudioExt)
	return nil
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
