package configfile

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidConfig is wrapped by every error that reports an unusable
// configuration file; the error is an [*Error] listing each problem with
// its key.
var ErrInvalidConfig = errors.New("invalid configuration")

// Problem is one thing wrong with a configuration file.
type Problem struct {
	// Key is the offending key as a path, for example "sinks[0].http.url".
	// It is empty for a problem with the file as a whole.
	Key string
	// Line is the key's line in the file (its parent's for a missing key),
	// or 0 when unknown.
	Line int
	// Msg says what is wrong, in lower case.
	Msg string
}

// Error lists every problem found in a configuration file. It unwraps to
// [ErrInvalidConfig].
type Error struct {
	// File is the configuration file's path; empty when the contents did
	// not come from a file.
	File string
	// Problems are in the order of the file.
	Problems []Problem
}

// Error returns one "file:line: key: message" line per problem, leaving
// out the parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		if e.File != "" {
			b.WriteString(e.File)
			if p.Line > 0 {
				fmt.Fprintf(&b, ":%d", p.Line)
			}
			b.WriteString(": ")
		} else if p.Line > 0 {
			fmt.Fprintf(&b, "line %d: ", p.Line)
		}
		if p.Key != "" {
			b.WriteString(p.Key)
			b.WriteString(": ")
		}
		b.WriteString(p.Msg)
	}
	return b.String()
}

// Unwrap returns [ErrInvalidConfig].
func (e *Error) Unwrap() error { return ErrInvalidConfig }

// Has reports whether some problem names key, for tests and callers that
// branch on a particular key.
func (e *Error) Has(key string) bool {
	for _, p := range e.Problems {
		if p.Key == key {
			return true
		}
	}
	return false
}
