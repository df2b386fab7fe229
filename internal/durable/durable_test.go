package durable_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/internal/durable"
)

// recordingFS performs every operation on the real file system and notes
// it, so that a test can check the order a power cut depends on.
type recordingFS struct {
	durable.OS
	ops  []string
	fail map[string]error // operation name -> error to return instead
}

func (r *recordingFS) note(op, name string) error {
	r.ops = append(r.ops, op+" "+filepath.Base(name))
	return r.fail[op]
}

func (r *recordingFS) Create(name string, perm fs.FileMode) (durable.File, error) {
	if err := r.note("create", tempBase(name)); err != nil {
		return nil, err
	}
	f, err := r.OS.Create(name, perm)
	if err != nil {
		return nil, err
	}
	return &recordingFile{File: f, fs: r}, nil
}

func (r *recordingFS) Rename(oldname, newname string) error {
	if err := r.note("rename", tempBase(oldname)+" -> "+filepath.Base(newname)); err != nil {
		return err
	}
	return r.OS.Rename(oldname, newname)
}

func (r *recordingFS) Remove(name string) error {
	r.note("remove", tempBase(name))
	return r.OS.Remove(name)
}

func (r *recordingFS) SyncDir(dir string) error {
	if err := r.note("syncdir", dir); err != nil {
		return err
	}
	return r.OS.SyncDir(dir)
}

type recordingFile struct {
	durable.File
	fs *recordingFS
}

func (f *recordingFile) Write(p []byte) (int, error) {
	if err := f.fs.note("write", string(p)); err != nil {
		return 0, err
	}
	return f.File.Write(p)
}

func (f *recordingFile) Sync() error {
	if err := f.fs.note("sync", "file"); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *recordingFile) Close() error {
	f.fs.note("close", "file")
	return f.File.Close()
}

// tempBase replaces the random suffix of a temporary name with "*".
func tempBase(name string) string {
	if i := strings.LastIndex(name, ".part-"); i >= 0 {
		return name[:i] + ".part-*"
	}
	return name
}

func TestWriteFileOrderOfOperations(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "state.json")
	require.NoError(t, os.WriteFile(name, []byte("old"), 0o600))
	rec := &recordingFS{}

	require.NoError(t, durable.Writer{FS: rec}.WriteFile(name, []byte("new"), 0o640))

	// Data fsync before the rename, directory fsync after it: a power cut at
	// any point leaves "old" or "new", never an empty or lost file.
	assert.Equal(t, []string{
		"create .state.json.part-*",
		"write new",
		"sync file",
		"close file",
		"rename .state.json.part-* -> state.json",
		"syncdir " + filepath.Base(dir),
	}, rec.ops)
	got, err := os.ReadFile(name)
	require.NoError(t, err)
	assert.Equal(t, "new", string(got))
	fi, err := os.Stat(name)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o640), fi.Mode().Perm())
	assertOnly(t, dir, "state.json")
}

func TestCommitNoSyncDirLeavesTheDirectoryToTheCaller(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "a.json")
	rec := &recordingFS{}
	p, err := durable.Writer{FS: rec}.Create(name, 0o640)
	require.NoError(t, err)
	_, err = p.Write([]byte("x"))
	require.NoError(t, err)
	require.NoError(t, p.Sync())
	_, err = os.Stat(name)
	require.ErrorIs(t, err, fs.ErrNotExist, "Sync does not rename")
	require.NoError(t, p.CommitNoSyncDir())
	// The data is fsynced before the rename; no directory fsync.
	assert.Equal(t, []string{
		"create .a.json.part-*",
		"write x",
		"sync file",
		"sync file",
		"close file",
		"rename .a.json.part-* -> a.json",
	}, rec.ops)
	require.Error(t, p.Commit(), "a second commit is refused")
	assertOnly(t, dir, "a.json")

	rec.fail = map[string]error{"sync": syscall.EIO}
	p, err = durable.Writer{FS: rec}.Create(name, 0o640)
	require.NoError(t, err)
	require.ErrorIs(t, p.CommitNoSyncDir(), syscall.EIO)
	assertOnly(t, dir, "a.json")
}

