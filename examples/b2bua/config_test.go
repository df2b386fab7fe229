package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callrec/callrec/dialplan"
	"github.com/callrec/callrec/sipadapter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

// baseConfig is a minimal valid configuration; tests edit it textually so
// that the lines of their edits are known.
const baseConfig = `sides:
  inside:
    listen: 127.0.0.1:0
    next_hop: 127.0.0.1:5070
    networks: [127.0.0.0/8]
  outside:
    listen: 127.0.0.1:0
    next_hop: 127.0.0.1:5080
recording:
  dir: /tmp/rec
spool:
  dir: /tmp/spool
sinks:
  - dir:
      path: /tmp/out
`

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

func TestShippedConfigIsValid(t *testing.T) {
	cfg, err := loadConfig("b2bua.yaml", env(map[string]string{"CALLREC_HTTP_PASSWORD": "s3cret"}))
	require.NoError(t, err)
	assert.Equal(t, "10.0.0.10:5060", cfg.adapter.Inside.Listen)
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}, cfg.adapter.Inside.Networks)
	assert.Equal(t, netip.MustParseAddr("10.0.0.10"), cfg.adapter.MediaAddr)
	assert.Equal(t, uint64(2<<30), cfg.adapter.MinSpoolFree)
	assert.Equal(t, 200, cfg.adapter.MaxRecordedCalls)
	assert.Equal(t, 4*time.Hour, cfg.adapter.MaxCallDuration)
	assert.Equal(t, 30*time.Second, cfg.shutdownGrace)
	assert.Equal(t, 168*time.Hour, cfg.queue.Backoff.MaxAge)
	require.Len(t, cfg.sinks, 1)
	require.NotNil(t, cfg.sinks[0].http)
	assert.Equal(t, "s3cret", cfg.sinks[0].http.Password)
	assert.Equal(t, "Asia/Tokyo", cfg.sinks[0].http.Location.String())
	assert.Equal(t, []string{"03-1234-5678", "050-1111-2222"}, cfg.plan.CompanyNumbers)
	assert.Equal(t, "127.0.0.1:9464", cfg.metricsListen)
}

func TestConfigDefaults(t *testing.T) {
	cfg, problems := parseConfig([]byte(baseConfig), env(nil))
	require.Empty(t, problems)
	assert.Equal(t, defaultShutdownGrace, cfg.shutdownGrace)
	assert.Equal(t, defaultSpoolShutdown, cfg.spoolShutdown)
	assert.Equal(t, logFormatJSON, cfg.logFormat)
	assert.Equal(t, "udp", cfg.adapter.Inside.Transport)
	assert.Empty(t, cfg.adapter.Outside.Networks)
	assert.Empty(t, cfg.metricsListen)
	assert.Equal(t, "dir /tmp/out", cfg.sinks[0].name)

	cfg, problems = parseConfig([]byte(baseConfig+"timeouts:\n  rtp_inactivity: \"off\"\n  max_call_duration: 8h\n"), env(nil))
	require.Empty(t, problems)
	assert.Negative(t, cfg.adapter.InactivityTimeout, "off disables")
	assert.Equal(t, 8*time.Hour, cfg.adapter.MaxCallDuration)
}

func TestConfigLines(t *testing.T) {
	raw := strings.Replace(baseConfig, "  dir: /tmp/rec\n", "  dir: /tmp/rec\n  announcement: 4\n", 1) + `lines:
  - user: 03-5555-0000
    kind: fixed
    number: 03-5555-0000
  - user: alice
    source: 10.1.0.0/16
    kind: mobile
    announcement: 3
    channels: mono
  - source: 10.2.0.0/16
    kind: mobile
    priority: true
priority:
  callers: [bob]
`
	cfg, problems := parseConfig([]byte(raw), env(nil))
	require.Empty(t, problems)
	src := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
	tests := map[string]struct {
		user string
		src  netip.AddrPort
		want sipadapter.Line
	}{
		"number in another format": {"0355550000", src("127.0.0.1:5060"),
			sipadapter.Line{Kind: dialplan.LineFixed, Number: "03-5555-0000", Announcement: 4}},
		"name from its network": {"alice", src("10.1.2.3:5060"),
			sipadapter.Line{Kind: dialplan.LineMobile, Announcement: 3, Mono: true}},
		"anyone from a source-only network": {"carol", src("10.2.0.9:5060"),
			sipadapter.Line{Kind: dialplan.LineMobile, Announcement: 4}},
		"v4-mapped source": {"carol", src("[::ffff:10.2.0.9]:5060"),
			sipadapter.Line{Kind: dialplan.LineMobile, Announcement: 4}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := cfg.lines.Line(t.Context(), tc.user, tc.src)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	for name, tc := range map[string]struct {
		user string
		src  netip.AddrPort
	}{
		"name from elsewhere": {"alice", src("10.9.0.1:5060")},
		"unknown user":        {"0399999999", src("127.0.0.1:5060")},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := cfg.lines.Line(t.Context(), tc.user, tc.src)
			require.ErrorIs(t, err, sipadapter.ErrUnknownLine)
		})
	}
}

