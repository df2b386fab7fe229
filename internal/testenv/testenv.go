// Package testenv lets tests that need an external tool skip on a developer's
// machine that lacks it, and fail under CI (CI=true), where `make test`
// installs every tool and a skip would hide a missing install step.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// LookPath returns the path of the named command. When the command is
// missing it fails the test under CI=true and skips it otherwise, naming the
// Debian package that provides it.
func LookPath(t testing.TB, command, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(command)
	if err == nil {
		return path
	}
	msg := command + " not found: install the Debian package " + debianPackage + " (make test does)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
