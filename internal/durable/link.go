package durable

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Link makes name a hard link to oldname, replacing name, and makes the
// new name durable: linked under a temporary name in name's directory,
// renamed over name, and the directory fsynced. The two must be on the
// same file system; otherwise Link fails (with an error matching
// syscall.EXDEV on Linux) and the caller copies instead.
//
// Link does not fsync oldname's data: it is for files already on stable
// storage (a delivery spool's audio), whose blocks a link shares rather
// than rewrites. Linking instead of copying saves writing and flushing the
// whole file again. On error name is unchanged.
func Link(oldname, name string) error {
	if err := LinkNoSyncDir(oldname, name); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(name))
}

// LinkNoSyncDir is [Link] without the directory fsync: the name survives
// a power cut only once the caller has fsynced name's directory, which it
// may share with other files committed there (see
// [Pending.CommitNoSyncDir]).
func LinkNoSyncDir(oldname, name string) error {
	dir, base := filepath.Split(name)
	for range 10000 {
		tmp := filepath.Join(dir, "."+base+tempInfix+randomSuffix())
		err := os.Link(oldname, tmp)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := os.Rename(tmp, name); err != nil {
			os.Remove(tmp)
			return err
		}
		// When name already was a link to oldname's file, the rename
		// did nothing (POSIX: both names are the same file) and left tmp.
		if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return &fs.PathError{Op: "linktemp", Path: name, Err: fs.ErrExist}
}
