package durable

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// File is the part of *os.File a durable write goes through.
type File interface {
	io.Writer
	Sync() error
	Close() error
}

// FS is the file-system operations a [Writer] performs.
type FS interface {
	// Create creates name for writing with permissions perm; it fails with
	// an error matching fs.ErrExist when name exists.
	Create(name string, perm fs.FileMode) (File, error)
	// Rename renames oldname to newname, replacing newname.
	Rename(oldname, newname string) error
	// Remove removes name.
	Remove(name string) error
	// SyncDir fsyncs the directory dir, making the names created or
	// renamed in it durable.
	SyncDir(dir string) error
}

// OS is the operating system's file system.
type OS struct{}

// Create creates name exclusively. Its permissions are perm exactly: they
// are set again after the open, which the process's umask narrows.
func (OS) Create(name string, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		os.Remove(name)
		return nil, err
	}
	return f, nil
}

// Rename calls [os.Rename].
func (OS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

// Remove calls [os.Remove].
func (OS) Remove(name string) error { return os.Remove(name) }

// SyncDir fsyncs the directory dir.
func (OS) SyncDir(dir string) error { return SyncDir(dir) }

// SyncDir fsyncs the directory dir, so that the entries created, renamed
// or removed in it survive a power cut.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Writer writes files durably through FS. Its zero value uses [OS].
type Writer struct {
	// FS is the file system written to; nil means [OS].
	FS FS
}

func (w Writer) fs() FS {
	if w.FS == nil {
		return OS{}
	}
	return w.FS
}

// WriteFile writes data to name with permissions perm: to a temporary file
// in name's directory, fsynced, renamed over name, and the directory
// fsynced. On error name is unchanged, unless only the directory fsync
// failed: then name holds data but may not survive a power cut.
func (w Writer) WriteFile(name string, data []byte, perm fs.FileMode) error {
	p, err := w.Create(name, perm)
	if err != nil {
		return err
	}
	if _, err := p.Write(data); err != nil {
		p.Abort()
		return err
	}
	return p.Commit()
}

// Create starts a durable write of name: the [Pending] file it returns is
// written under a temporary name and becomes name on [Pending.Commit].
func (w Writer) Create(name string, perm fs.FileMode) (*Pending, error) {
	fsys := w.fs()
	dir, base := filepath.Split(name)
	for range 10000 {
		tmp := filepath.Join(dir, "."+base+tempInfix+randomSuffix())
		f, err := fsys.Create(tmp, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &Pending{fs: fsys, f: f, tmp: tmp, name: name}, nil
	}
	return nil, &fs.PathError{Op: "createtemp", Path: name, Err: fs.ErrExist}
}

// TempTarget reports whether name (a base name) is the temporary file of
// a durable write that a crash left behind, and if so the name the write
// was to create. Such a file can be removed: the file it was to replace,
// if any, is intact.
func TempTarget(name string) (target string, ok bool) {
	i := strings.LastIndex(name, tempInfix)
	if !strings.HasPrefix(name, ".") || i < 1 {
		return "", false
	}
	return name[1:i], true
}

// tempInfix separates a temporary file's target name from its random suffix.
const tempInfix = ".part-"

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// WriteFile writes data to name durably with the operating system's file
// system; see [Writer.WriteFile].
func WriteFile(name string, data []byte, perm fs.FileMode) error {
	return Writer{}.WriteFile(name, data, perm)
}

// Create starts a durable write of name with the operating system's file
// system; see [Writer.Create].
func Create(name string, perm fs.FileMode) (*Pending, error) {
	return Writer{}.Create(name, perm)
}

// Pending is a file being written durably. Exactly one of Commit and Abort
// must be called; Abort after Commit does nothing, so it can be deferred.
type Pending struct {
	fs        FS
	f         File
	tmp, name string
	done      bool
	// synced: Sync succeeded and nothing was written since.
	synced bool
}

// Write writes to the temporary file.
func (p *Pending) Write(b []byte) (int, error) {
	p.synced = false
	return p.f.Write(b)
}

// Sync fsyncs the data written so far. Commit fsyncs again, which costs
// little when nothing was written since (but see [Pending.CommitTo],
// which does not); Sync lets a caller fsync several files at the same time
// (one journal commit on most file systems) and still rename them in the
// order it needs.
func (p *Pending) Sync() error {
	err := p.f.Sync()
	p.synced = err == nil
	return err
}

// Name returns the temporary file's name.
func (p *Pending) Name() string { return p.tmp }

// Commit fsyncs and closes the temporary file, renames it over the final
// name and fsyncs the directory. On an error before the rename the
// temporary file is removed and the final name is unchanged.
func (p *Pending) Commit() error {
	if err := p.CommitNoSyncDir(); err != nil {
		return err
	}
	return p.fs.SyncDir(filepath.Dir(p.name))
}

// CommitNoSyncDir is [Pending.Commit] without the directory fsync: the
// data is durable and has its final name, but the name survives a power
// cut only once the caller has fsynced the directory ([SyncDir]). It is
// for a caller that shares one directory fsync among many files committed
// at the same time, or that renames the file on into another directory
// and fsyncs that one; until then it must not acknowledge the file.
func (p *Pending) CommitNoSyncDir() error {
	if p.done {
		return errors.New("durable: commit of a finished file")
	}
	p.done = true
	err := p.f.Sync()
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = p.fs.Rename(p.tmp, p.name)
	}
	if err != nil {
		p.fs.Remove(p.tmp)
	}
	return err
}

// CommitTo is [Pending.CommitNoSyncDir] under another final name, which
// must be on the same file system, and without a second fsync when the
// data was fsynced by [Pending.Sync] after the last Write. It is for a
// caller that fsyncs many files at the same time and only then picks their
// names (DirSink's choice depends on the names already taken); the second
// fsync it saves costs a disk cache flush on a file system without a
// journal even when there is no data left to write. As with
// CommitNoSyncDir, the name survives a power cut only once the caller has
// fsynced its directory.
func (p *Pending) CommitTo(name string) error {
	if p.done {
		return errors.New("durable: commit of a finished file")
	}
	if !p.synced {
		p.name = name
		return p.CommitNoSyncDir()
	}
	p.done = true
	err := p.f.Close()
	if err == nil {
		err = p.fs.Rename(p.tmp, name)
	}
	if err != nil {
		p.fs.Remove(p.tmp)
		return err
	}
	p.name = name
	return nil
}

// Abort closes and removes the temporary file, leaving the final name
// unchanged. It does nothing after Commit or Abort.
func (p *Pending) Abort() {
	if p.done {
		return
	}
	p.done = true
	p.f.Close()
	p.fs.Remove(p.tmp)
}

// MkdirAll creates root/rel (rel slash-separated) with permissions 0750
// and, when it had to create any part of it, fsyncs every directory from
// rel's parent up to root, so that a file later committed in it survives
// a power cut. It returns the directory's path.
func MkdirAll(root, rel string) (string, error) {
	dir := filepath.Join(root, filepath.FromSlash(rel))
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return dir, nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		if err := SyncDir(d); err != nil {
			return "", err
		}
		if d == filepath.Clean(root) || d == filepath.Dir(d) {
			return dir, nil
		}
	}
}
