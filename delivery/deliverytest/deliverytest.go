package deliverytest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callrec/callrec/delivery"
)

// Store reads back what a sink under test delivered.
type Store interface {
	// Load returns the audio and metadata stored for the recording md; the
	// error wraps fs.ErrNotExist when the recording is absent or incomplete.
	Load(md delivery.Metadata) ([]byte, delivery.Metadata, error)
	// Count returns the number of complete recordings stored.
	Count() (int, error)
}

// Run checks the Sink that newSink returns against the rules of the
// delivery.Sink contract: complete and exact delivery of audio and
// metadata, idempotent redelivery, no overwriting of a different recording
// with the same Call-ID, safety for concurrent use, no partial result
// when the audio is truncated or corrupt or the context is cancelled, and
// streaming: audio much larger than the heap may grow by while it is
// delivered.
// newSink is called once per subtest and returns a fresh sink and a Store
// reading back its destination.
func Run(t *testing.T, newSink func(t *testing.T) (delivery.Sink, Store)) {
	t.Helper()
	for _, tc := range []struct {
		name string
		test func(t *testing.T, sink delivery.Sink, store Store)
	}{
		{"Deliver", testDeliver},
		{"RedeliverIsIdempotent", testRedeliver},
		{"SameCallIDKeepsBoth", testSameCallID},
		{"Concurrent", testConcurrent},
		{"ConcurrentSameCallID", testConcurrentSameCallID},
		{"TruncatedAudio", testTruncated},
		{"CorruptAudio", testCorrupt},
		{"CancelledContext", testCancelled},
		{"StreamsLargeAudio", testStreams},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink, store := newSink(t)
			tc.test(t, sink, store)
		})
	}
}

// NewItem returns an item with size bytes of audio derived from id and
// complete metadata, as the queue would hand it to a sink.
func NewItem(id, callID string, size int) delivery.Item {
	audio := Audio(id, size)
	sum := sha256.Sum256(audio)
	md := delivery.Metadata{
		ID:             id,
		CallID:         callID,
		Direction:      delivery.Outgoing,
		Caller:         "0501234567",
		Callee:         "0312345678",
		Line:           "fixed",
		LineNumber:     "0501234567",
		Dialled:        "00773312345678",
		Destination:    "0312345678",
		Start:          time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC),
		Answer:         time.Date(2026, 11, 23, 9, 0, 5, 0, time.UTC),
		GuidanceStart:  time.Date(2026, 11, 23, 9, 0, 5, 0, time.UTC),
		End:            time.Date(2026, 11, 23, 9, 3, 0, 0, time.UTC),
		Duration:       175 * time.Second,
		Channels:       2,
		AnnouncementID: "record-notice",
		SHA256:         hex.EncodeToString(sum[:]),
		Size:           int64(len(audio)),
		AudioExt:       ".wav",
		Enqueued:       time.Date(2026, 11, 23, 9, 3, 1, 0, time.UTC),
		RecorderStats:  json.RawMessage(`{"caller":{"packets":8750,"lost":2}}`),
	}
	return delivery.NewItem(md, func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(audio)), nil
	})
}

// Audio returns size deterministic bytes derived from seed.
func Audio(seed string, size int) []byte {
	out := make([]byte, 0, size+sha256.Size)
	block := sha256.Sum256([]byte(seed))
	for len(out) < size {
		out = append(out, block[:]...)
		block = sha256.Sum256(block[:])
	}
	return out[:size]
}

func deliver(t *testing.T, sink delivery.Sink, item delivery.Item) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sink.Deliver(ctx, item); err != nil {
		t.Fatalf("Deliver(%s): %v", item.Metadata.ID, err)
	}
}

// check asserts that store holds item exactly.
func check(t *testing.T, store Store, item delivery.Item) {
	t.Helper()
	audio, md, err := store.Load(item.Metadata)
	if err != nil {
		t.Fatalf("Load(%s): %v", item.Metadata.ID, err)
	}
	want := readAll(t, item)
	if !bytes.Equal(audio, want) {
		t.Fatalf("%s: stored audio differs: %d bytes, want %d", item.Metadata.ID, len(audio), len(want))
	}
	got, _ := json.Marshal(md)
	exp, _ := json.Marshal(item.Metadata)
	if !bytes.Equal(got, exp) {
		t.Fatalf("%s: stored metadata\n%s\nwant\n%s", item.Metadata.ID, got, exp)
	}
}

func readAll(t *testing.T, item delivery.Item) []byte {
	t.Helper()
	rc, err := item.Open()
	if err != nil {
		t.Fatalf("open item: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read item: %v", err)
	}
	return b
}

func wantCount(t *testing.T, store Store, want int) {
	t.Helper()
	n, err := store.Count()
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	if n != want {
		t.Fatalf("store holds %d recordings, want %d", n, want)
	}
}

