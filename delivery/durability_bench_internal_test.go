//go:build unix

package delivery

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/callrec/callrec/internal/durable"
)

// cpuTime is the process's user and system CPU time so far: what a
// durable write costs the machine is its CPU (the kernel's part of an
// fsync included), not the wall time it waits for the disk.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// callAudio is a 20 s stereo recording's size, what each call of
// compare.sh delivers.
var callAudio = bytes.Repeat([]byte{1, 2, 3, 4}, 20*8000)

// BenchmarkSpoolPut enqueues one 20 s recording that the caller already
// fsynced in a directory beside the spool, as the B2BUA's RecordDir is:
// link, digest, fsyncs, metadata, commit and the source's removal.
// cpu-ns/op counts the put only, not the source's preparation.
func BenchmarkSpoolPut(b *testing.B) {
	root := b.TempDir()
	s, err := openSpool(filepath.Join(root, "spool"), defaultHooks())
	if err != nil {
		b.Fatal(err)
	}
	defer s.close()
	rec := filepath.Join(root, "rec")
	if err := os.Mkdir(rec, 0o750); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var cpu time.Duration
	now := time.Now()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		src := filepath.Join(rec, strconv.Itoa(i)+".wav")
		if err := durable.WriteFile(src, callAudio, 0o640); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := cpuTime()
		md, _, err := s.put(Recording{AudioPath: src, Metadata: Metadata{CallID: "c" + strconv.Itoa(i)}}, now)
		cpu += cpuTime() - start
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := os.RemoveAll(s.path(dirQueue, md.ID)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkDirSinkDeliver delivers one spooled 20 s recording into a
// DirSink: linked when the item carries its spool path (the queue's items,
// same file system), copied when it does not (NewItem's).
func BenchmarkDirSinkDeliver(b *testing.B) {
	for _, link := range []bool{true, false} {
		b.Run("link="+strconv.FormatBool(link), func(b *testing.B) {
			root := b.TempDir()
			src := filepath.Join(root, "audio.wav")
			if err := durable.WriteFile(src, callAudio, 0o640); err != nil {
				b.Fatal(err)
			}
			sink, err := NewDirSink(DirSinkConfig{Dir: filepath.Join(root, "out")})
			if err != nil {
				b.Fatal(err)
			}
			sum, err := fileSHA256(src)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			start := cpuTime()
			for i := 0; b.Loop(); i++ {
				md := Metadata{ID: newID(time.Now()), CallID: "c" + strconv.Itoa(i%16), AudioExt: ".wav",
					SHA256: sum, Size: int64(len(callAudio)), Enqueued: time.Now()}
				item := NewItem(md, func() (io.ReadCloser, error) { return os.Open(src) })
				if link {
					item.path = src
				}
				if err := sink.Deliver(ctx, item); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		})
	}
}
