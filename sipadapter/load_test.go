package sipadapter

import (
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/callrec/callrec/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count file descriptors: %v", err)
	}
	return len(ents)
}

func cpuTime(t testing.TB) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// settle waits until the goroutine and file counts drop to at most the
// given ones (sipgo keeps finished transactions for their timer K/I, 5 s).
func settle(t testing.TB, goroutines, fds int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if runtime.NumGoroutine() <= goroutines && openFDs(t) <= fds {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	t.Fatalf("goroutines %d (want ≤ %d), fds %d (want ≤ %d)\n%s", runtime.NumGoroutine(), goroutines,
		openFDs(t), fds, buf[:runtime.Stack(buf, true)])
}

// TestSIPpLoad places calls at 20 per second up to 200 at once, each with
// RTP both ways for 10 s; every call must be recorded and delivered, and
// afterwards no goroutine, socket, port or file is left behind.
func TestSIPpLoad(t *testing.T) {
	bin := testenv.LookPath(t, "sipp", "sip-tester")
	if testing.Short() {
		t.Skip("load test: 30 s")
	}
	const (
		calls   = 260
		rate    = "20"
		maxConc = "200"
		hold    = "10000" // ms after the answer: 200 calls overlap at 20/s
	)
	e := newEnv(t, nil)
	dir := sippDir(t, nil)
	time.Sleep(100 * time.Millisecond)
	runtime.GC()
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	cpu0 := cpuTime(t)

	uasMP := 30000 + 2*int(time.Now().UnixNano()/1000%100)
	uas := startSIPp(t, bin, dir, "-sf", "uas_answer.xml", "-p", portArg(int(e.outsideHop.Port())),
		"-mp", portArg(uasMP), "-m", portArg(calls))
	time.Sleep(200 * time.Millisecond)
	uac := startSIPp(t, bin, dir, e.b.Addr(Inside).String(), "-sf", "uac_call.xml", "-s", "0077270312345678",
		"-key", "caller", lineFixed, "-p", portArg(testenv.FreePort(t)), "-mp", portArg(freeMediaPort(t)),
		"-r", rate, "-l", maxConc, "-m", portArg(calls), "-d", hold)

	peakCalls, peakHeap := 0, uint64(0)
	sample := time.NewTicker(250 * time.Millisecond)
	defer sample.Stop()
	deadline := time.After(90 * time.Second) // once: a time.After in the loop would restart with every sample
	for done := false; !done; {
		select {
		case <-uac.done:
			uac.done <- nil
			done = true
		case <-sample.C:
			n, _ := e.b.ActiveCalls()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if n > peakCalls {
				peakCalls = n
			}
			peakHeap = max(peakHeap, ms.HeapInuse)
		case <-deadline:
			t.Fatal("load did not finish in 90 s")
		}
	}
	uac.requireOK(t, time.Second)
	uas.requireOK(t, 30*time.Second)
	e.events.wait(t, EventDelivered, calls, 60*time.Second)
	cpu := cpuTime(t) - cpu0

	cdrs := e.cdr.cdrs(t)
	require.Len(t, cdrs, calls)
	for _, c := range cdrs {
		require.Equal(t, CauseBye, c.Cause, "%+v", c)
		require.True(t, c.Recorded, "%+v", c)
	}
	_, metas := e.delivered(t)
	assert.Len(t, metas, calls)
	heapPerCall := float64(peakHeap-base.HeapInuse) / float64(max(peakCalls, 1))
	t.Logf("%d calls, peak %d concurrent: CPU %.1f ms per call (%v total), heap %.0f KiB per concurrent call (peak %d MiB)",
		calls, peakCalls, float64(cpu.Microseconds())/1000/calls, cpu.Round(time.Millisecond),
		heapPerCall/1024, peakHeap>>20)
	assert.GreaterOrEqual(t, peakCalls, 150, "the load must overlap calls")

	n, rec := e.b.ActiveCalls()
	assert.Zero(t, n)
	assert.Zero(t, rec)
	assert.Zero(t, e.b.anchor.PairsInUse(), "media ports released")
	settle(t, baseG, baseFD)
}

// TestResourceHygieneAfterClose runs 200 short recorded calls and refused
// ones, closes the B2BUA and its queue, and checks that the process is back
// to its goroutine and file counts from before the B2BUA existed.
func TestResourceHygieneAfterClose(t *testing.T) {
	bin := testenv.LookPath(t, "sipp", "sip-tester")
	runtime.GC()
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)

	e := newEnv(t, nil)
	dir := sippDir(t, map[string]string{"Code": "484", "Reason": "invalid"})
	const calls = 200
	uas := startSIPp(t, bin, dir, "-sf", "uas_answer.xml", "-p", portArg(int(e.outsideHop.Port())),
		"-mp", portArg(30000+2*int(time.Now().UnixNano()/1000%100)), "-m", portArg(calls))
	time.Sleep(200 * time.Millisecond)
	uac := startSIPp(t, bin, dir, e.b.Addr(Inside).String(), "-sf", "uac_call.xml", "-s", "0077270312345678",
		"-key", "caller", lineFixed, "-p", portArg(testenv.FreePort(t)), "-mp", portArg(freeMediaPort(t)),
		"-r", "100", "-l", "100", "-m", portArg(calls), "-d", "1000") // the guidance takes 600 ms of it
	refused := startSIPp(t, bin, dir, e.b.Addr(Inside).String(), "-sf", "uac_expect.xml", "-s", "00772703",
		"-key", "caller", lineFixed, "-p", portArg(testenv.FreePort(t)), "-mp", portArg(freeMediaPort(t)),
		"-r", "50", "-m", "20")
	uac.requireOK(t, 60*time.Second)
	refused.requireOK(t, 30*time.Second)
	uas.requireOK(t, 30*time.Second)
	e.events.wait(t, EventDelivered, calls, 60*time.Second)
	require.Len(t, e.cdr.cdrs(t), calls+20)

	e.close()
	require.NoError(t, e.q.Close())
	settle(t, baseG, baseFD)
}
