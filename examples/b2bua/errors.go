package main

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidConfig is wrapped by every error that reports an unusable
// configuration file; the error is a [*ConfigError] listing each problem
// with its key.
var ErrInvalidConfig = errors.New("invalid configuration")

// errSIPStopped reports that the B2BUA stopped serving before it was told
// to.
var errSIPStopped = errors.New("sip service stopped unexpectedly")

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

// ConfigError lists every problem found in a configuration file. It
// unwraps to [ErrInvalidConfig].
type ConfigError struct {
	// File is the configuration file's path.
	File string
	// Problems are in the order of the file.
	Problems []Problem
}

// Error returns one "file:line: key: message" line per problem.
func (e *ConfigError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
		if p.Key != "" {
			b.WriteString(p.Key)
			b.WriteString(": ")
		}
		b.WriteString(p.Msg)
	}
	return b.String()
}

// Unwrap returns [ErrInvalidConfig].
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

// Has reports whether some problem names key, for tests and callers that
// branch on a particular key.
func (e *ConfigError) Has(key string) bool {
	for _, p := range e.Problems {
		if p.Key == key {
			return true
		}
	}
	return false
}
