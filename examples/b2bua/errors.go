package main

import (
	"errors"

	"github.com/callrec/callrec/internal/configfile"
)

// ErrInvalidConfig is wrapped by every error that reports an unusable
// configuration file; the error is a [*ConfigError] listing each problem
// with its key.
var ErrInvalidConfig = configfile.ErrInvalidConfig

// errSIPStopped reports that the B2BUA stopped serving before it was told
// to.
var errSIPStopped = errors.New("sip service stopped unexpectedly")

// Problem is one thing wrong with a configuration file: its key, line and
// message.
type Problem = configfile.Problem

// ConfigError lists every problem found in a configuration file, one
// "file:line: key: message" line each. It unwraps to [ErrInvalidConfig].
// It is the error type every example service reports its configuration
// file with.
type ConfigError = configfile.Error