func wantAbsent(t *testing.T, store Store, md delivery.Metadata) {
	t.Helper()
	if _, _, err := store.Load(md); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(%s) after failed delivery: err = %v, want fs.ErrNotExist", md.ID, err)
	}
}

func testDeliver(t *testing.T, sink delivery.Sink, store Store) {
	item := NewItem("rec-1", "call-1@example.com", 70_000)
	deliver(t, sink, item)
	check(t, store, item)
	wantCount(t, store, 1)
}

func testRedeliver(t *testing.T, sink delivery.Sink, store Store) {
	item := NewItem("rec-1", "call-1", 4096)
	deliver(t, sink, item)
	item.Attempt = 2
	deliver(t, sink, item)
	check(t, store, item)
	wantCount(t, store, 1)
}

func testSameCallID(t *testing.T, sink delivery.Sink, store Store) {
	a, b := NewItem("rec-a", "same-call", 1000), NewItem("rec-b", "same-call", 2000)
	deliver(t, sink, a)
	deliver(t, sink, b)
	deliver(t, sink, a)
	check(t, store, a)
	check(t, store, b)
	wantCount(t, store, 2)
}

func testConcurrent(t *testing.T, sink delivery.Sink, store Store) {
	const n = 8
	items := make([]delivery.Item, n)
	for i := range items {
		items[i] = NewItem(fmt.Sprintf("rec-%d", i), fmt.Sprintf("call-%d", i), 10_000+i)
	}
	deliverAll(t, sink, items, "")
	for _, item := range items {
		check(t, store, item)
	}
	wantCount(t, store, n)
}

// testConcurrentSameCallID delivers recordings that share a Call-ID at the
// same time, as workers draining a backlog may: none may overwrite another.
func testConcurrentSameCallID(t *testing.T, sink delivery.Sink, store Store) {
	const n = 6
	items := make([]delivery.Item, n)
	for i := range items {
		items[i] = NewItem(fmt.Sprintf("rec-%d", i), "shared-call", 20_000+i)
	}
	for round := range 2 { // the second round redelivers every one
		deliverAll(t, sink, items, fmt.Sprintf("round %d: ", round))
		for _, item := range items {
			check(t, store, item)
		}
		wantCount(t, store, n)
	}
}

// deliverAll delivers every item at once and fails t, its message
// prefixed with what, if any delivery fails.
func deliverAll(t *testing.T, sink delivery.Sink, items []delivery.Item, what string) {
	t.Helper()
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i := range items {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			errs[i] = sink.Deliver(ctx, items[i])
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%sDeliver(%d): %v", what, i, err)
		}
	}
}

// withAudio returns item with its audio replaced by b, metadata unchanged.
func withAudio(item delivery.Item, b []byte) delivery.Item {
	return delivery.NewItem(item.Metadata, func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	})
}

func testTruncated(t *testing.T, sink delivery.Sink, store Store) {
	item := NewItem("rec-1", "call-1", 50_000)
	bad := withAudio(item, readAll(t, item)[:30_000])
	if err := sink.Deliver(context.Background(), bad); err == nil {
		t.Fatal("Deliver of truncated audio succeeded")
	}
	wantAbsent(t, store, item.Metadata)
	deliver(t, sink, item)
	check(t, store, item)
	wantCount(t, store, 1)
}

func testCorrupt(t *testing.T, sink delivery.Sink, store Store) {
	item := NewItem("rec-1", "call-1", 50_000)
	b := readAll(t, item)
	b[len(b)-1] ^= 0xff
	if err := sink.Deliver(context.Background(), withAudio(item, b)); err == nil {
		t.Fatal("Deliver of corrupt audio succeeded")
	}
	wantAbsent(t, store, item.Metadata)
	wantCount(t, store, 0)
}

func testCancelled(t *testing.T, sink delivery.Sink, store Store) {
	item := NewItem("rec-1", "call-1", 50_000)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := sink.Deliver(ctx, item)
	if err == nil {
		t.Fatal("Deliver with a cancelled context succeeded")
	}
	if delivery.IsPermanent(err) {
		t.Fatalf("Deliver with a cancelled context: permanent error %v, want retryable", err)
	}
	wantAbsent(t, store, item.Metadata)
}

// DirStore reads the layout that delivery.DirSink and delivery.SFTPSink
// write: dir/2006/01/02/<base><ext> and <base>.json, dates in loc (UTC when
// nil).
func DirStore(dir string, loc *time.Location) Store {
	return dirStore{dir: dir, loc: loc}
}

type dirStore struct {
	dir string
	loc *time.Location
}

