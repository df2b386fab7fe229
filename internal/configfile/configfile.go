package configfile

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxFileSize is the largest configuration file [Load] reads. A
// configuration is a page of settings; anything larger is a mistake (a
// recording or a log named by accident) that is refused before it is
// parsed.
const MaxFileSize = 1 << 20

// Load reads the file at path and returns what parse makes of its
// contents. A file larger than [MaxFileSize] is an [*Error]. An error of
// parse that is (or wraps) an [*Error] comes back as it is, the Error's
// File set to path when parse left it empty. The
// errors of opening and reading the file come back as they are (for
// example wrapping [os.ErrNotExist]), and any other error of parse is
// wrapped with the path.
func Load[T any](path string, parse func(raw []byte) (T, error)) (T, error) {
	var zero T
	f, err := os.Open(path)
	if err != nil {
		return zero, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return zero, err
	}
	if len(raw) > MaxFileSize {
		return zero, &Error{File: path, Problems: []Problem{{Msg: fmt.Sprintf("file larger than %d bytes", MaxFileSize)}}}
	}
	v, err := parse(raw)
	if err != nil {
		if e := (*Error)(nil); errors.As(err, &e) {
			if e.File == "" {
				e.File = path
			}
			return zero, err
		}
		return zero, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}
