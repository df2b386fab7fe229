//go:build unix

package durable_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/callrec/callrec/internal/durable"
)

// cpuTime is the process's user and system CPU time so far: an fsync's
// cost to the machine is its CPU, not the wall time it waits for the disk.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// sidecar is the size of a recording's metadata sidecar.
var sidecar = bytes.Repeat([]byte("x"), 700)

// BenchmarkWriteFile is one durable write of a sidecar: create, write,
// fsync, rename, directory fsync.
func BenchmarkWriteFile(b *testing.B) {
	dir := b.TempDir()
	b.ReportAllocs()
	start := cpuTime()
	for i := 0; b.Loop(); i++ {
		if err := durable.WriteFile(filepath.Join(dir, strconv.Itoa(i%64)+".json"), sidecar, 0o640); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

// BenchmarkCommitNoSyncDir replaces a sidecar with its data fsynced but
// without the directory fsync.
func BenchmarkCommitNoSyncDir(b *testing.B) {
	dir := b.TempDir()
	b.ReportAllocs()
	start := cpuTime()
	for i := 0; b.Loop(); i++ {
		p, err := durable.Create(filepath.Join(dir, strconv.Itoa(i%64)+".json"), 0o640)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Write(sidecar); err != nil {
			b.Fatal(err)
		}
		if err := p.CommitNoSyncDir(); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

// BenchmarkCopyRecording and BenchmarkLinkRecording place a 20 s stereo
// recording (640 KB, already on stable storage) at a destination: copied
// and fsynced, or hard-linked.
func BenchmarkCopyRecording(b *testing.B) {
	src, dir := wavFile(b)
	b.ReportAllocs()
	start := cpuTime()
	for i := 0; b.Loop(); i++ {
		data, err := os.ReadFile(src)
		if err != nil {
			b.Fatal(err)
		}
		if err := durable.WriteFile(filepath.Join(dir, strconv.Itoa(i%16)+".wav"), data, 0o640); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

func BenchmarkLinkRecording(b *testing.B) {
	src, dir := wavFile(b)
	b.ReportAllocs()
	start := cpuTime()
	for i := 0; b.Loop(); i++ {
		if err := durable.Link(src, filepath.Join(dir, strconv.Itoa(i%16)+".wav")); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

func wavFile(b *testing.B) (src, dir string) {
	b.Helper()
	dir = b.TempDir()
	src = filepath.Join(dir, "src.wav")
	if err := durable.WriteFile(src, bytes.Repeat([]byte{1, 2, 3, 4}, 20*8000), 0o640); err != nil {
		b.Fatal(err)
	}
	dst := filepath.Join(dir, "out")
	if err := os.Mkdir(dst, 0o750); err != nil {
		b.Fatal(err)
	}
	return src, dst
}
