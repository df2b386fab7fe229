//go:build linux || darwin || freebsd

package delivery

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// lockFile opens name and takes an exclusive, non-blocking flock(2) on it.
// The kernel drops the lock when the process dies, so a crashed queue never
// leaves the spool locked.
func lockFile(name string) (io.Closer, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, spoolError("open lock", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrSpoolLocked, name)
		}
		return nil, spoolError("lock", err)
	}
	return f, nil
}

// diskSpace returns the space of the file system holding dir.
func diskSpace(dir string) (DiskSpace, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return DiskSpace{}, fmt.Errorf("delivery: statfs %s: %w", dir, err)
	}
	bsize := uint64(st.Bsize)
	return DiskSpace{
		Total: uint64(st.Blocks) * bsize,
		Free:  uint64(st.Bavail) * bsize,
	}, nil
}
