// Package testenv lets tests that need an external tool skip on a developer's
// machine that lacks it, and fail under CI (CI=true), where `make test`
// installs every tool and a skip would hide a missing install step.
package testenv

import (
	"os"
	"os/exec"
	"strconv"
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

// TmpfsDir mounts a tmpfs of size bytes on a new temporary directory and
// returns it, unmounted when the test ends. Mounting needs root: without it
// the test fails under CI=true and is skipped otherwise.
func TmpfsDir(t testing.TB, size int64) string {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() != 0 {
		msg := "mounting a tmpfs needs root"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10), "tmpfs", dir).CombinedOutput()
	if err != nil {
		msg := "mount -t tmpfs: " + err.Error() + ": " + string(out)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}
