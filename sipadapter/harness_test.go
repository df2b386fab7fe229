package sipadapter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/dialplan"
	"github.com/callrec/callrec/guidance"
	"github.com/callrec/callrec/internal/testenv"
	"github.com/stretchr/testify/require"
	"github.com/zaf/g711"
)

const (
	lineFixed  = "0312340000"  // the test company's fixed line
	line050    = "05012345678" // a 050 line of the same company
	companyIn  = "0312340000"  // a company number recorded on incoming calls
	guidanceHz = 2500.0        // the test prompt's tone: must never be in a recording
	calleeHz   = 1000.0        // the callee's tone
)

// eventLog collects events safely.
type eventLog struct {
	mu     sync.Mutex
	events []Event
	notify chan struct{}
}

func newEventLog() *eventLog { return &eventLog{notify: make(chan struct{}, 1)} }

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
	select {
	case l.notify <- struct{}{}:
	default:
	}
}

func (l *eventLog) snapshot() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.events...)
}

func (l *eventLog) count(kind EventKind) int {
	n := 0
	for _, e := range l.snapshot() {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// wait blocks until n events of kind arrived.
func (l *eventLog) wait(t testing.TB, kind EventKind, n int, timeout time.Duration) []Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		var got []Event
		for _, e := range l.snapshot() {
			if e.Kind == kind {
				got = append(got, e)
			}
		}
		if len(got) >= n {
			return got
		}
		select {
		case <-l.notify:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			all := l.snapshot()
			t.Fatalf("waited %v for %d %s events, got %d; the last events: %+v", timeout, n, kind, len(got), all[max(0, len(all)-5):])
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) cdrs(t testing.TB) []CDR {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []CDR
	dec := json.NewDecoder(bytes.NewReader(s.b.Bytes()))
	for dec.More() {
		var c CDR
		require.NoError(t, dec.Decode(&c))
		out = append(out, c)
	}
	return out
}

// env is a B2BUA wired to a real delivery queue with a directory sink,
// listening on 127.0.0.1, with next hops on ports reserved for the test's
// peers.
type env struct {
	t          testing.TB
	b          *B2BUA
	cfg        Config
	q          *delivery.Queue
	events     *eventLog
	cdr        *syncBuffer
	dest       string // the DirSink's directory
	recordDir  string
	outsideHop netip.AddrPort // where the callee (network side) listens
	insideHop  netip.AddrPort // where the PBX listens for incoming calls
	cancel     context.CancelFunc
	served     chan error
	closeOnce  sync.Once
}

// loopbackUDP is a UDP socket on 127.0.0.1, closed when the test ends.
func loopbackUDP(t testing.TB) *net.UDPConn {
	t.Helper()
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// freeMediaPort returns an even port whose pair (and the pair above) is free.
func freeMediaPort(t testing.TB) int {
	t.Helper()
	for {
		port := testenv.FreePort(t) &^ 1
		ok := true
		for p := port; p < port+4; p++ {
			u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				break
			}
			_ = u.Close()
		}
		if ok {
			return port
		}
	}
}

// testPrompt is a short 2500 Hz tone, so that tests are quick and a
// prompt leaking into a recording is easy to detect.
func testPrompt(t testing.TB, d time.Duration) *guidance.Prompt {
	t.Helper()
	n := int(d.Seconds() * 8000)
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(8000 * math.Sin(2*math.Pi*guidanceHz*float64(i)/8000))
	}
	p, err := guidance.NewPrompt(s, 8000, 1)
	require.NoError(t, err)
	return p
}

var testLines = LineResolverFunc(func(_ context.Context, number string, _ netip.AddrPort) (Line, error) {
	switch number {
	case lineFixed:
		return Line{Kind: dialplan.LineFixed, Number: lineFixed, Announcement: 1}, nil
	case line050:
		return Line{Kind: dialplan.LineFixed, Number: line050, Announcement: 2}, nil
	case "mono":
		return Line{Kind: dialplan.LineFixed, Number: lineFixed, Mono: true}, nil
	}
	return Line{}, fmt.Errorf("%w: %q", ErrUnknownLine, number)
})

func newEnv(t testing.TB, mutate func(*Config)) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{
		t: t, events: newEventLog(), cdr: &syncBuffer{},
		dest: filepath.Join(dir, "dest"), recordDir: filepath.Join(dir, "rec"),
		outsideHop: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(testenv.FreePort(t))),
		insideHop:  netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(testenv.FreePort(t))),
	}
	require.NoError(t, os.MkdirAll(e.recordDir, 0o750))
	sink, err := delivery.NewDirSink(delivery.DirSinkConfig{Dir: e.dest})
	require.NoError(t, err)
	e.q, err = delivery.New(delivery.Config{Dir: filepath.Join(dir, "spool"), Sink: NotifySink(sink, e.events.add)})
	require.NoError(t, err)
	require.NoError(t, e.q.Start())
	t.Cleanup(func() { _ = e.q.Close() })

	plan, err := dialplan.New(dialplan.Config{CompanyNumbers: []string{companyIn}})
	require.NoError(t, err)
	ann, err := guidance.NewAnnouncer(guidance.Config{Prompts: map[int]*guidance.Prompt{
		1: testPrompt(t, 600*time.Millisecond), 2: testPrompt(t, 600*time.Millisecond),
	}})
	require.NoError(t, err)
	// Below the ephemeral range, so that peers' sockets never take the relay's ports.
	mediaMin := 10000 + 2*int(time.Now().UnixNano()/1000%9000)
	cfg := Config{
		Inside:    SideConfig{Listen: "127.0.0.1:0", NextHop: e.insideHop.String(), Networks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
		Outside:   SideConfig{Listen: "127.0.0.1:0", NextHop: e.outsideHop.String()},
		MediaAddr: netip.MustParseAddr("127.0.0.1"), MediaPortMin: mediaMin, MediaPortMax: mediaMin + 2000,
		Plan: plan, Lines: testLines, RecordDir: e.recordDir, Delivery: e.q, Announcer: ann,
		Events: e.events.add, CDR: e.cdr, Logger: testLogger(t),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	e.cfg = cfg
	e.b, err = New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.served = make(chan error, 1)
	go func() { e.served <- e.b.Serve(ctx) }()
	t.Cleanup(e.close)
	return e
}

func (e *env) close() { e.closeOnce.Do(e.doClose) }

func (e *env) doClose() {
	e.cancel()
	require.NoError(e.t, e.b.Close())
	select {
	case err := <-e.served:
		require.NoError(e.t, err)
	case <-time.After(20 * time.Second):
		e.t.Fatal("Serve did not return after Close")
	}
}

// sipp runs one SIPp instance in dir (where tone.ulaw lives) and returns
// its exit error and output.
type sippRun struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

func startSIPp(t testing.TB, bin, dir string, args ...string) *sippRun {
	t.Helper()
	base := []string{"-i", "127.0.0.1", "-mi", "127.0.0.1", "-nostdin", "-timeout", "40s", "-timeout_error", "-trace_err"}
	cmd := exec.Command(bin, append(base, args...)...)
	cmd.Dir = dir
	r := &sippRun{cmd: cmd, out: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = r.out, r.out
	require.NoError(t, cmd.Start())
	go func() { r.done <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			_ = cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

func (r *sippRun) wait(t testing.TB, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(timeout):
		_ = r.cmd.Process.Kill()
		t.Fatalf("sipp %v did not finish in %v", r.cmd.Args, timeout)
		return nil
	}
}

func (r *sippRun) requireOK(t testing.TB, timeout time.Duration) {
	t.Helper()
	if err := r.wait(t, timeout); err != nil {
		r.out.mu.Lock()
		out := r.out.b.String()
		r.out.mu.Unlock()
		logs, _ := filepath.Glob(filepath.Join(r.cmd.Dir, "*errors.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			out += "\n--- " + l + "\n" + string(b)
		}
		t.Fatalf("sipp %v: %v\n%s", r.cmd.Args, err, tail(out, 6000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// sippDir prepares a working directory with the scenarios, their
// {{.Placeholders}} filled from vars, and the callee's tone.
func sippDir(t testing.TB, vars map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files, err := filepath.Glob("testdata/*.xml")
	require.NoError(t, err)
	for _, f := range files {
		tmpl, err := template.New(filepath.Base(f)).Option("missingkey=zero").ParseFiles(f)
		require.NoError(t, err)
		out, err := os.Create(filepath.Join(dir, filepath.Base(f)))
		require.NoError(t, err)
		require.NoError(t, tmpl.Execute(out, vars))
		require.NoError(t, out.Close())
	}
	// 4 s of a 1000 Hz tone in µ-law, looped by rtp_stream.
	tone := make([]byte, 4*8000)
	for i := range tone {
		tone[i] = g711.EncodeUlawFrame(int16(6000 * math.Sin(2*math.Pi*calleeHz*float64(i)/8000)))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tone.ulaw"), tone, 0o600))
	return dir
}

func portArg(p int) string { return strconv.Itoa(p) }

// uas starts a SIPp callee with scenario, listening on hop.
func (e *env) uas(t testing.TB, bin, dir, scenario string, hop netip.AddrPort, extra ...string) *sippRun {
	t.Helper()
	args := append([]string{"-sf", scenario, "-p", portArg(int(hop.Port())), "-mp", portArg(freeMediaPort(t)), "-m", "1"}, extra...)
	r := startSIPp(t, bin, dir, args...)
	time.Sleep(150 * time.Millisecond) // let it bind before the INVITE comes
	return r
}

// uac starts a SIPp caller toward side w of the B2BUA, dialling service
// from caller.
func (e *env) uac(t testing.TB, bin, dir string, w Side, scenario, service, caller string, extra ...string) *sippRun {
	t.Helper()
	args := append([]string{e.b.Addr(w).String(), "-sf", scenario, "-s", service, "-key", "caller", caller,
		"-p", portArg(testenv.FreePort(t)), "-mp", portArg(freeMediaPort(t)), "-m", "1"}, extra...)
	return startSIPp(t, bin, dir, args...)
}

// lastCDR waits for n CDR lines and returns the last.
func (e *env) lastCDR(t testing.TB, n int) CDR {
	t.Helper()
	e.events.wait(t, EventEnded, n, 20*time.Second)
	var cdrs []CDR
	require.Eventually(t, func() bool { cdrs = e.cdr.cdrs(t); return len(cdrs) >= n }, 5*time.Second, 10*time.Millisecond)
	return cdrs[n-1]
}

// testLogger logs warnings and errors through t.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
