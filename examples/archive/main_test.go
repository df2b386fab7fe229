package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/callrec/callrec/internal/configfile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

func TestShippedConfigIsValid(t *testing.T) {
	cfg, err := loadConfig("archive.yaml", env(nil))
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:8480", cfg.listen)
	assert.Equal(t, "/var/lib/callrec/archive", cfg.archive.Dir)
	assert.Equal(t, "Asia/Tokyo", cfg.archive.Location.String())
	assert.Equal(t, time.Hour, cfg.retentionInterval)
	assert.Equal(t, 12*time.Hour, cfg.web.SessionTTL)
	assert.Equal(t, 5, cfg.web.LoginFailures)
	assert.False(t, cfg.web.InsecureCookies)
	assert.Equal(t, "admin", cfg.adminName)
}

func TestConfigEnvironmentOverrides(t *testing.T) {
	cfg, err := parseConfig([]byte("dir: /tmp/a\ningest:\n  token: from-file\n"),
		env(map[string]string{envIngestToken: "from-env", envAdminPassword: "secret password"}))
	require.NoError(t, err)
	assert.Equal(t, "from-env", cfg.archive.BearerToken)
	assert.Equal(t, "admin", cfg.adminName, "a password alone creates the admin named admin")
	assert.Equal(t, "secret password", cfg.adminPassword)
	assert.Equal(t, "127.0.0.1:8480", cfg.listen)
}

func TestConfigProblems(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, key string }{
		"no dir":              {"listen: 127.0.0.1:1\n", "dir: required"},
		"unknown key":         {"dir: /x\nlisten_on: 1\n", "field listen_on not found"},
		"bad listen":          {"dir: /x\nlisten: nowhere\n", "listen:"},
		"bad timezone":        {"dir: /x\ntimezone: Mars/Olympus\n", "timezone:"},
		"bad language":        {"dir: /x\nlanguage: fr\n", "language:"},
		"half tls":            {"dir: /x\ntls:\n  cert: a.crt\n", "tls:"},
		"insecure on network": {"dir: /x\nlisten: 0.0.0.0:8480\ninsecure_cookies: true\n", "insecure_cookies:"},
		"open ingest":         {"dir: /x\nlisten: 192.0.2.1:8480\n", "ingest.token:"},
		"bad duration":        {"dir: /x\nsession_ttl: forever\n", "session_ttl:"},
		"bad window":          {"dir: /x\nlogin:\n  window: -1s\n", "login.window:"},
		"short admin pass":    {"dir: /x\nadmin:\n  password: short\n", "admin.password:"},
		"bad log level":       {"dir: /x\nlog:\n  level: loud\n", "log.level:"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseConfig([]byte(tc.yaml), env(nil))
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.key)
			var ce *configfile.Error
			require.ErrorAs(t, err, &ce, "the one configuration error type")
			assert.NotEmpty(t, ce.Problems)
		})
	}
	_, err := parseConfig([]byte("dir: /x\nlisten: 127.0.0.1:0\ninsecure_cookies: true\n"), env(nil))
	require.NoError(t, err, "insecure cookies on loopback")
	_, err = parseConfig([]byte("dir: /x\nlisten: 192.0.2.1:8480\n"), env(map[string]string{envIngestToken: "t0ken"}))
	require.NoError(t, err, "ingest token from the environment")
}

// TestRunServes: the binary bootstraps the admin from the environment,
// serves the UI on loopback, and stops on cancel.
func TestRunServes(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "archive.yaml")
	require.NoError(t, os.WriteFile(conf, []byte("listen: 127.0.0.1:0\ndir: "+filepath.Join(dir, "rec")+
		"\ninsecure_cookies: true\nretention:\n  interval: 50ms\n"), 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-config", conf}, pw, io.Discard, env(map[string]string{envAdminPassword: "bootstrap pw"}))
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err)
	go io.Copy(io.Discard, pr)
	base := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	require.True(t, strings.HasPrefix(base, "http://127.0.0.1:"), line)

	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := hc.Get(base + "/login")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	tok := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(string(b))
	require.NotNil(t, tok)
	resp, err = hc.PostForm(base+"/login", url.Values{"csrf": {tok[1]}, "user": {"admin"}, "password": {"bootstrap pw"}})
	require.NoError(t, err)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(b), "/admin/audit", "logged in as the administrator")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("run did not stop")
	}
	require.NoError(t, run(context.Background(), []string{"-config", conf, "-check-config"}, io.Discard, io.Discard, env(nil)))
}
