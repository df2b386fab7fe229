package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/internal/sipua"
	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/sipadapter"
	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for the writer and a reading test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// jsonLines decodes every line of s as a JSON object.
func jsonLines(t testing.TB, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), "line %q", sc.Text())
		out = append(out, m)
	}
	return out
}

// service is one run of the command in the background.
type service struct {
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	done           chan error
	inside         netip.AddrPort
	metrics        string
}

// startService runs the command with cfgPath and waits for its "serving"
// log line, which names the addresses it bound.
func startService(t *testing.T, cfgPath string) *service {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	s := &service{stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- run(ctx, []string{"-config", cfgPath}, s.stdout, s.stderr, env(nil)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
			t.Error("run did not return")
		}
		if t.Failed() {
			t.Logf("service log:\n%s", s.stderr)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range jsonLines(t, completeLines(s.stderr.String())) {
			if l["msg"] == "serving" {
				s.inside = netip.MustParseAddrPort(l["inside"].(string))
				s.metrics = l["metrics"].(string)
				return s
			}
		}
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("run returned %v before serving; log:\n%s", err, s.stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("no serving line; log:\n%s", s.stderr)
	return nil
}

// completeLines drops a last line still being written.
func completeLines(s string) string {
	return s[:strings.LastIndexByte(s, '\n')+1]
}

// stop cancels the run's context, as SIGTERM does, and returns run's
// error once it returns.
func (s *service) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-time.After(15 * time.Second):
		t.Fatalf("run did not return; log:\n%s", s.stderr)
		return nil
	}
}

func (s *service) get(t *testing.T, path string) (int, string) {
	t.Helper()
	res, err := http.Get("http://" + s.metrics + path)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(body)
}

// writeTestConfig writes a configuration for 127.0.0.1 with random ports
// into dir.
func writeTestConfig(t *testing.T, dir string, pbx, network netip.AddrPort) string {
	t.Helper()
	mediaMin := 40000 + 2*rand.IntN(5000)
	cfg := fmt.Sprintf(`sides:
  inside:
    listen: 127.0.0.1:0
    next_hop: %s
    networks: [127.0.0.0/8]
  outside:
    listen: 127.0.0.1:0
    next_hop: %s
media:
  address: 127.0.0.1
  port_min: %d
  port_max: %d
dialplan:
  company_numbers: [03-1234-0000]
recording:
  dir: %[5]s/rec
  guidance:
    mode: "off"
lines:
  - user: "0312340000"
    kind: fixed
    number: 03-1234-0000
spool:
  dir: %[5]s/spool
  shutdown_timeout: 2s
  retry:
    base: 50ms
sinks:
  - dir:
      path: %[5]s/out
timeouts:
  shutdown_grace: 1s
log:
  level: debug
  cdr: "-"
metrics:
  listen: 127.0.0.1:0
`, pbx, network, mediaMin, mediaMin+400, dir)
	path := filepath.Join(dir, "b2bua.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	return path
}

// files lists the names under dir with the suffix, recursively.
func files(t *testing.T, dir, suffix string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, suffix) {
			out = append(out, path)
		}
		return nil
	})
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	return out
}

