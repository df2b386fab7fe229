package kamailio_test

import (
	"bufio"

	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/examples/kamailio"
	"github.com/callrec/callrec/internal/testenv"
	"github.com/stretchr/testify/require"
	"github.com/zaf/g711"
)

// Timing of the test cluster: short enough to keep the scenarios quick,
// with Kamailio's timers overridden through -A like an operator would.
const (
	pingInterval = 1 * time.Second // PING_INTERVAL
	frTimer      = 2 * time.Second // FR_TIMER: wide, for a loaded CI machine
	frInvTimer   = 5 * time.Second // FR_INV_TIMER
	holdMS       = 3000            // SIPp -d: talk time of every call
	shutdownWait = 30 * time.Second
)

// logLines collects a child process's output lines with the time each was
// read, for a test to search while the process runs.
type logLines struct {
	mu    sync.Mutex
	lines []logLine
	done  chan struct{}
}

type logLine struct {
	at   time.Time
	text string
}

func newLogLines(r io.Reader) *logLines {
	l := &logLines{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			l.mu.Lock()
			l.lines = append(l.lines, logLine{at: time.Now(), text: sc.Text()})
			l.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, r)
	}()
	return l
}

func (l *logLines) snapshot() []logLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]logLine(nil), l.lines...)
}

func (l *logLines) String() string {
	var b strings.Builder
	for _, ln := range l.snapshot() {
		b.WriteString(ln.text)
		b.WriteByte('\n')
	}
	return b.String()
}

// process is a child process the test owns; cleanup kills it if it still
// runs.
type process struct {
	name string
	cmd  *exec.Cmd
	log  *logLines
	done chan error
}

func startProcess(t *testing.T, name string, cmd *exec.Cmd) *process {
	t.Helper()
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	// Its own process group: Kamailio forks workers, and a kill must reach
	// them all, or they keep the output pipe (and Wait) open.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	p := &process{name: name, cmd: cmd, log: newLogLines(pr), done: make(chan error, 1)}
	require.NoError(t, cmd.Start(), name)
	go func() {
		err := cmd.Wait()
		_ = pw.Close()
		<-p.log.done
		p.done <- err
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		p.done <- nil
		if t.Failed() {
			t.Logf("--- %s output (last 4000 bytes):\n%s", name, tail(p.log.String(), 4000))
		}
	})
	return p
}

// exited reports whether the process has ended, keeping its result.
func (p *process) exited() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return true
	default:
		return false
	}
}

// wait waits for the process to end and returns its error.
func (p *process) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(timeout):
		t.Fatalf("%s did not end within %v", p.name, timeout)
		return nil
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// buildB2BUA builds examples/b2bua once for the whole test.
func buildB2BUA(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "callrec-b2bua")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(gobin, "build", "-o", bin, "../b2bua").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// cluster is Kamailio with two b2bua instances behind it, a SIPp callee
// as the network, and one delivery directory for both instances.
type cluster struct {
	t         *testing.T
	dir       string
	out       string // the shared delivery directory
	bin       string
	sipp      string
	kamailio  *process
	kamAddr   netip.AddrPort
	uasPort   int
	uas       *process
	instances []*instance
}

// instance is one b2bua: its configuration stays, its process changes
// with every start.
type instance struct {
	name    string
	dir     string
	cfg     string
	inside  netip.AddrPort
	proc    *process
	metrics string
}

func newCluster(t *testing.T, b2bua, sippBin, kamailioBin string) *cluster {
	t.Helper()
	dir := t.TempDir()
	c := &cluster{t: t, dir: dir, out: filepath.Join(dir, "out"), bin: b2bua, sipp: sippBin}
	c.kamAddr = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(testenv.FreePort(t)))
	c.uasPort = testenv.FreePort(t)
	// Below the ephemeral range, one block per instance.
	mediaBase := 10000 + 2*rand.IntN(4000)
	for i, name := range []string{"a", "b"} {
		in := &instance{name: name, dir: filepath.Join(dir, name)}
		in.inside = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(testenv.FreePort(t)))
		require.NoError(t, os.MkdirAll(in.dir, 0o750))
		in.cfg = filepath.Join(in.dir, "b2bua.yaml")
		cfg := fmt.Sprintf(`sides:
  inside:
    listen: %s
    next_hop: %s
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
      path: %[8]s
timeouts:
  shutdown_grace: 20s
log:
  level: info
metrics:
  listen: 127.0.0.1:0
`, in.inside, c.kamAddr, testenv.FreePort(t), c.uasPort, mediaBase+i*1000, mediaBase+i*1000+998, in.dir, c.out)
		require.NoError(t, os.WriteFile(in.cfg, []byte(cfg), 0o600))
		c.instances = append(c.instances, in)
	}
	for _, in := range c.instances {
		c.start(in)
	}
	c.startKamailio(kamailioBin)
	c.startUAS()
	return c
}