// TestCommitToAfterSync: a file fsynced by Sync is renamed to the name
// given to CommitTo without a second fsync; a Write after the Sync, or no
// Sync at all, brings the fsync back before the rename.
func TestCommitToAfterSync(t *testing.T) {
	dir := t.TempDir()
	rec := &recordingFS{}
	p, err := durable.Writer{FS: rec}.Create(filepath.Join(dir, "a.json"), 0o640)
	require.NoError(t, err)
	_, err = p.Write([]byte("x"))
	require.NoError(t, err)
	require.NoError(t, p.Sync())
	require.NoError(t, p.CommitTo(filepath.Join(dir, "b.json")))
	assert.Equal(t, []string{
		"create .a.json.part-*",
		"write x",
		"sync file",
		"close file",
		"rename .a.json.part-* -> b.json",
	}, rec.ops)
	require.Error(t, p.CommitTo(filepath.Join(dir, "c.json")), "a second commit is refused")
	assertOnly(t, dir, "b.json")

	for _, syncFirst := range []bool{false, true} {
		rec.ops = nil
		p, err = durable.Writer{FS: rec}.Create(filepath.Join(dir, "d.json"), 0o640)
		require.NoError(t, err)
		if syncFirst {
			require.NoError(t, p.Sync())
		}
		_, err = p.Write([]byte("y"))
		require.NoError(t, err)
		require.NoError(t, p.CommitTo(filepath.Join(dir, "e.json")))
		assert.Equal(t, []string{"sync file", "close file", "rename .d.json.part-* -> e.json"}, rec.ops[len(rec.ops)-3:],
			"data written after the last Sync (sync first: %v) is fsynced before the rename", syncFirst)
	}
	assertOnly(t, dir, "b.json", "e.json")

	rec.fail = map[string]error{"rename": syscall.EXDEV}
	p, err = durable.Writer{FS: rec}.Create(filepath.Join(dir, "f.json"), 0o640)
	require.NoError(t, err)
	require.NoError(t, p.Sync())
	require.ErrorIs(t, p.CommitTo(filepath.Join(dir, "g.json")), syscall.EXDEV)
	assertOnly(t, dir, "b.json", "e.json")
}

func TestWriteFileFailuresKeepTheOldFile(t *testing.T) {
	enospc := &os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}
	for _, tc := range []struct {
		op      string
		wantOps []string
	}{
		{op: "create", wantOps: []string{"create .f.part-*"}},
		{op: "write", wantOps: []string{"create .f.part-*", "write new", "close file", "remove .f.part-*"}},
		{op: "sync", wantOps: []string{"create .f.part-*", "write new", "sync file", "close file", "remove .f.part-*"}},
		{op: "rename", wantOps: []string{"create .f.part-*", "write new", "sync file", "close file", "rename .f.part-* -> f", "remove .f.part-*"}},
	} {
		t.Run(tc.op, func(t *testing.T) {
			dir := t.TempDir()
			name := filepath.Join(dir, "f")
			require.NoError(t, os.WriteFile(name, []byte("old"), 0o600))
			rec := &recordingFS{fail: map[string]error{tc.op: enospc}}
			err := durable.Writer{FS: rec}.WriteFile(name, []byte("new"), 0o640)
			require.ErrorIs(t, err, syscall.ENOSPC)
			assert.Equal(t, tc.wantOps, rec.ops)
			got, rerr := os.ReadFile(name)
			require.NoError(t, rerr)
			assert.Equal(t, "old", string(got))
			assertOnly(t, dir, "f")
		})
	}
	t.Run("syncdir", func(t *testing.T) {
		// The rename happened: the new data is in place, but the caller
		// learns that it may not survive a power cut.
		dir := t.TempDir()
		name := filepath.Join(dir, "f")
		rec := &recordingFS{fail: map[string]error{"syncdir": syscall.EIO}}
		require.ErrorIs(t, durable.Writer{FS: rec}.WriteFile(name, []byte("new"), 0o640), syscall.EIO)
		got, err := os.ReadFile(name)
		require.NoError(t, err)
		assert.Equal(t, "new", string(got))
	})
}