// TestRunDrainsAndResumes runs the command end to end on 127.0.0.1: two
// recorded calls through the B2BUA, then SIGTERM-style cancellation. The
// service turns not ready, refuses a new call with 503, lets the call that
// hangs up finish, ends the other at the shutdown grace, and exits with
// the recordings in the spool or delivered. A second start delivers
// whatever the first left in the spool.
func TestRunDrainsAndResumes(t *testing.T) {
	dir := t.TempDir()
	pbx, network := newPhone(t, "0312340000"), newPhone(t, "network")
	cfgPath := writeTestConfig(t, dir, pbx.Addr(), network.Addr())
	svc := startService(t, cfgPath)

	code, body := svc.get(t, "/readyz")
	require.Equal(t, http.StatusOK, code, body)

	ctx := t.Context()
	a, err := dial(ctx, pbx, svc.inside, "0077270312345678")
	require.NoError(t, err)
	b, err := dial(ctx, pbx, svc.inside, "0077270398765432")
	require.NoError(t, err)
	legs := acceptN(t, network, 2)
	// Both parties of both calls hear each other through the B2BUA.
	for _, c := range append([]*sipua.Call{a, b}, legs...) {
		require.Eventually(t, func() bool { return c.Stats().Received >= 25 }, 10*time.Second, 10*time.Millisecond,
			"%s leg of %s received no audio", c.Direction(), c.ID())
	}
	_, metrics := svc.get(t, "/metrics")
	assert.Contains(t, metrics, "callrec_calls_active 2\n")
	assert.Contains(t, metrics, `callrec_calls_total{direction="outgoing",verdict="record"} 2`)

	svc.cancel() // SIGTERM
	require.Eventually(t, func() bool {
		code, body := svc.get(t, "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, `"draining":true`)
	}, 5*time.Second, 10*time.Millisecond)
	_, metrics = svc.get(t, "/metrics")
	assert.Contains(t, metrics, "callrec_draining 1\n")

	// A new recorded call is refused while draining.
	_, err = dial(ctx, pbx, svc.inside, "0077270311112222")
	var refused *sipua.StatusError
	require.ErrorAs(t, err, &refused)
	assert.Equal(t, sip.StatusServiceUnavailable, refused.Code)
	assert.NotNil(t, refused.Response.GetHeader("Retry-After"))

	require.NoError(t, a.Hangup(ctx)) // a ends by itself during the grace
	waitHungUp(t, legs[0])            // and its BYE is relayed
	require.NoError(t, svc.wait(t))   // b is ended at the grace's end
	waitHungUp(t, legs[1])            // with a BYE to its callee

	cdrs := jsonLines(t, svc.stdout.String())
	require.Len(t, cdrs, 3, "one CDR per call")
	causes := map[string]string{}
	for _, c := range cdrs {
		hungUp, _ := c["hung_up"].(string)
		causes[c["cause"].(string)+"/"+hungUp] = c["call_id"].(string)
	}
	assert.Equal(t, a.ID(), causes[sipadapter.CauseBye+"/"+string(sipadapter.PartyCaller)])
	assert.Equal(t, b.ID(), causes[sipadapter.CauseShutdown+"/"+string(sipadapter.PartyB2BUA)])
	assert.Contains(t, causes, sipadapter.CauseDraining+"/"+string(sipadapter.PartyB2BUA), "refused while draining")
	assert.Empty(t, files(t, filepath.Join(dir, "rec"), ".wav"), "every recording left the record directory")
	delivered := len(files(t, filepath.Join(dir, "out"), ".wav"))
	spooled := len(files(t, filepath.Join(dir, "spool", "queue"), ".wav"))
	require.Equal(t, 2, delivered+spooled, "every recording is delivered or spooled")

	// The next start delivers the backlog.
	svc2 := startService(t, cfgPath)
	require.Eventually(t, func() bool {
		return len(files(t, filepath.Join(dir, "out"), ".json")) == 2
	}, 10*time.Second, 20*time.Millisecond)
	assert.Len(t, files(t, filepath.Join(dir, "out"), ".wav"), 2)
	// The line's settings and both parties' audio reached the metadata.
	dest := map[string]string{}
	for _, f := range files(t, filepath.Join(dir, "out"), ".json") {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		var md delivery.Metadata
		require.NoError(t, json.Unmarshal(raw, &md))
		dest[md.CallID] = md.Destination
		assert.Equal(t, 2, md.Channels, "stereo by default")
		assert.Equal(t, "03-1234-0000", md.LineNumber)
		assert.Equal(t, "1", md.AnnouncementID)
		var rs struct{ Caller, Callee recorder.Stats }
		require.NoError(t, json.Unmarshal(md.RecorderStats, &rs))
		assert.Positive(t, rs.Caller.Decoded, "caller audio recorded")
		assert.Positive(t, rs.Callee.Decoded, "callee audio recorded")
	}
	assert.Equal(t, map[string]string{a.ID(): "0312345678", b.ID(): "0398765432"}, dest)
	svc2.cancel()
	require.NoError(t, svc2.wait(t))
	assert.Empty(t, files(t, filepath.Join(dir, "spool", "queue"), ".wav"))
}

func TestRunCheckConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	require.NoError(t, os.WriteFile(good, []byte(baseConfig), 0o600))
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte(strings.Replace(baseConfig, "/tmp/out", "''", 1)), 0o600))

	tests := map[string]struct {
		args    []string
		err     error
		stdout  string
		inError string
	}{
		"valid":      {args: []string{"-config", good, "-check-config"}, stdout: good + ": ok: inside 127.0.0.1:0 → 127.0.0.1:5070"},
		"invalid":    {args: []string{"-config", bad, "-check-config"}, err: ErrInvalidConfig, inError: bad + ":15: sinks[0].dir.path: missing"},
		"bad flag":   {args: []string{"-nope"}, err: errUsage},
		"extra args": {args: []string{"-config", good, "x"}, err: errUsage},
		"absent":     {args: []string{"-config", filepath.Join(dir, "absent.yaml")}, err: os.ErrNotExist},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tc.args, &stdout, &stderr, env(nil))
			if tc.err == nil {
				require.NoError(t, err)
				assert.Contains(t, stdout.String(), tc.stdout)
				return
			}
			require.ErrorIs(t, err, tc.err)
			assert.Contains(t, err.Error(), tc.inError)
		})
	}
}

// TestNewAppFailureReleases checks that a start that fails late (the SIP
// port is taken) releases what it had opened, such as the spool's lock.
func TestNewAppFailureReleases(t *testing.T) {
	dir := t.TempDir()
	taken, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	path := writeTestConfig(t, dir, netip.MustParseAddrPort("127.0.0.1:5070"), netip.MustParseAddrPort("127.0.0.1:5080"))
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	raw = bytes.Replace(raw, []byte("listen: 127.0.0.1:0\n    next_hop: 127.0.0.1:5070"),
		[]byte("listen: "+taken.LocalAddr().String()+"\n    next_hop: 127.0.0.1:5070"), 1)
	require.NoError(t, os.WriteFile(path, raw, 0o600))

	cfg, err := loadConfig(path, env(nil))
	require.NoError(t, err)
	_, err = newApp(cfg, slog.New(slog.DiscardHandler), io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "address already in use")

	q, err := delivery.New(delivery.Config{Dir: cfg.queue.Dir, Sink: delivery.SinkFunc(nil)})
	require.NoError(t, err, "the spool lock was released")
	require.NoError(t, q.Close())
}