// start runs the instance and waits for its "serving" log line.
func (c *cluster) start(in *instance) {
	t := c.t
	t.Helper()
	cmd := exec.Command(c.bin, "-config", in.cfg)
	in.proc = startProcess(t, "b2bua "+in.name, cmd)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, ln := range in.proc.log.snapshot() {
			var m map[string]any
			if json.Unmarshal([]byte(ln.text), &m) == nil && m["msg"] == "serving" {
				in.metrics = m["metrics"].(string)
				return
			}
		}
		if in.proc.exited() {
			t.Fatalf("b2bua %s ended before serving:\n%s", in.name, in.proc.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("b2bua %s: no serving line:\n%s", in.name, in.proc.log)
}

// signal sends sig to the instance's process.
func (in *instance) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	require.NoError(t, in.proc.cmd.Process.Signal(sig))
}

// drainedAt waits for the instance's "draining: new calls are refused"
// line and returns the time the instance logged in it. sipadapter logs it
// after it set its draining flag, and every call it admitted was set up
// (metadata Start) before its admission check saw that flag clear, so
// every call the instance admitted started before this time, whenever the
// signal that triggered the drain was sent.
func (in *instance) drainedAt(t *testing.T, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, ln := range in.proc.log.snapshot() {
			var m struct {
				Time time.Time `json:"time"`
				Msg  string    `json:"msg"`
			}
			if json.Unmarshal([]byte(ln.text), &m) == nil && m.Msg == "draining: new calls are refused" {
				require.False(t, m.Time.IsZero(), "time of %q", ln.text)
				return m.Time
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("b2bua %s: no draining line within %v", in.name, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// activeCalls reads callrec_calls_active from the instance's metrics.
func (in *instance) activeCalls(t *testing.T) int {
	t.Helper()
	res, err := http.Get("http://" + in.metrics + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^callrec_calls_active (\d+)$`).FindSubmatch(body)
	require.NotNil(t, m, "callrec_calls_active in\n%s", body)
	n, err := strconv.Atoi(string(m[1]))
	require.NoError(t, err)
	return n
}

// partials lists the sidecars of the instance's partial recordings, left
// by a crash.
func (in *instance) partials(t *testing.T) []string {
	t.Helper()
	p, err := filepath.Glob(filepath.Join(in.dir, "rec", "*.json"))
	require.NoError(t, err)
	return p
}

// instanceOf returns the instance whose ID (host name + inside port, the
// default) names a delivered recording.
func (c *cluster) instanceOf(md delivery.Metadata) *instance {
	for _, in := range c.instances {
		if strings.HasSuffix(md.Instance, fmt.Sprintf("-%d", in.inside.Port())) {
			return in
		}
	}
	return nil
}

// startKamailio runs the shipped kamailio.cfg in the foreground with the
// test's addresses and timers.
func (c *cluster) startKamailio(bin string) {
	t := c.t
	t.Helper()
	var addrs []netip.AddrPort
	for _, in := range c.instances {
		addrs = append(addrs, in.inside)
	}
	list, err := kamailio.DispatcherList(1, addrs...)
	require.NoError(t, err)
	dsList := filepath.Join(c.dir, "dispatcher.list")
	require.NoError(t, os.WriteFile(dsList, []byte(list), 0o600))
	runDir := filepath.Join(c.dir, "kamailio")
	require.NoError(t, os.MkdirAll(runDir, 0o750))
	cfg, err := filepath.Abs("kamailio.cfg")
	require.NoError(t, err)
	cmd := exec.Command(bin, "-f", cfg, "-DD", "-E", "-Y", runDir, "-m", "64", "-M", "8",
		"-A", "LISTEN=udp:"+c.kamAddr.String(),
		"-A", fmt.Sprintf("DS_LIST=%q", dsList),
		"-A", fmt.Sprintf("PING_INTERVAL=%d", int(pingInterval/time.Second)),
		"-A", fmt.Sprintf("FR_TIMER=%d", frTimer.Milliseconds()),
		"-A", fmt.Sprintf("FR_INV_TIMER=%d", frInvTimer.Milliseconds()),
		"-A", "CHILDREN=2")
	c.kamailio = startProcess(t, "kamailio", cmd)
	// Kamailio answers OPTIONS to itself once it serves.
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if code, err := options(c.kamAddr, "sip:"+c.kamAddr.String(), 300*time.Millisecond); err == nil && code == 200 {
			return
		}
		if c.kamailio.exited() {
			t.Fatalf("kamailio ended:\n%s", c.kamailio.log)
		}
	}
	t.Fatalf("kamailio does not answer OPTIONS:\n%s", c.kamailio.log)
}

// options sends one OPTIONS to addr and returns the status code of the
// final answer.
func options(addr netip.AddrPort, uri string, timeout time.Duration) (int, error) {
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	branch := fmt.Sprintf("z9hG4bK-%d", rand.Int64())
	req := fmt.Sprintf("OPTIONS %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=%s\r\nFrom: <sip:probe@%s>;tag=%d\r\n"+
		"To: <%s>\r\nCall-ID: %d@probe\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		uri, local, branch, local, rand.Int64(), uri, rand.Int64())
	if _, err := conn.Write([]byte(req)); err != nil {
		return 0, err
	}
	_ = conn.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return 0, err
		}
		var code int
		if _, err := fmt.Sscanf(string(buf[:n]), "SIP/2.0 %d", &code); err == nil && code >= 200 {
			return code, nil
		}
	}
}

// dispatchLog is what Kamailio logged about its destinations.
type dispatchLog struct {
	first    map[string][]time.Time // INVITEs first sent to a destination
	failover map[string][]time.Time // INVITEs failed over to a destination
	failed   map[string][]time.Time // INVITEs a destination failed (503, timeout)
	down, up map[string][]time.Time // probing state changes
}

var dispatchRe = regexp.MustCompile(`callrec-dispatch: (first|failover|failed|dst-down|dst-up) (sip:\S+)`)

func (c *cluster) dispatchLog() dispatchLog {
	d := dispatchLog{first: map[string][]time.Time{}, failover: map[string][]time.Time{},
		failed: map[string][]time.Time{}, down: map[string][]time.Time{}, up: map[string][]time.Time{}}
	for _, ln := range c.kamailio.log.snapshot() {
		m := dispatchRe.FindStringSubmatch(ln.text)
		if m == nil {
			continue
		}
		dst := m[2]
		switch m[1] {
		case "first":
			d.first[dst] = append(d.first[dst], ln.at)
		case "failover":
			d.failover[dst] = append(d.failover[dst], ln.at)
		case "failed":
			d.failed[dst] = append(d.failed[dst], ln.at)
		case "dst-down":
			d.down[dst] = append(d.down[dst], ln.at)
		case "dst-up":
			d.up[dst] = append(d.up[dst], ln.at)
		}
	}
	return d
}

func (in *instance) uri() string { return "sip:" + in.inside.String() }

// waitUp waits for Kamailio to log the instance back up after since.
func (c *cluster) waitUp(in *instance, since time.Time, timeout time.Duration) time.Time {
	t := c.t
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, at := range c.dispatchLog().up[in.uri()] {
			if at.After(since) {
				return at
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("kamailio did not take %s back within %v", in.uri(), timeout)
	return time.Time{}
}

// sippDir prepares SIPp's working directory: the scenarios and the
// callee's tone.
func sippDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"uac.xml", "uas.xml"} {
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

func (c *cluster) sippCmd(dir string, args ...string) *exec.Cmd {
	base := []string{"-i", "127.0.0.1", "-mi", "127.0.0.1", "-nostdin", "-trace_err"}
	cmd := exec.Command(c.sipp, append(base, args...)...)
	cmd.Dir = dir
	return cmd
}

// startUAS runs the network side: a SIPp callee that answers every call.
func (c *cluster) startUAS() {
	dir := sippDir(c.t)
	c.uas = startProcess(c.t, "sipp uas", c.sippCmd(dir, "-sf", "uas.xml", "-p", strconv.Itoa(c.uasPort),
		"-mp", strconv.Itoa(20000+2*rand.IntN(4000))))
	time.Sleep(200 * time.Millisecond) // let it bind
}

// load is a SIPp caller (the PBX) placing recorded calls through
// Kamailio.
type load struct {
	proc  *process
	stats string
	rate  int
}

// startLoad places calls at rate per second, up to max calls.
func (c *cluster) startLoad(rate, max int) *load {
	dir := sippDir(c.t)
	stats := filepath.Join(dir, "stats.csv")
	cmd := c.sippCmd(dir, c.kamAddr.String(), "-sf", "uac.xml", "-s", "0077270312345678", "-key", "caller", "0312340000",
		"-p", strconv.Itoa(testenv.FreePort(c.t)), "-mp", strconv.Itoa(30000+2*rand.IntN(4000)),
		"-r", strconv.Itoa(rate), "-m", strconv.Itoa(max), "-l", "400", "-d", strconv.Itoa(holdMS),
		"-timeout", "120s", "-timeout_error", "-trace_stat", "-stf", stats, "-fd", "1")
	return &load{proc: startProcess(c.t, "sipp uac", cmd), stats: stats, rate: rate}
}

// result waits for SIPp to end and returns its successful and failed
// call counts from the statistics file.
func (l *load) result(t *testing.T) (ok, failed int) {
	t.Helper()
	_ = l.proc.wait(t, 150*time.Second) // exit status 1 means failed calls, counted below
	f, err := os.Open(l.stats)
	require.NoError(t, err)
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = ';'
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(rows), 2, "statistics rows")
	col := func(name string) int {
		for i, h := range rows[0] {
			if h == name {
				v, err := strconv.Atoi(rows[len(rows)-1][i])
				require.NoError(t, err, name)
				return v
			}
		}
		t.Fatalf("no column %s in %v", name, rows[0])
		return 0
	}
	return col("SuccessfulCall(C)"), col("FailedCall(C)")
}

// stopSoft asks SIPp to place no more calls and end once its calls end.
func (l *load) stopSoft(t *testing.T) {
	t.Helper()
	require.NoError(t, l.proc.cmd.Process.Signal(syscall.SIGUSR1))
}

// delivered reads the metadata of every recording in the shared
// directory.
func (c *cluster) delivered() []delivery.Metadata {
	t := c.t
	t.Helper()
	var out []delivery.Metadata
	err := filepath.WalkDir(c.out, func(path string, d os.DirEntry, err error) error {
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
		var md delivery.Metadata
		if err := json.Unmarshal(raw, &md); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if _, err := os.Stat(strings.TrimSuffix(path, ".json") + md.AudioExt); err != nil {
			return err
		}
		out = append(out, md)
		return nil
	})
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	return out
}

// waitDelivered waits until n recordings are in the shared directory.
func (c *cluster) waitDelivered(n int, timeout time.Duration) []delivery.Metadata {
	t := c.t
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		mds := c.delivered()
		if len(mds) >= n || time.Now().After(deadline) {
			return mds
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// perInstance counts delivered recordings by instance, and checks that
// no two share an ID or a file.
func (c *cluster) perInstance(mds []delivery.Metadata) map[string]int {
	t := c.t
	t.Helper()
	counts := map[string]int{}
	ids := map[string]bool{}
	for _, md := range mds {
		in := c.instanceOf(md)
		require.NotNil(t, in, "recording %s from an unknown instance %q", md.ID, md.Instance)
		require.Contains(t, md.ID, md.Instance, "the instance is in the recording ID")
		require.False(t, ids[md.ID], "duplicate recording %s", md.ID)
		ids[md.ID] = true
		counts[in.name]++
	}
	return counts
}

// uniqueCallIDs reports the number of distinct Call-IDs among mds.
func uniqueCallIDs(mds []delivery.Metadata) int {
	seen := map[string]bool{}
	for _, md := range mds {
		seen[md.CallID] = true
	}
	return len(seen)
}