func TestConfigProblems(t *testing.T) {
	tests := map[string]struct {
		old, new string // textual edit of baseConfig; old "" appends new
		env      map[string]string
		key      string
		line     int
		msg      string
	}{
		"unknown key": {old: "    listen: 127.0.0.1:0\n    next", new: "    lisen: 127.0.0.1:0\n    next",
			key: "sides.inside.lisen", line: 3, msg: "unknown key (valid keys here: listen, nat, networks, next_hop, password, transport, trusted, username)"},
		"missing after misspelling": {old: "    listen: 127.0.0.1:0\n    next", new: "    lisen: 127.0.0.1:0\n    next",
			key: "sides.inside.listen", line: 2, msg: "missing"},
		"wrong type": {new: "capacity:\n  max_calls: many\n",
			key: "capacity.max_calls", line: 17, msg: `"many" is not an integer`},
		"list for a value": {new: "log:\n  format: [json]\n",
			key: "log.format", line: 17, msg: "a list is not a single value"},
		"value for a mapping": {new: "metrics: 127.0.0.1:9464\n",
			key: "metrics", line: 16, msg: `"127.0.0..." is not a mapping`},
		"mapping for a list": {new: "lines:\n  user: x\n",
			key: "lines", line: 17, msg: "a mapping is not a list"},
		"not a boolean": {new: "lines:\n  - user: x\n    kind: fixed\n    priority: maybe\n",
			key: "lines[0].priority", line: 19, msg: `"maybe" is not true or false`},
		"not an ip:port": {old: "127.0.0.1:5070", new: "127.0.0.1",
			key: "sides.inside.next_hop", line: 4, msg: `"127.0.0.1" is not a host:port such as sbc.example.net:5060`},
		"listen on a name": {old: "    listen: 127.0.0.1:0\n    next_hop: 127.0.0.1:5070", new: "    listen: pbx.example:5060\n    next_hop: 127.0.0.1:5070",
			key: "sides.inside.listen", line: 3, msg: `"pbx.example:5060" is not an ip:port such as 192.0.2.10:5060`},
		"inside networks missing": {old: "    networks: [127.0.0.0/8]\n", new: "",
			key: "sides.inside.networks", line: 2, msg: "missing: list the PBX's source networks, for example [10.0.0.0/24]"},
		"bad network": {old: "[127.0.0.0/8]", new: "[127.0.0.0/8, 10.0.0/8]",
			key: "sides.inside.networks[1]", line: 5, msg: `"10.0.0/8" is not a network such as 10.0.0.0/24 or an address`},
		"password without username": {old: "    next_hop: 127.0.0.1:5080\n", new: "    next_hop: 127.0.0.1:5080\n    password: pw\n",
			key: "sides.outside.username", msg: "missing: the password needs a username"},
		"bad transport": {old: "    next_hop: 127.0.0.1:5080\n", new: "    next_hop: 127.0.0.1:5080\n    transport: sctp\n",
			key: "sides.outside.transport", line: 9, msg: `"sctp" is not one of udp, tcp`},
		"bad duration": {new: "timeouts:\n  ring: 3 minutes\n",
			key: "timeouts.ring", line: 17, msg: `"3 minutes" is not a duration such as 30s, 5m or 4h`},
		"negative duration": {new: "timeouts:\n  shutdown_grace: -1s\n",
			key: "timeouts.shutdown_grace", line: 17, msg: "-1s is negative"},
		"jitter window": {new: "media:\n  jitter_window: 10s\n",
			key: "media.jitter_window", line: 17, msg: "10s is above 5s"},
		"bad size": {new: "capacity:\n  min_spool_free: lots\n",
			key: "capacity.min_spool_free", line: 17, msg: `"lots" is not a size such as 512MiB, 2GB or 1048576`},
		"bad log format": {new: "log:\n  format: xml\n",
			key: "log.format", line: 17, msg: `"xml" is not one of json, text`},
		"bad log level": {new: "log:\n  level: loud\n",
			key: "log.level", line: 17, msg: `"loud" is not debug, info, warn or error`},
		"media ports reversed": {new: "media:\n  port_min: 30000\n  port_max: 20000\n",
			key: "media.port_max", line: 18, msg: "20000 is below media.port_min 30000"},
		"media address needed": {old: "    listen: 127.0.0.1:0\n    next", new: "    listen: 0.0.0.0:5060\n    next",
			key: "media.address", msg: "missing: required when sides.inside.listen is 0.0.0.0"},
		"company number": {new: "dialplan:\n  company_numbers: [03-1234-5678, 090-1234-5678]\n",
			key: "dialplan.company_numbers[1]", line: 17, msg: "is a mobile number"},
		"overlapping prefixes": {new: "dialplan:\n  mobile_prefix: \"0077\"\n",
			key: "dialplan.mobile_prefix", line: 17, msg: "MobilePrefix 0077 and FixedPrefix 007727 overlap"},
		"line without kind": {new: "lines:\n  - user: \"100\"\n",
			key: "lines[0].kind", line: 17, msg: "missing: mobile or fixed"},
		"line announcement": {new: "lines:\n  - user: \"100\"\n    kind: fixed\n    announcement: 6\n",
			key: "lines[0].announcement", line: 19, msg: "6 is not an announcement 1–5"},
		"line without user or source": {new: "lines:\n  - kind: fixed\n",
			key: "lines[0]", line: 17, msg: "needs a user, a source or both"},
		"duplicate line": {new: "lines:\n  - user: 03-1234-5678\n    kind: fixed\n  - user: \"0312345678\"\n    kind: fixed\n",
			key: "lines[1].user", line: 19, msg: `"0312345678" is already the user of lines[0]`},
		"no sinks": {old: "sinks:\n  - dir:\n      path: /tmp/out\n", new: "",
			key: "sinks", msg: "missing: list at least one of dir, http, sftp"},
		"two kinds in one sink": {old: "      path: /tmp/out\n", new: "      path: /tmp/out\n    http:\n      url: https://rec.example/\n",
			key: "sinks[0]", line: 14, msg: "needs exactly one of dir, http, sftp, has 2"},
		"http url missing": {old: "  - dir:\n      path: /tmp/out\n", new: "  - http:\n      method: PUT\n",
			key: "sinks[0].http.url", line: 14, msg: "missing"},
		"credentials over http": {old: "  - dir:\n      path: /tmp/out\n", new: "  - http:\n      url: http://rec.example/\n      token: t\n",
			key: "sinks[0].http.url", line: 15, msg: "sends credentials in clear text: use https"},
		"unset variable": {old: "  - dir:\n      path: /tmp/out\n", new: "  - http:\n      url: https://rec.example/\n      username: u\n      password: ${NOPE}\n",
			key: "sinks[0].http.password", line: 17, msg: "environment variable NOPE is not set"},
		"missing ca file": {old: "  - dir:\n      path: /tmp/out\n", new: "  - http:\n      url: https://rec.example/\n      ca_file: /nonexistent/ca.pem\n",
			key: "sinks[0].http.ca_file", line: 16, msg: "no such file or directory"},
		"sftp without known_hosts": {old: "  - dir:\n      path: /tmp/out\n", new: "  - sftp:\n      addr: sftp.example\n      user: rec\n      password: pw\n",
			key: "sinks[0].sftp.known_hosts", line: 14, msg: "missing: host-key checking is required"},
		"sftp without auth": {old: "  - dir:\n      path: /tmp/out\n", new: "  - sftp:\n      addr: sftp.example\n      user: rec\n",
			key: "sinks[0].sftp", line: 14, msg: "needs key_file or password"},
		"bad time zone": {old: "      path: /tmp/out\n", new: "      path: /tmp/out\n      time_zone: Mars/Olympus\n",
			key: "sinks[0].dir.time_zone", line: 16, msg: `"Mars/Olympus" is not a time zone`},
		"guidance mode": {old: "  dir: /tmp/rec\n", new: "  dir: /tmp/rec\n  guidance:\n    mode: loud\n",
			key: "recording.guidance.mode", line: 12, msg: `"loud" is not one of both`},
		"priority source": {new: "priority:\n  sources: [everyone]\n",
			key: "priority.sources[0]", line: 17, msg: `"everyone" is not a network`},
		"unknown key through an alias": {
			old: "  outside:\n    listen: 127.0.0.1:0\n    next_hop: 127.0.0.1:5080\n",
			new: "  x: &side {listen: 127.0.0.1:0, next_hop: 127.0.0.1:1, bogus: 1}\n  outside: *side\n",
			key: "sides.x", line: 6, msg: "unknown key bogus"},
		"duplicate key": {new: "recording:\n  dir: /tmp/other\n",
			key: "recording", line: 16, msg: `mapping key "recording" already defined at line 9`},
		"yaml syntax": {new: "log: [\n",
			line: 16, msg: "did not find expected node content"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			raw := baseConfig + tc.new
			if tc.old != "" {
				require.Contains(t, baseConfig, tc.old)
				raw = strings.Replace(baseConfig, tc.old, tc.new, 1)
			}
			_, problems := parseConfig([]byte(raw), env(tc.env))
			var found *Problem
			for i, p := range problems {
				if p.Key == tc.key && strings.Contains(p.Msg, tc.msg) {
					found = &problems[i]
				}
			}
			require.NotNil(t, found, "no problem %s: …%s… in %v", tc.key, tc.msg, problems)
			if tc.line > 0 {
				assert.Equal(t, tc.line, found.Line, "line of %s", tc.key)
			}
		})
	}
}

