package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// envRunMain makes the test binary run main instead of the tests, so that
// a test can signal a real process.
const envRunMain = "CALLREC_B2BUA_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSIGTERM starts the command as a process and stops it with SIGTERM:
// it must drain and exit 0.
func TestSIGTERM(t *testing.T) {
	dir := t.TempDir()
	path := writeTestConfig(t, dir, newPhone(t, "pbx").Addr(), newPhone(t, "network").Addr())
	cmd := exec.Command(os.Args[0], "-config", path)
	cmd.Env = append(os.Environ(), envRunMain+"=1")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	lines := make(chan map[string]any, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var l map[string]any
			if json.Unmarshal(sc.Bytes(), &l) == nil {
				lines <- l
			}
		}
	}()
	next := func(msg string) map[string]any {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				require.True(t, ok, "log ended before %q", msg)
				if l["msg"] == msg {
					return l
				}
			case <-timeout:
				t.Fatalf("no %q log line", msg)
			}
		}
	}
	next("serving")
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, "1s", next("shutting down")["grace"])
	next("stopped")
	for range lines { // drain the pipe so the process can exit
	}
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		exited <- err
		require.NoError(t, err, "exit status after SIGTERM")
	case <-time.After(10 * time.Second):
		t.Fatal("process did not exit after SIGTERM")
	}
}

// Example_checkConfig shows the problems -check-config reports.
func Example_checkConfig() {
	raw := strings.Replace(baseConfig, "      path: /tmp/out\n", "      path: /tmp/out\n      time_zone: Tokio\n", 1) +
		"capacity:\n  max_calls: lots\n  min_spool_free: 1 GiB\n"
	_, problems := parseConfig([]byte(raw), env(nil))
	for _, p := range problems {
		fmt.Printf("line %d: %s: %s\n", p.Line, p.Key, p.Msg)
	}
	// Output:
	// line 16: sinks[0].dir.time_zone: "Tokio" is not a time zone such as Asia/Tokyo: unknown time zone Tokio
	// line 18: capacity.max_calls: "lots" is not an integer
}

// ExampleConfigError shows the message of a configuration error.
func ExampleConfigError() {
	err := &ConfigError{File: "/etc/callrec/b2bua.yaml", Problems: []Problem{
		{Key: "sinks[0].http.url", Line: 12, Msg: "missing"},
		{Key: "spool.dir", Msg: "missing"},
	}}
	fmt.Println(err)
	// Output:
	// /etc/callrec/b2bua.yaml:12: sinks[0].http.url: missing
	// /etc/callrec/b2bua.yaml: spool.dir: missing
}
