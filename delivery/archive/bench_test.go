package archive_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/delivery/archive"
	"github.com/callrec/callrec/internal/durable"
	"github.com/stretchr/testify/require"
)

// BenchmarkSearch100k indexes 100,000 recordings and runs searches of the
// kinds the UI issues; it reports the 95th percentile as p95-ms.
func BenchmarkSearch100k(b *testing.B) {
	a := newArchive(b)
	ctx := context.Background()
	const n = 100_000
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, jst)
	batch := make([]archive.Recording, 0, 1000)
	for i := range n {
		md := delivery.Metadata{
			ID: fmt.Sprintf("rec%06d", i), CallID: fmt.Sprintf("c%06d@pbx", i), Direction: delivery.Outgoing,
			Caller: fmt.Sprintf("03%08d", i%5000), Callee: fmt.Sprintf("090%08d", i*7919%100_000_000),
			LineNumber: fmt.Sprintf("03%08d", i%5000), Start: base.Add(time.Duration(i) * 4 * time.Minute),
			Duration: time.Duration(i%600) * time.Second, Channels: 2, SHA256: "00", AudioExt: ".wav",
		}
		batch = append(batch, archive.Recording{Metadata: md, AudioPath: md.DatePath(jst) + "/" + md.CallID + ".wav"})
		if len(batch) == cap(batch) {
			require.NoError(b, a.Store().PutBatch(ctx, batch))
			batch = batch[:0]
		}
	}
	for i := 0; i < n; i += 100 {
		require.NoError(b, a.Store().AddTag(ctx, fmt.Sprintf("rec%06d", i), "dispute"))
	}
	queries := []archive.Query{
		{},
		{Number: "090-1234"},
		{Number: "+81 3 0000 1234"},
		{Number: "99999999"}, // matches nothing: a full scan
		{From: base.AddDate(0, 3, 0), To: base.AddDate(0, 3, 7)},
		{Tag: "dispute", Page: 3},
		{Direction: "outgoing", MinDuration: 5 * time.Minute, Page: 10},
		{Lines: []string{"0300000042", "0300000043"}, Number: "090"},
	}
	var lat []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		if _, err := a.Store().Search(ctx, queries[i%len(queries)]); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	if testing.Verbose() {
		for qi, q := range queries {
			t0 := time.Now()
			_, _ = a.Store().Search(ctx, q)
			b.Logf("query %d %+v: %v", qi, q, time.Since(t0))
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
}

// BenchmarkIngest delivers recordings through a real HTTPSink (multipart
// POST over loopback) into the archive and reports recordings per second.
func BenchmarkIngest(b *testing.B) {
	sink := ingestSink(b, newArchive(b))
	ingestRun(b, sink, new(atomic.Int64))
}

// BenchmarkIngestWarm is BenchmarkIngest with one archive for the whole
// ramp of b.N, as a server that keeps running: BenchmarkIngest opens a
// new archive for every b.N and deletes the previous one's files just
// before, and on a file system that avoids reusing recently freed inodes
// (ext4 without a journal, as on the machine this was written on) every
// file created in the next seconds then pays for skipping them.
func BenchmarkIngestWarm(b *testing.B) {
	sink := ingestSink(b, newArchive(b))
	var seq atomic.Int64
	b.Run("senders=8", func(b *testing.B) { ingestRun(b, sink, &seq) })
}

// ingestSink returns an HTTPSink posting to a's ingest handler over
// loopback; both are closed at the end of the benchmark.
func ingestSink(b *testing.B, a *archive.Archive) *delivery.HTTPSink {
	srv := httptest.NewServer(a.Ingest())
	b.Cleanup(srv.Close)
	sink, err := delivery.NewHTTPSink(delivery.HTTPSinkConfig{URL: srv.URL, Method: http.MethodPost})
	require.NoError(b, err)
	b.Cleanup(func() { sink.Close() })
	return sink
}

// ingestRun delivers b.N recordings of 32 kB from 8 senders, numbered on
// from seq, and reports recordings per second and the CPU the process
// (senders and archive) spent per recording, user and system: unlike the
// rate, that barely depends on what else the machine is running.
func ingestRun(b *testing.B, sink *delivery.HTTPSink, seq *atomic.Int64) {
	audio := stereoWAV(time.Second, 440, 660)
	ctx := context.Background()
	first := seq.Load()
	cpu0 := cpuTime(b)
	start := time.Now()
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1) - 1
			c := call{fmt.Sprintf("b%07d", i), "0312345678", "09011112222", "0312345678", delivery.Outgoing,
				time.Date(2026, 11, 23, 9, 0, 0, 0, jst).Add(time.Duration(i) * time.Second), time.Second}
			if err := sink.Deliver(ctx, c.item(audio)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	n := float64(seq.Load() - first)
	b.ReportMetric(n/time.Since(start).Seconds(), "recordings/s")
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/n, "cpu-us/rec")
}

// cpuTime returns the user and system CPU time this process used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDiskFiles is the yardstick for BenchmarkIngest: what the disk
// under the benchmark's directory allows without HTTP, hashing or SQLite.
// 8 goroutines each write 32 kB files durably (temporary file, fsync,
// rename, directory fsync: internal/durable's Commit); it reports files
// per second and the CPU per file. A recording costs two such files (its
// directory fsync shared).
func BenchmarkDiskFiles(b *testing.B) {
	dir := b.TempDir()
	data := stereoWAV(time.Second, 440, 660)
	var seq atomic.Int64
	cpu0 := cpuTime(b)
	start := time.Now()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			name := filepath.Join(dir, fmt.Sprintf("f%07d.wav", seq.Add(1)))
			if err := durable.WriteFile(name, data, 0o600); err != nil {
				b.Error(err)
				return
			}
		}
	})
	n := float64(seq.Load())
	b.ReportMetric(n/time.Since(start).Seconds(), "files/s")
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/n, "cpu-us/file")
}
