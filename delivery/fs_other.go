//go:build !(linux || darwin || freebsd)

package delivery

import (
	"errors"
	"io"
	"os"
)

// lockFile opens name; this platform has no flock(2), so exclusive use of
// the spool is the caller's responsibility.
func lockFile(name string) (io.Closer, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, spoolError("open lock", err)
	}
	return f, nil
}

// diskSpace is not available on this platform.
func diskSpace(string) (DiskSpace, error) {
	return DiskSpace{}, errors.ErrUnsupported
}