func TestLoadConfigError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b2bua.yaml")
	require.NoError(t, os.WriteFile(path, []byte(strings.Replace(baseConfig, "/tmp/out", "''", 1)+"bogus: 1\n"), 0o600))
	_, err := loadConfig(path, env(nil))
	require.ErrorIs(t, err, ErrConfig)
	var ce *ConfigError
	require.True(t, errors.As(err, &ce))
	assert.True(t, ce.Has("sinks[0].dir.path"))
	assert.True(t, ce.Has("bogus"))
	assert.Equal(t, path+":15: sinks[0].dir.path: missing\n"+
		path+":16: bogus: unknown key (valid keys here: capacity, dialplan, instance_id, lines, log, media, metrics, priority, recording, runtime, sides, sinks, spool, timeouts)",
		err.Error())

	_, err = loadConfig(filepath.Join(t.TempDir(), "absent.yaml"), env(nil))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestConfigSecretsFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	key, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	knownHosts := filepath.Join(dir, "known_hosts")
	require.NoError(t, os.WriteFile(knownHosts, []byte("sftp.example "+string(ssh.MarshalAuthorizedKey(key))), 0o600))

	sinks := fmt.Sprintf(`sinks:
  - http:
      url: https://rec.example/
      username: u
      password: pre-${HTTP_PW_SUFFIX}
  - http:
      url: https://rec2.example/
      token: ${TOKEN}
  - sftp:
      addr: sftp.example
      user: rec
      password: from-file
      known_hosts: %s
`, knownHosts)
	raw := strings.Replace(baseConfig, "sinks:\n  - dir:\n      path: /tmp/out\n", sinks, 1)

	tests := map[string]struct {
		env                  map[string]string
		httpPW, token, sftpN string
	}{
		"expanded": {
			env:    map[string]string{"HTTP_PW_SUFFIX": "x", "TOKEN": "tok"},
			httpPW: "pre-x", token: "tok",
		},
		"overridden": {
			env: map[string]string{"HTTP_PW_SUFFIX": "x", "TOKEN": "tok",
				envHTTPPassword: "override", envHTTPToken: "tok2", envSFTPPassword: "sftp-pw"},
			httpPW: "override", token: "tok2",
		},
		"override spares an unset reference": {
			env:    map[string]string{envHTTPPassword: "override", envHTTPToken: "tok2"},
			httpPW: "override", token: "tok2",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, problems := parseConfig([]byte(raw), env(tc.env))
			require.Empty(t, problems)
			require.Len(t, cfg.sinks, 3)
			assert.Equal(t, tc.httpPW, cfg.sinks[0].http.Password)
			assert.Equal(t, tc.token, cfg.sinks[1].http.BearerToken)
			s := cfg.sinks[2].sftp
			assert.Equal(t, "sftp.example:22", s.Addr)
			require.Len(t, s.Auth, 1)
			require.NotNil(t, s.HostKeyCallback)
			require.NoError(t, s.HostKeyCallback("sftp.example:22", &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 22}, key), "known host accepted")
		})
	}
}

