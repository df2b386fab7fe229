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
	// temporary name. Nil for a PUT, whose audio was committed in the
	// staging area (staged) when it was acknowledged.
	audio  *durable.Pending
	staged string
	// side is the sidecar, written in dir under a temporary name.
	side *durable.Pending

	rel string // the audio's path relative to Dir, once filed
	err error
}

// syncData fsyncs the data of f's files, both at the same time, so that
// they wait for the disk once. Each request does this on its own, as soon
// as its files are written: there is nothing to share in it.
func (f *filing) syncData() error {
	if f.audio == nil {
		return f.side.Sync()
	}
	errc := make(chan error, 1)
	go func() { errc <- f.audio.Sync() }()
	serr := f.side.Sync()
	return errors.Join(<-errc, serr)
}

// fileGroup gives the fsynced files of a group of recordings their names,
// each audio before its sidecar, so that a crash never leaves a sidecar
// (which Rebuild indexes) without its audio; then it fsyncs each date
// directory once for the whole group. Groups run one at a time (see
// group), which also serialises the choice of names: two recordings of
// one Call-ID on one day never race for one name.
func (a *Archive) fileGroup(group []*filing) {
	dirs := map[string][]*filing{}
	for _, f := range group {
		if err := a.rename(f); err != nil {
			f.err = fmt.Errorf("archive: file %s: %w", f.md.ID, err)
			continue
		}
		dirs[f.dir] = append(dirs[f.dir], f)
	}
	var wg sync.WaitGroup
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
}

// indexGroup writes the rows of a group of filed recordings in one
// transaction. It runs after fileGroup, so a row is never written before
// its files are durable; groups of rows run one at a time, at the same
// time as the next fileGroup.
func (a *Archive) indexGroup(ctx context.Context, group []*filing) {
	rs := make([]Recording, len(group))
	now := a.cfg.Now()
	for i, f := range group {
		rs[i] = Recording{Metadata: f.md, AudioPath: f.rel, Verified: now}
	}
	err := a.store.PutBatch(ctx, rs)
	for i, f := range group {
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
