package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zaf/g711"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/internal/testenv"
	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/sipadapter"
)

// The SIGKILL suite's load and kills: about 16 calls in progress when
// each kill lands, kills 1.2–3 s apart.
const (
	faultKills     = 10
	faultRate      = 8    // calls per second
	faultHoldMS    = 2000 // SIPp -d: talk time of every call
	faultMinUptime = 1200 * time.Millisecond
	faultMaxUptime = 3 * time.Second
	// faultAnswerGrace is how long before a kill a call may have been
	// answered and still have no recording: the B2BUA opens the recording
	// (and its sidecar, which a restart recovers) just after the caller's
	// ACK, and a kill can land in between.
	faultAnswerGrace = 500 * time.Millisecond
	// faultPortPairs is the media port range's size in RTP/RTCP pairs: small,
	// so that a restarted instance allocating from the range's start would
	// hand out the ports of the calls the kill orphaned.
	faultPortPairs = 200
)

// faultProc is a child process of the suite with its merged output.
type faultProc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

func startFaultProc(t *testing.T, cmd *exec.Cmd) *faultProc {
	t.Helper()
	p := &faultProc{cmd: cmd, out: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.WaitDelay = 5 * time.Second
	require.NoError(t, cmd.Start())
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case err := <-p.done:
			p.done <- err
		default:
			_ = cmd.Process.Kill()
			p.done <- <-p.done
		}
	})
	return p
}

func (p *faultProc) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(timeout):
		t.Fatalf("%s did not end within %v:\n%s", p.cmd.Path, timeout, tailString(p.out.String(), 3000))
		return nil
	}
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// faultPort returns a port free for UDP and TCP on 127.0.0.1.
func faultPort(t *testing.T) int { return testenv.FreePort(t) }

// faultMediaBase returns an even port in [lo, lo+2000) whose next four
// ports are free on loopback now, for a SIPp -mp: SIPp binds its audio
// sockets there at start and exits if one is taken, and other tests on
// the machine use media ports too.
func faultMediaBase(t *testing.T, lo int) int {
	t.Helper()
	for range 50 {
		base := lo + 2*rand.IntN(1000)
		free := true
		for p := base; p < base+4 && free; p++ {
			c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				free = false
				continue
			}
			_ = c.Close()
		}
		if free {
			return base
		}
	}
	t.Fatalf("no free media ports in [%d, %d)", lo, lo+2000)
	return 0
}

// buildService builds this command without the race detector: the child
// must keep up with SIPp's load on a loaded two-core machine.
func buildService(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "callrec-b2bua")
	out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// faultService is one b2bua configuration, started again after every
// kill with the same file and directories.
type faultService struct {
	t    *testing.T
	bin  string
	dir  string
	cfg  string
	proc *faultProc
	// starts is the start time of every run; the output of all runs is
	// kept for a failure report.
	starts []time.Time
	logs   []*syncBuffer
}

func newFaultService(t *testing.T, bin string, uasPort int) *faultService {
	t.Helper()
	dir := t.TempDir()
	s := &faultService{t: t, bin: bin, dir: dir, cfg: filepath.Join(dir, "b2bua.yaml")}
	mediaMin := 10000 + 2*rand.IntN(4500)
	cfg := fmt.Sprintf(`sides:
  inside:
    listen: 127.0.0.1:%d
    next_hop: 127.0.0.1:%d
    networks: [127.0.0.0/8]
  outside:
    listen: 127.0.0.1:%d
    next_hop: 127.0.0.1:%d
media:
  address: 127.0.0.1
  port_min: %d
  port_max: %d
dialplan:
  company_numbers: [03-1234-0000]
recording:
  dir: %[7]s/rec
  guidance:
    mode: "off"
lines:
  - user: "0312340000"
    kind: fixed
    number: 03-1234-0000
spool:
  dir: %[7]s/spool
  shutdown_timeout: 5s
  retry:
    base: 50ms
sinks:
  - dir:
      path: %[7]s/out
capacity:
  max_calls: 100
  priority_reserve: 1
timeouts:
  shutdown_grace: 10s
log:
  level: info
  cdr: %[7]s/cdr.jsonl
metrics:
  listen: 127.0.0.1:0
`, faultPort(t), faultPort(t), faultPort(t), uasPort, mediaMin, mediaMin+2*faultPortPairs-2, dir)
	require.NoError(t, os.WriteFile(s.cfg, []byte(cfg), 0o600))
	t.Cleanup(func() {
		if t.Failed() {
			for i, l := range s.logs {
				t.Logf("--- b2bua run %d (last 3000 bytes):\n%s", i, tailString(l.String(), 3000))
			}
		}
	})
	return s
}