func (s dirStore) Load(want delivery.Metadata) ([]byte, delivery.Metadata, error) {
	var md delivery.Metadata
	day := filepath.Join(s.dir, filepath.FromSlash(want.DatePath(s.loc)))
	for _, base := range []string{want.BaseName(), want.BaseName() + "~" + want.ID} {
		raw, err := os.ReadFile(filepath.Join(day, base+".json"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, md, err
		}
		if err := json.Unmarshal(raw, &md); err != nil {
			return nil, md, fmt.Errorf("%s: %w", base, err)
		}
		if md.ID != want.ID {
			continue
		}
		audio, err := os.ReadFile(filepath.Join(day, base+md.AudioExt))
		return audio, md, err
	}
	return nil, md, fmt.Errorf("recording %s: %w", want.ID, fs.ErrNotExist)
}

// Count counts sidecars, skipping hidden temporary files.
func (s dirStore) Count() (int, error) {
	n := 0
	err := filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".json") && !strings.HasPrefix(d.Name(), ".") {
			n++
		}
		return nil
	})
	return n, err
}

// ReceiverStore reads back what a receiver.Receiver (or anything with its
// Load and IDs methods) holds.
func ReceiverStore(r interface {
	Load(id string) ([]byte, delivery.Metadata, error)
	IDs() ([]string, error)
}) Store {
	return receiverStore{r}
}

type receiverStore struct {
	r interface {
		Load(id string) ([]byte, delivery.Metadata, error)
		IDs() ([]string, error)
	}
}

func (s receiverStore) Load(md delivery.Metadata) ([]byte, delivery.Metadata, error) {
	return s.r.Load(md.ID)
}

func (s receiverStore) Count() (int, error) {
	ids, err := s.r.IDs()
	return len(ids), err
}

// streamSize is the audio size of the streaming check: large enough that
// holding it in memory cannot hide among a sink's buffers, small enough
// for a quick test.
const streamSize = 16 << 20

// streamChunk is the period of streamReader's pattern.
const streamChunk = 64 << 10

// streamReader produces size bytes without holding them: a block derived
// from a seed, repeated with each repetition's index in its first 8
// bytes, so that a dropped or repeated chunk changes the digest.
type streamReader struct {
	base  []byte // the block, streamChunk bytes
	chunk []byte // the current repetition
	index uint64
	off   int
	left  int64
}

func newStreamReader(seed string, size int64) *streamReader {
	r := &streamReader{base: Audio(seed, streamChunk), chunk: make([]byte, streamChunk), left: size}
	r.fill()
	return r
}

func (r *streamReader) fill() {
	copy(r.chunk, r.base)
	for i := range 8 {
		r.chunk[i] ^= byte(r.index >> (8 * i))
	}
}

func (r *streamReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if r.off == streamChunk {
		r.index++
		r.off = 0
		r.fill()
	}
	n := copy(p, r.chunk[r.off:min(streamChunk, r.off+int(min(r.left, streamChunk)))])
	r.off += n
	r.left -= int64(n)
	return n, nil
}

// heapPeak samples the heap in use until stop is called, which returns
// the highest sample.
func heapPeak() (stop func() uint64) {
	var (
		peak uint64
		done = make(chan struct{})
		quit = make(chan struct{})
	)
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			select {
			case <-quit:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(quit)
		<-done
		return peak
	}
}

// testStreams delivers audio that exists only as a stream and checks that
// the heap grew by well under its size meanwhile: a sink that buffers the
// whole file (to hash it, to set Content-Length, to retry) fails.
func testStreams(t *testing.T, sink delivery.Sink, store Store) {
	h := sha256.New()
	if _, err := io.Copy(h, newStreamReader("stream", streamSize)); err != nil {
		t.Fatal(err)
	}
	md := NewItem("rec-stream", "call-stream", 0).Metadata
	md.Size, md.SHA256 = streamSize, hex.EncodeToString(h.Sum(nil))
	item := delivery.NewItem(md, func() (io.ReadCloser, error) {
		return io.NopCloser(newStreamReader("stream", streamSize)), nil
	})

	// A low GC target keeps garbage from passing for retained memory, so
	// that the samples track what the sink holds.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	stop := heapPeak()
	deliver(t, sink, item)
	growth := int64(stop()) - int64(ms.HeapAlloc)
	t.Logf("heap grew by at most %d KiB while delivering %d KiB", growth>>10, streamSize>>10)
	if growth > streamSize/2 {
		t.Fatalf("heap grew by %d bytes while delivering %d: the sink does not stream the audio", growth, streamSize)
	}

	audio, got, err := store.Load(md)
	if err != nil {
		t.Fatalf("Load(%s): %v", md.ID, err)
	}
	sum := sha256.Sum256(audio)
	if len(audio) != streamSize || hex.EncodeToString(sum[:]) != md.SHA256 || got.SHA256 != md.SHA256 {
		t.Fatalf("stored audio: %d bytes, sha256 %x; want %d bytes, %s", len(audio), sum, streamSize, md.SHA256)
	}
	wantCount(t, store, 1)
}
