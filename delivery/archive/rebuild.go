package archive

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/internal/recname"
)

// Rebuild indexes every recording found under the archive directory: each
// sidecar (.json) whose audio is beside it. Rows already indexed are
// updated, keeping their notes, tags and hold. It serves both when the
// database is lost and to take over an existing DirSink tree copied into
// Dir. It returns the number of recordings indexed.
func (a *Archive) Rebuild(ctx context.Context) (int, error) {
	return a.importTree(ctx, os.DirFS(a.cfg.Dir))
}

// Import copies the recordings of an existing DirSink tree at src into
// the archive (keeping their layout) and indexes them.
func (a *Archive) Import(ctx context.Context, src string) (int, error) {
	n := 0
	err := walkSidecars(os.DirFS(src), func(rel string, md delivery.Metadata) error {
		audio := strings.TrimSuffix(rel, ".json") + md.AudioExt
		item := delivery.NewItem(md, func() (io.ReadCloser, error) {
			return os.Open(filepath.Join(src, filepath.FromSlash(audio)))
		})
		if err := a.sink.Deliver(ctx, item); err != nil {
			return fmt.Errorf("archive: import %s: %w", audio, err)
		}
		stored, err := a.locate(md)
		if err != nil {
			return err
		}
		n++
		return a.store.Put(ctx, Recording{Metadata: md, AudioPath: stored, Verified: a.cfg.Now()})
	})
	return n, err
}

func (a *Archive) importTree(ctx context.Context, fsys fs.FS) (int, error) {
	const batch = 500
	var rs []Recording
	n := 0
	flush := func() error {
		if len(rs) == 0 {
			return nil
		}
		err := a.store.PutBatch(ctx, rs)
		n += len(rs)
		rs = rs[:0]
		return err
	}
	err := walkSidecars(fsys, func(rel string, md delivery.Metadata) error {
		audio := strings.TrimSuffix(rel, ".json") + md.AudioExt
		if _, err := fs.Stat(fsys, audio); err != nil {
			a.log.Warn("sidecar without audio", "path", rel)
			return nil
		}
		rs = append(rs, Recording{Metadata: md, AudioPath: audio})
		if len(rs) >= batch {
			return flush()
		}
		return ctx.Err()
	})
	if err != nil {
		return n, err
	}
	return n, flush()
}

// walkSidecars calls fn for each valid sidecar under fsys, skipping hidden
// files and folders (the staging area, temporary files, the database).
func walkSidecars(fsys fs.FS, fn func(rel string, md delivery.Metadata) error) error {
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || path.Ext(p) != ".json" {
			return nil
		}
		raw, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		var md delivery.Metadata
		if err := json.Unmarshal(raw, &md); err != nil || !recname.ValidID(md.ID) || !recname.ValidExt(md.AudioExt) {
			// Not one of ours (or damaged): skipped, so that one stray file
			// does not stop a rebuild.
			return nil
		}
		return fn(p, md)
	})
}