func (s *faultService) inside() string {
	raw, err := os.ReadFile(s.cfg)
	require.NoError(s.t, err)
	for _, ln := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(ln, "    listen: ") {
			return strings.TrimPrefix(ln, "    listen: ")
		}
	}
	s.t.Fatal("no inside listen address")
	return ""
}

// start runs the service and waits for its "serving" line.
func (s *faultService) start() {
	t := s.t
	t.Helper()
	s.proc = startFaultProc(t, exec.Command(s.bin, "-config", s.cfg))
	s.starts = append(s.starts, time.Now())
	s.logs = append(s.logs, s.proc.out)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(s.proc.out.String(), `"msg":"serving"`) {
			return
		}
		select {
		case err := <-s.proc.done:
			s.proc.done <- err
			t.Fatalf("b2bua ended before serving: %v\n%s", err, s.proc.out)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("b2bua: no serving line:\n%s", s.proc.out)
}

// kill SIGKILLs the running service and returns when it is gone.
func (s *faultService) kill() time.Time {
	s.t.Helper()
	at := time.Now()
	require.NoError(s.t, s.proc.cmd.Process.Signal(syscall.SIGKILL))
	_ = s.proc.wait(s.t, 10*time.Second)
	return at
}

// faultRig is what both SIGKILL suites drive: SIPp as the callee, the
// b2bua service (created, not started, so that a suite can change its
// file first) and SIPp as the caller, once placeCalls starts it.
type faultRig struct {
	t       *testing.T
	sipp    string
	sippDir string
	uas     *faultProc
	s       *faultService
}

func newFaultRig(t *testing.T) *faultRig {
	t.Helper()
	sipp := testenv.LookPath(t, "sipp", "sip-tester")
	bin := buildService(t)
	sippDir := faultSIPpDir(t)
	uasPort := faultPort(t)
	uas := startFaultProc(t, sippCmd(sipp, sippDir, "-sf", "fault_uas.xml", "-p", strconv.Itoa(uasPort),
		"-mp", strconv.Itoa(faultMediaBase(t, 20000))))
	return &faultRig{t: t, sipp: sipp, sippDir: sippDir, uas: uas, s: newFaultService(t, bin, uasPort)}
}

// start starts the service and lets the callee bind.
func (r *faultRig) start() {
	r.s.start()
	time.Sleep(200 * time.Millisecond)
}

// placeCalls starts the SIPp caller: calls recorded calls at faultRate,
// each held holdMS, with SIPp's -timeout and any further arguments.
func (r *faultRig) placeCalls(calls, holdMS int, timeout string, extra ...string) *faultProc {
	args := []string{r.s.inside(), "-sf", "fault_uac.xml",
		"-s", "0077270312345678", "-key", "caller", "0312340000",
		"-p", strconv.Itoa(faultPort(r.t)), "-mp", strconv.Itoa(faultMediaBase(r.t, 25000)),
		"-r", strconv.Itoa(faultRate), "-m", strconv.Itoa(calls), "-l", "200", "-d", strconv.Itoa(holdMS),
		"-max_retrans", "3", "-timeout", timeout, "-timeout_error", "-trace_logs"}
	return startFaultProc(r.t, sippCmd(r.sipp, r.sippDir, append(args, extra...)...))
}

// killAfter kills the service after each uptime in turn, starting it again
// at once, and returns the times of the kills.
func (r *faultRig) killAfter(uptimes []time.Duration) []time.Time {
	var kills []time.Time
	for _, up := range uptimes {
		time.Sleep(up)
		kills = append(kills, r.s.kill())
		r.s.start()
	}
	return kills
}

// awaitCaller waits up to wait for the SIPp caller to end once its last
// call ends (exit 1: the calls the kills broke); the few calls it keeps
// waiting on end with SIGINT, which still writes its logs.
func awaitCaller(t *testing.T, uac *faultProc, wait time.Duration) {
	t.Helper()
	select {
	case err := <-uac.done:
		uac.done <- err
	case <-time.After(wait):
		require.NoError(t, uac.cmd.Process.Signal(syscall.SIGINT))
		_ = uac.wait(t, 20*time.Second)
	}
}

// faultSIPpDir prepares SIPp's working directory: the scenarios and the
// callee's tone.
// finish stops the last run with SIGTERM (it ends the calls SIPp left
// behind) and starts one more run, which delivers what that left in the
// spool within settle; then every recording, the recovered ones too, has
// left the record directory and the spool, and both runs exited 0.
func (s *faultService) finish(settle time.Duration) {
	t := s.t
	recDir, spool := filepath.Join(s.dir, "rec"), filepath.Join(s.dir, "spool")
	require.NoError(t, s.proc.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, s.proc.wait(t, 30*time.Second), "the last run drains and exits 0")
	s.start()
	if !assert.Eventually(t, func() bool {
		return len(filesUnder(t, recDir)) == 0 && len(filesUnder(t, spool)) == 0
	}, settle, 200*time.Millisecond, "record directory and spool empty") {
		t.Fatalf("left: %v %v", filesUnder(t, recDir), filesUnder(t, spool))
	}
	require.NoError(t, s.proc.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, s.proc.wait(t, 30*time.Second), "the final run exits 0")
	assert.Empty(t, filesUnder(t, recDir), "record directory empty")
	assert.Empty(t, filesUnder(t, spool), "spool empty, nothing dead-lettered")
}

func faultSIPpDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"fault_uac.xml", "fault_uas.xml"} {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), b, 0o600))
	}
	tone := make([]byte, 4*8000) // 4 s of 1000 Hz in µ-law, looped
	for i := range tone {
		tone[i] = g711.EncodeUlawFrame(int16(6000 * math.Sin(2*math.Pi*1000*float64(i)/8000)))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tone.ulaw"), tone, 0o600))
	return dir
}