func TestPendingAbortAndCommit(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "audio.wav")
	p, err := durable.Create(name, 0o600)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(filepath.Base(p.Name()), ".audio.wav.part-"), p.Name())
	_, err = p.Write([]byte("partial"))
	require.NoError(t, err)
	_, err = os.Stat(name)
	require.ErrorIs(t, err, fs.ErrNotExist, "nothing under the final name before Commit")
	p.Abort()
	p.Abort()
	assertOnly(t, dir)

	p, err = durable.Create(name, 0o600)
	require.NoError(t, err)
	_, err = p.Write([]byte("whole"))
	require.NoError(t, err)
	require.NoError(t, p.Commit())
	p.Abort() // after Commit: does nothing
	require.Error(t, p.Commit(), "a second Commit is refused")
	got, err := os.ReadFile(name)
	require.NoError(t, err)
	assert.Equal(t, "whole", string(got))
	fi, err := os.Stat(name)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())
	assertOnly(t, dir, "audio.wav")
}

func TestCreateInMissingDirectory(t *testing.T) {
	err := durable.WriteFile(filepath.Join(t.TempDir(), "no", "f"), []byte("x"), 0o640)
	require.True(t, errors.Is(err, fs.ErrNotExist), err)
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	assert.ElementsMatch(t, names, got)
}

func TestTempTarget(t *testing.T) {
	dir := t.TempDir()
	p, err := durable.Create(filepath.Join(dir, "call.json"), 0o640)
	require.NoError(t, err)
	defer p.Abort()
	target, ok := durable.TempTarget(filepath.Base(p.Name()))
	assert.True(t, ok)
	assert.Equal(t, "call.json", target)
	for _, name := range []string{"call.json", ".hidden", "x.part-1", ".part-1"} {
		_, ok := durable.TempTarget(name)
		assert.False(t, ok, name)
	}
}

func TestMkdirAll(t *testing.T) {
	root := t.TempDir()
	dir, err := durable.MkdirAll(root, "2026/12/06")
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(root, "2026", "12", "06"), dir)
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.True(t, fi.IsDir())

	again, err := durable.MkdirAll(root, "2026/12/06")
	require.NoError(t, err, "an existing directory is no error")
	assert.Equal(t, dir, again)

	require.NoError(t, os.WriteFile(filepath.Join(root, "file"), nil, 0o600))
	_, err = durable.MkdirAll(root, "file/sub")
	assert.ErrorIs(t, err, syscall.ENOTDIR, "a file in the way")
}

func TestLink(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	require.NoError(t, durable.WriteFile(src, []byte("audio"), 0o640))
	dst := filepath.Join(dir, "dst")
	require.NoError(t, os.WriteFile(dst, []byte("older"), 0o640))
	// Replacing another file, then relinking the same file (a redelivery):
	// no temporary name is left either time.
	for range 2 {
		require.NoError(t, durable.Link(src, dst))
		sfi, err := os.Stat(src)
		require.NoError(t, err)
		dfi, err := os.Stat(dst)
		require.NoError(t, err)
		assert.True(t, os.SameFile(sfi, dfi))
		assertOnly(t, dir, "dst", "src")
	}
	err := durable.Link(filepath.Join(dir, "missing"), dst)
	require.ErrorIs(t, err, fs.ErrNotExist)
	var le *os.LinkError
	assert.ErrorAs(t, err, &le, "a failed link is an *os.LinkError, which a caller falls back to a copy on")
	assertOnly(t, dir, "dst", "src")
}