// TestConfigSideCredentials: a side's digest credentials reach the
// adapter, the password from the environment when it is set there.
func TestConfigSideCredentials(t *testing.T) {
	raw := strings.Replace(baseConfig, "    next_hop: 127.0.0.1:5080\n",
		"    next_hop: 127.0.0.1:5080\n    username: trunk1\n    password: ${TRUNK_PW}\n", 1)
	cfg, problems := parseConfig([]byte(raw), env(map[string]string{"TRUNK_PW": "from-ref"}))
	require.Empty(t, problems)
	assert.Equal(t, "trunk1", cfg.adapter.Outside.Username)
	assert.Equal(t, "from-ref", cfg.adapter.Outside.Password)
	assert.Empty(t, cfg.adapter.Inside.Password)

	cfg, problems = parseConfig([]byte(raw), env(map[string]string{envOutsidePassword: "override"}))
	require.Empty(t, problems)
	assert.Equal(t, "override", cfg.adapter.Outside.Password)
}

func TestParseSize(t *testing.T) {
	tests := map[string]struct {
		in   string
		want uint64
		bad  bool
	}{
		"bytes":     {in: "1048576", want: 1 << 20},
		"kib":       {in: "16KiB", want: 16 << 10},
		"gib space": {in: "2 GiB", want: 2 << 30},
		"gb":        {in: "2GB", want: 2e9},
		"b":         {in: "512B", want: 512},
		"fraction":  {in: "1.5GiB", bad: true},
		"negative":  {in: "-1", bad: true},
		"overflow":  {in: "99999999999TiB", bad: true},
		"unit only": {in: "MiB", bad: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := newChecker(env(nil))
			got := c.size("k", tc.in)
			if tc.bad {
				require.Len(t, c.problems, 1)
				return
			}
			require.Empty(t, c.problems)
			assert.Equal(t, tc.want, got)
		})
	}
}