func sippCmd(bin, dir string, args ...string) *exec.Cmd {
	base := []string{"-i", "127.0.0.1", "-mi", "127.0.0.1", "-nostdin", "-trace_err"}
	cmd := exec.Command(bin, append(base, args...)...)
	cmd.Dir = dir
	return cmd
}

// answeredCall is a call the PBX (SIPp) saw answered.
type answeredCall struct {
	at        time.Time
	completed bool
}

// sippAnswers reads the calls SIPp logged answered, and completed, from
// its -trace_logs file.
func sippAnswers(t *testing.T, dir string) map[string]*answeredCall {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(dir, "fault_uac_*_logs.log"))
	require.NoError(t, err)
	require.Len(t, logs, 1, "SIPp's log of answered calls")
	f, err := os.Open(logs[0])
	require.NoError(t, err)
	defer f.Close()
	calls := map[string]*answeredCall{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) == 4 && fields[0] == "answered":
			sec, err1 := strconv.ParseFloat(fields[2], 64) // SIPp variables are doubles
			usec, err2 := strconv.ParseFloat(fields[3], 64)
			require.NoError(t, err1, sc.Text())
			require.NoError(t, err2, sc.Text())
			calls[fields[1]] = &answeredCall{at: time.Unix(int64(sec), int64(usec)*1000)}
		case len(fields) == 2 && fields[0] == "completed":
			c := calls[fields[1]]
			require.NotNil(t, c, "completed call %s was never answered", fields[1])
			c.completed = true
		}
	}
	require.NoError(t, sc.Err())
	return calls
}

// deliveredRecording is a recording in the suite's delivery directory.
type deliveredRecording struct {
	md    delivery.Metadata
	audio string
	stats *struct {
		Caller recorder.Stats `json:"caller"`
		Callee recorder.Stats `json:"callee"`
	}
}

