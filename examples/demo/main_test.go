package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"image/png"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/internal/waveform"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRun runs the whole demo, in-process peers only, and checks what it
// leaves in the output directory.
func TestRun(t *testing.T) {
	tests := map[string]struct {
		args         []string
		channels     int
		announcement string
		serve        bool
	}{
		"stereo, then serve":       {args: []string{"-serve"}, channels: 2, announcement: "1", serve: true},
		"mono with announcement 4": {args: []string{"-mono", "-announcement", "4"}, channels: 1, announcement: "4"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "out")
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			stdout := &syncBuffer{}
			var stderr bytes.Buffer
			args := append([]string{"-duration", "1500ms", "-out", out}, tt.args...)
			done := make(chan error, 1)
			go func() { done <- run(ctx, args, stdout, &stderr) }()
			if tt.serve {
				base := stdout.waitFor(t, done, regexp.MustCompile(`The archive keeps running: (http://127\.0\.0\.1:\d+)/`))
				checkServedArchive(t, base)
				cancel()
			}
			err := <-done
			t.Log(stdout.String())
			require.NoError(t, err, stderr.String())
			assert.Contains(t, stdout.String(), "All 45 checks passed")
			assert.NotContains(t, stdout.String(), "FAIL")
			assert.NotContains(t, stdout.String(), "\r", "spinner drawn without a terminal")

			pngs, err := filepath.Glob(filepath.Join(out, "*.png"))
			require.NoError(t, err)
			assert.Len(t, pngs, 3, "pictures")
			for _, ext := range []string{".wav", ".json"} {
				files, err := filepath.Glob(filepath.Join(out, "archive", "*", "*", "*", "*"+ext))
				require.NoError(t, err)
				assert.Len(t, files, 3, "archived %s files", ext)
			}
			wavs, err := filepath.Glob(filepath.Join(out, "archive", "*", "*", "*", "*.wav"))
			require.NoError(t, err)
			directions := map[delivery.Direction]bool{}
			for _, wav := range wavs {
				base := strings.TrimSuffix(wav, ".wav")
				raw, err := os.ReadFile(base + ".json")
				require.NoError(t, err)
				var md delivery.Metadata
				require.NoError(t, json.Unmarshal(raw, &md))
				directions[md.Direction] = true
				assert.Equal(t, tt.channels, md.Channels)
				assert.Equal(t, tt.announcement, md.AnnouncementID)
				f, err := os.Open(wav)
				require.NoError(t, err)
				audio, err := waveform.DecodeWAV(f)
				require.NoError(t, f.Close())
				require.NoError(t, err)
				assert.Len(t, audio.Channels, tt.channels)
				assert.InDelta(t, 1.5, audio.Duration().Seconds(), 0.25)
				pf, err := os.Open(filepath.Join(out, md.ID+".png"))
				require.NoError(t, err)
				img, err := png.Decode(pf)
				require.NoError(t, pf.Close())
				require.NoError(t, err)
				assert.Positive(t, img.Bounds().Dx())
			}
			assert.Equal(t, map[delivery.Direction]bool{delivery.Outgoing: true, delivery.Incoming: true}, directions)

			cdr, err := os.Open(filepath.Join(out, "cdr.jsonl"))
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, cdr.Close()) })
			var verdicts []string
			sc := bufio.NewScanner(cdr)
			for sc.Scan() {
				var line struct{ Verdict string }
				require.NoError(t, json.Unmarshal(sc.Bytes(), &line))
				verdicts = append(verdicts, line.Verdict)
			}
			require.NoError(t, sc.Err())
			assert.Equal(t, []string{"record", "record", "record", "emergency"}, verdicts)
		})
	}
}

// syncBuffer is an output the demo writes to while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor returns re's first group once the output matches it; it fails
// the test if the demo ends first.
func (b *syncBuffer) waitFor(t *testing.T, done chan error, re *regexp.Regexp) string {
	t.Helper()
	for {
		if m := re.FindStringSubmatch(b.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("the demo ended (%v) without printing %s:\n%s", err, re, b.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// checkServedArchive logs in to the archive the demo keeps serving as the
// agent it prints, and finds the three recorded calls.
func checkServedArchive(t *testing.T, base string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := hc.Get(base + "/login")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	tok := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(string(b))
	require.NotNil(t, tok)
	resp, err = hc.PostForm(base+"/login", url.Values{"csrf": {tok[1]}, "user": {demoAgent}, "password": {demoPassword}})
	require.NoError(t, err)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Len(t, regexp.MustCompile(`href="/calls/[^"]+"`).FindAllString(string(b), -1), 3, "the agent sees the three recorded calls")
}

func TestFlags(t *testing.T) {
	tests := map[string]struct {
		args []string
		want string
	}{
		"announcement 0":     {[]string{"-announcement", "0"}, "-announcement 0"},
		"announcement 6":     {[]string{"-announcement", "6"}, "-announcement 6"},
		"duration too short": {[]string{"-duration", "100ms"}, "-duration 100ms"},
		"duration too long":  {[]string{"-duration", "2m"}, "-duration 2m0s"},
		"empty out":          {[]string{"-out", ""}, "-out is empty"},
		"argument":           {[]string{"extra"}, `unexpected argument "extra"`},
		"unknown flag":       {[]string{"-stereo"}, "flag provided but not defined"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr)
			require.ErrorIs(t, err, errUsage)
			assert.Contains(t, err.Error(), tt.want)
			assert.Empty(t, stdout.String(), "the demo started")
		})
	}
}

func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"-h"}, &stdout, &stderr)
	require.ErrorIs(t, err, flag.ErrHelp)
	assert.Contains(t, stderr.String(), "-announcement")
	assert.Empty(t, stdout.String())
}

// TestInterrupt cancels the demo during its first call: it stops at once,
// cleanly, and reports the interruption.
func TestInterrupt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout := &syncBuffer{}
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-out", t.TempDir()}, stdout, &stderr) }()
	// Cancelled once the first call is under way (its 4 s of talk), not
	// after a fixed time, which a slow start (bcrypt under -race) eats.
	stdout.waitFor(t, done, regexp.MustCompile(`(\[1/4\])`))
	time.Sleep(time.Second)
	start := time.Now()
	cancel()
	err := <-done
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), 15*time.Second)
	assert.Contains(t, stdout.String(), "[1/4]")
	assert.NotContains(t, stdout.String(), "[2/4]")
	assert.Contains(t, stdout.String(), "FAILED")
}