// FuzzParseConfig checks that any input yields a configuration or
// problems, never a panic; that every problem says something; that
// problems come in line order; and that the result is deterministic.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(baseConfig))
	f.Add([]byte(baseConfig + "lines:\n  - user: x\n    kind: fixed\n"))
	f.Add([]byte("sides: [1, 2]\n"))
	f.Add([]byte("&a [*a]"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg, problems := parseConfig(raw, env(nil))
		if len(problems) == 0 && cfg == nil {
			t.Fatal("no configuration and no problem")
		}
		last := 0
		for _, p := range problems {
			if p.Msg == "" {
				t.Fatalf("problem without message: %+v", p)
			}
			if p.Line > 0 && p.Line < last {
				t.Fatalf("problems out of line order: %+v", problems)
			}
			last = max(last, p.Line)
		}
		_, again := parseConfig(raw, env(nil))
		if !slices.Equal(problems, again) {
			t.Fatalf("not deterministic:\n%+v\n%+v", problems, again)
		}
	})
}

func BenchmarkParseConfig(b *testing.B) {
	raw, err := os.ReadFile("b2bua.yaml")
	require.NoError(b, err)
	getenv := env(map[string]string{envHTTPPassword: "pw"})
	b.ReportAllocs()
	for b.Loop() {
		if _, problems := parseConfig(raw, getenv); len(problems) > 0 {
			b.Fatal(problems)
		}
	}
}