func deliveredRecordings(t *testing.T, out string) []deliveredRecording {
	t.Helper()
	var recs []deliveredRecording
	err := filepath.WalkDir(out, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".json") || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		r := deliveredRecording{}
		if err := json.Unmarshal(raw, &r.md); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		r.audio = strings.TrimSuffix(path, ".json") + r.md.AudioExt
		if len(r.md.RecorderStats) > 0 {
			r.stats = &struct {
				Caller recorder.Stats `json:"caller"`
				Callee recorder.Stats `json:"callee"`
			}{}
			if err := json.Unmarshal(r.md.RecorderStats, r.stats); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
		recs = append(recs, r)
		return nil
	})
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	return recs
}

// filesUnder lists the regular files under dir but the spool's lock.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() != "lock" {
			out = append(out, path)
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

// faultCDRs reads the CDRs every run appended.
func faultCDRs(t *testing.T, path string) []sipadapter.CDR {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var cdrs []sipadapter.CDR
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	for dec.More() {
		var c sipadapter.CDR
		if err := dec.Decode(&c); err != nil {
			break // the line a kill cut short
		}
		cdrs = append(cdrs, c)
	}
	return cdrs
}

// TestFaultSIGKILLUnderLoad is the fault suite's crash row: the b2bua
// command runs as a child process under SIPp load and is SIGKILLed at
// random moments faultKills times, restarted each time with the same
// configuration and directories. The calls a kill orphans go on sending
// RTP (the network side's tone for 15 s) to the dead instance's ports
// while the restarted one takes new calls from the same small port range.
//
// Accounting: SIPp (the PBX) logs every call it saw answered, with the
// wall-clock time, and every call it completed. Every answered call has
// exactly one delivered recording, but a call answered less than
// faultAnswerGrace before a kill, which may have none (it was killed
// before its recording was opened; such calls are counted). Every
// delivered recording belongs to an answered call, is a valid WAV whose
// RIFF sizes match the file and that go-audio/wav decodes whole, and no
// two share a Call-ID or an ID. No recording of a call the restarted
// instance took shows an SSRC change on either leg: orphaned RTP never
// reached it. At the end the record directory and the spool are empty and
// nothing is dead-lettered.
func TestFaultSIGKILLUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("the SIGKILL suite runs for about a minute")
	}
	rig := newFaultRig(t)
	s, sippDir := rig.s, rig.sippDir
	rig.start()

	uptimes := make([]time.Duration, faultKills)
	var total time.Duration
	for i := range uptimes {
		uptimes[i] = faultMinUptime + rand.N(faultMaxUptime-faultMinUptime)
		total += uptimes[i] + 300*time.Millisecond // and the restart
	}
	calls := int((total + faultMaxUptime).Seconds() * faultRate)
	uac := rig.placeCalls(calls, faultHoldMS, "180s", "-trace_stat", "-fd", "1", "-trace_screen")
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		out, _ := exec.Command("sh", "-c", "tail -n 1 "+sippDir+"/*_.csv; grep -h -A3 'Aborting\\|unexpected\\|failed\\|Timeout\\|timeout' "+sippDir+"/fault_uac*errors.log | head -60; cat "+sippDir+"/*screen.log | head -60").CombinedOutput()
		t.Logf("SIPp:\n%s", out)
	})

	kills := rig.killAfter(uptimes)
	awaitCaller(t, uac, 40*time.Second)

	s.finish(60 * time.Second)

	answered := sippAnswers(t, sippDir)
	recs := deliveredRecordings(t, filepath.Join(s.dir, "out"))
	byCall := map[string]int{}
	ids := map[string]bool{}
	ssrcChanges, foreign := 0, 0
	for _, r := range recs {
		byCall[r.md.CallID]++
		assert.False(t, ids[r.md.ID], "recording %s delivered twice", r.md.ID)
		ids[r.md.ID] = true
		assert.Contains(t, answered, r.md.CallID, "recording %s of a call the PBX never saw answered", r.md.ID)
		frames, _, err := testenv.CheckWAV(r.audio)
		assert.NoError(t, err, "recording %s", r.md.ID)
		if c := answered[r.md.CallID]; c != nil {
			// The audio a run wrote before its kill survives it: all but
			// the last write buffer (256 ms of stereo), the jitter window
			// and the moment between answer and recording start (a wide
			// second, for a loaded machine). A call killed right after
			// its answer has an empty, valid recording.
			const slack = time.Second
			want := time.Duration(faultHoldMS)*time.Millisecond - slack
			if !c.completed {
				want = 0
				for _, k := range kills {
					if k.After(c.at) {
						want = k.Sub(c.at) - slack
						break
					}
				}
			}
			got := time.Duration(frames) * time.Second / recorder.SampleRate
			assert.GreaterOrEqual(t, got, want, "recording %s of call %s (completed %v): audio", r.md.ID, r.md.CallID, c.completed)
		}
		if r.stats != nil {
			// Every party plays the same capture (one SSRC, the same
			// sequence numbers), so foreign RTP shows as SSRC changes or
			// as packets the recorder drops as duplicated or late.
			cl, ce := r.stats.Caller, r.stats.Callee
			n := int(cl.SSRCChanges + ce.SSRCChanges)
			ssrcChanges += n
			foreign += int(cl.Duplicated + ce.Duplicated + cl.Late + ce.Late)
			assert.Zero(t, n, "recording %s (call %s, started %v): SSRC changes caller %d callee %d: foreign RTP reached it",
				r.md.ID, r.md.CallID, r.md.Start.Format("15:04:05.000"), cl.SSRCChanges, ce.SSRCChanges)
			// A loaded machine may delay a packet past the jitter window
			// now and then; foreign RTP makes a share of them late.
			assert.True(t, cl.Duplicated+ce.Duplicated == 0 && cl.Late*20 <= cl.Received && ce.Late*20 <= ce.Received,
				"recording %s (call %s): duplicated %d/%d, late %d/%d of %d/%d packets: foreign RTP reached it",
				r.md.ID, r.md.CallID, cl.Duplicated, ce.Duplicated, cl.Late, ce.Late, cl.Received, ce.Received)
		}
	}
	completed, mustHave, graced, gracedRecorded, recovered := 0, 0, 0, 0, 0
	for callID, c := range answered {
		if c.completed {
			completed++
		}
		if byCall[callID] > 1 {
			t.Errorf("call %s has %d recordings", callID, byCall[callID])
		}
		nearKill := false
		for _, k := range kills {
			if !c.at.After(k) && k.Sub(c.at) < faultAnswerGrace || c.at.After(k) && c.at.Sub(k) < 50*time.Millisecond {
				nearKill = true
			}
		}
		if nearKill && !c.completed {
			graced++
			if byCall[callID] == 1 {
				gracedRecorded++
			}
			continue
		}
		mustHave++
		assert.Equal(t, 1, byCall[callID], "call %s answered at %v (completed %v): recordings", callID,
			c.at.Format("15:04:05.000"), c.completed)
	}
	for _, r := range recs {
		if r.stats == nil {
			recovered++ // recovered after a kill: its metadata is the sidecar's
		}
	}
	var rejected uint64
	for _, c := range faultCDRs(t, filepath.Join(s.dir, "cdr.jsonl")) {
		rejected += c.CallerRejected + c.CalleeRejected
	}
	t.Logf("%d kills, %d runs; %d calls answered (%d completed), %d recordings delivered (%d recovered after a kill), "+
		"%d answered within %v of a kill (%d of them recorded); SSRC changes in recordings %d, duplicated or late packets %d; RTP/RTCP packets rejected for their source (CDRs) %d",
		len(kills), len(s.starts), len(answered), completed, len(recs), recovered, graced, faultAnswerGrace, gracedRecorded, ssrcChanges, foreign, rejected)
	assert.GreaterOrEqual(t, len(kills), 10)
	assert.Positive(t, recovered, "the kills cut calls in progress")
	assert.Greater(t, mustHave, 5*faultKills, "calls checked")
}
