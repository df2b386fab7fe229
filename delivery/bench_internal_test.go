package delivery

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func benchSources(b *testing.B, n, size int) []string {
	b.Helper()
	dir := b.TempDir()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 31)
	}
	paths := make([]string, n)
	for i := range paths {
		paths[i] = filepath.Join(dir, fmt.Sprintf("call-%06d.wav", i))
		if err := os.WriteFile(paths[i], data, 0o640); err != nil {
			b.Fatal(err)
		}
	}
	return paths
}

// BenchmarkEnqueue measures durable enqueues of a 64 KiB recording: by hard
// link (caller's file on the spool's file system) and by copy (another file
// system).
func BenchmarkEnqueue(b *testing.B) {
	for _, mode := range []string{"link", "copy"} {
		b.Run(mode, func(b *testing.B) {
			hooks := defaultHooks()
			if mode == "copy" {
				hooks.link = func(string, string) error { return &os.LinkError{Op: "link", Err: syscall.EXDEV} }
			}
			q, err := New(Config{Dir: b.TempDir(), Sink: SinkFunc(func(context.Context, Item) error { return nil }), hooks: hooks})
			if err != nil {
				b.Fatal(err)
			}
			defer q.Close()
			const size = 64 << 10
			paths := benchSources(b, b.N, size)
			ctx := context.Background()
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				if err := q.Enqueue(ctx, Recording{AudioPath: paths[i], Metadata: Metadata{CallID: "c"}}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "enqueues/s")
		})
	}
}

// BenchmarkDirSinkThroughput measures end-to-end delivery of spooled 256 KiB
// recordings into a DirSink with four workers: spool read, destination write,
// fsync, rename and spool removal.
func BenchmarkDirSinkThroughput(b *testing.B) {
	const size = 256 << 10
	sink, err := NewDirSink(DirSinkConfig{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	q, err := New(Config{Dir: b.TempDir(), Sink: sink})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	for i, p := range benchSources(b, b.N, size) {
		md := Metadata{CallID: fmt.Sprintf("call-%06d", i), Start: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
		if err := q.Enqueue(context.Background(), Recording{AudioPath: p, Metadata: md}); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	if err := q.Start(); err != nil {
		b.Fatal(err)
	}
	for q.Stats().Delivered < uint64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "recordings/s")
}
