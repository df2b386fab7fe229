package archive_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/delivery/archive"
	"github.com/stretchr/testify/require"
)

// stereoWAV returns a 16-bit 8 kHz stereo WAV: a tone of hzL on the left
// (caller) and hzR on the right (callee).
func stereoWAV(d time.Duration, hzL, hzR float64) []byte {
	const rate = 8000
	n := int(d.Seconds() * rate)
	var b bytes.Buffer
	le := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	le(uint32(36 + n*4))
	b.WriteString("WAVEfmt ")
	le(uint32(16))
	le(uint16(1))
	le(uint16(2))
	le(uint32(rate))
	le(uint32(rate * 4))
	le(uint16(4))
	le(uint16(16))
	b.WriteString("data")
	le(uint32(n * 4))
	for i := range n {
		t := float64(i) / rate
		le(int16(8000 * math.Sin(2*math.Pi*hzL*t)))
		le(int16(8000 * math.Sin(2*math.Pi*hzR*t)))
	}
	return b.Bytes()
}

// call describes one test recording.
type call struct {
	id, caller, callee, line string
	dir                      delivery.Direction
	start                    time.Time
	dur                      time.Duration
}

func (c call) item(audio []byte) delivery.Item {
	sum := sha256.Sum256(audio)
	md := delivery.Metadata{
		ID: c.id, CallID: "call-" + c.id + "@pbx", Direction: c.dir, Caller: c.caller, Callee: c.callee,
		Line: "fixed", LineNumber: c.line, Dialled: "184" + c.callee, Start: c.start,
		GuidanceStart: c.start.Add(time.Second), Duration: c.dur, Channels: 2, AnnouncementID: "ann-1",
		SHA256: hex.EncodeToString(sum[:]), Size: int64(len(audio)), AudioExt: ".wav",
	}
	return delivery.NewItem(md, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(audio)), nil })
}

// newArchive opens an archive in a temporary directory, closed at the end
// of the test.
func newArchive(t testing.TB) *archive.Archive {
	t.Helper()
	a, err := archive.Open(context.Background(), archive.Config{Dir: filepath.Join(t.TempDir(), "rec")})
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	return a
}

// deliver sends c through a real HTTPSink to the archive's ingest handler.
func deliver(t testing.TB, a *archive.Archive, method string, calls ...call) {
	t.Helper()
	srv := httptest.NewServer(a.Ingest())
	defer srv.Close()
	sink, err := delivery.NewHTTPSink(delivery.HTTPSinkConfig{URL: srv.URL, Method: method})
	require.NoError(t, err)
	defer sink.Close()
	for _, c := range calls {
		require.NoError(t, sink.Deliver(context.Background(), c.item(stereoWAV(c.dur, 440, 660))), "deliver %s", c.id)
	}
}

var jst = time.FixedZone("JST", 9*3600)

// fixtures are the calls the search tests expect.
var fixtures = []call{
	{"r1", "0312345678", "09011112222", "0312345678", delivery.Outgoing, time.Date(2026, 11, 23, 9, 0, 0, 0, jst), 3 * time.Second},
	{"r2", "09033334444", "0312345678", "0312345678", delivery.Incoming, time.Date(2026, 11, 23, 23, 30, 0, 0, jst), 5 * time.Second},
	{"r3", "0612340000", "0120444555", "0612340000", delivery.Outgoing, time.Date(2026, 11, 24, 0, 30, 0, 0, jst), 2 * time.Second},
}

func exists(t testing.TB, p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func ids(p archive.Page) []string {
	var s []string
	for _, r := range p.Recordings {
		s = append(s, r.ID)
	}
	return s
}
