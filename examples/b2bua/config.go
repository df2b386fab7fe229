package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/dialplan"
	"github.com/callrec/callrec/guidance"
	"github.com/callrec/callrec/internal/configfile"
	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/sipadapter"
	"go.yaml.in/yaml/v3"
)

// fileConfig is the YAML configuration file. Durations, sizes and
// addresses are strings here and are parsed by [fileConfig.check], so that
// every problem is reported with its key. README.md documents each key.
type fileConfig struct {
	Sides     fileSides     `yaml:"sides"`
	Media     fileMedia     `yaml:"media"`
	Dialplan  fileDialplan  `yaml:"dialplan"`
	Recording fileRecording `yaml:"recording"`
	Lines     []fileLine    `yaml:"lines"`
	Spool     fileSpool     `yaml:"spool"`
	Sinks     []fileSink    `yaml:"sinks"`
	Capacity  fileCapacity  `yaml:"capacity"`
	Priority  filePriority  `yaml:"priority"`
	Timeouts  fileTimeouts  `yaml:"timeouts"`
	Log       fileLog       `yaml:"log"`
	Metrics   fileMetrics   `yaml:"metrics"`
	Runtime   fileRuntime   `yaml:"runtime"`
	// InstanceID names this instance in recording IDs and delivered file
	// names (see instance.go).
	InstanceID string `yaml:"instance_id"`
}

type fileSides struct {
	Inside  fileSide `yaml:"inside"`
	Outside fileSide `yaml:"outside"`
}

type fileSide struct {
	Listen    string   `yaml:"listen"`
	NextHop   string   `yaml:"next_hop"`
	Transport string   `yaml:"transport"`
	Networks  []string `yaml:"networks"`
	// Username and Password answer the next hop's digest challenge.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// Trusted are the sources whose History-Info, Diversion and roaming
	// headers are believed (default: networks).
	Trusted []string `yaml:"trusted"`
	// NAT latches media to the first source within a learning window
	// instead of accepting only the SDP address (see sipadapter.SideConfig).
	NAT bool `yaml:"nat"`
}

type fileMedia struct {
	Address      string `yaml:"address"`
	PortMin      int    `yaml:"port_min"`
	PortMax      int    `yaml:"port_max"`
	JitterWindow string `yaml:"jitter_window"`
}

type fileDialplan struct {
	MobilePrefix     string   `yaml:"mobile_prefix"`
	FixedPrefix      string   `yaml:"fixed_prefix"`
	ExtensionPattern string   `yaml:"extension_pattern"`
	CompanyNumbers   []string `yaml:"company_numbers"`
	// IncomingExtensions and IncomingExtensionPattern name the extensions
	// whose incoming calls are recorded.
	IncomingExtensions       []string `yaml:"incoming_extensions"`
	IncomingExtensionPattern string   `yaml:"incoming_extension_pattern"`
}

type fileRecording struct {
	Dir          string       `yaml:"dir"`
	Announcement int          `yaml:"announcement"`
	Channels     string       `yaml:"channels"`
	Guidance     fileGuidance `yaml:"guidance"`
}

type fileGuidance struct {
	Mode    string         `yaml:"mode"`
	Carrier string         `yaml:"carrier"`
	Prompts map[int]string `yaml:"prompts"`
}

type fileLine struct {
	User         string `yaml:"user"`
	Source       string `yaml:"source"`
	Kind         string `yaml:"kind"`
	Number       string `yaml:"number"`
	Announcement int    `yaml:"announcement"`
	Channels     string `yaml:"channels"`
	Priority     bool   `yaml:"priority"`
	// Record is prefix (default), all or on-demand.
	Record string `yaml:"record"`
}

type fileSpool struct {
	Dir             string      `yaml:"dir"`
	Workers         int         `yaml:"workers"`
	AttemptTimeout  string      `yaml:"attempt_timeout"`
	RescanInterval  string      `yaml:"rescan_interval"`
	ShutdownTimeout string      `yaml:"shutdown_timeout"`
	Retry           fileRetry   `yaml:"retry"`
	Circuit         fileCircuit `yaml:"circuit"`
}

type fileRetry struct {
	Base        string `yaml:"base"`
	Cap         string `yaml:"cap"`
	MaxAttempts int    `yaml:"max_attempts"`
	MaxAge      string `yaml:"max_age"`
}

type fileCircuit struct {
	Threshold int    `yaml:"threshold"`
	MinOpen   string `yaml:"min_open"`
	MaxOpen   string `yaml:"max_open"`
	// HealthInterval paces the sinks' health checks while the circuit is
	// open; "off" disables them.
	HealthInterval string `yaml:"health_interval"`
}

// fileSink is one delivery destination; exactly one field is set.
type fileSink struct {
	Dir  *fileDirSink  `yaml:"dir"`
	HTTP *fileHTTPSink `yaml:"http"`
	SFTP *fileSFTPSink `yaml:"sftp"`
}

type fileDirSink struct {
	Path     string `yaml:"path"`
	TimeZone string `yaml:"time_zone"`
}

type fileHTTPSink struct {
	URL      string            `yaml:"url"`
	Method   string            `yaml:"method"`
	Username string            `yaml:"username"`
	Password string            `yaml:"password"`
	Token    string            `yaml:"token"`
	CAFile   string            `yaml:"ca_file"`
	CertFile string            `yaml:"cert_file"`
	KeyFile  string            `yaml:"key_file"`
	Timeout  string            `yaml:"timeout"`
	Headers  map[string]string `yaml:"headers"`
	TimeZone string            `yaml:"time_zone"`
	// HealthURL and HealthMethod (OPTIONS, HEAD or GET) override the
	// health check sent while the delivery circuit is open.
	HealthURL    string `yaml:"health_url"`
	HealthMethod string `yaml:"health_method"`
}

type fileSFTPSink struct {
	Addr          string `yaml:"addr"`
	User          string `yaml:"user"`
	Password      string `yaml:"password"`
	KeyFile       string `yaml:"key_file"`
	KeyPassphrase string `yaml:"key_passphrase"`
	KnownHosts    string `yaml:"known_hosts"`
	Dir           string `yaml:"dir"`
	DialTimeout   string `yaml:"dial_timeout"`
	TimeZone      string `yaml:"time_zone"`
}

type fileCapacity struct {
	MaxCalls         int    `yaml:"max_calls"`
	MaxRecordedCalls int    `yaml:"max_recorded_calls"`
	MinSpoolFree     string `yaml:"min_spool_free"`
	MaxMessageSize   string `yaml:"max_message_size"`
	RetryAfter       string `yaml:"retry_after"`
	// RecordingReserve is the recording time reserved in the spool per
	// recorded call (default 2m; "off" disables).
	RecordingReserve string `yaml:"recording_reserve"`
	// TCPIdleTimeout closes idle SIP TCP connections (default 5m; "off").
	TCPIdleTimeout string `yaml:"tcp_idle_timeout"`
	// MaxTCPConnections and MaxTCPConnectionsPerSource bound SIP TCP
	// connections per side (defaults 1024 and 64).
	MaxTCPConnections          int `yaml:"max_tcp_connections"`
	MaxTCPConnectionsPerSource int `yaml:"max_tcp_connections_per_source"`
	PriorityReserve            int `yaml:"priority_reserve"`
}

type filePriority struct {
	Callers []string `yaml:"callers"`
	Sources []string `yaml:"sources"`
}

type fileTimeouts struct {
	RTPInactivity   string `yaml:"rtp_inactivity"`
	MaxCallDuration string `yaml:"max_call_duration"`
	Ring            string `yaml:"ring"`
	ShutdownGrace   string `yaml:"shutdown_grace"`
}

type fileLog struct {
	Format string `yaml:"format"`
	Level  string `yaml:"level"`
	CDR    string `yaml:"cdr"`
}

type fileMetrics struct {
	Listen string `yaml:"listen"`
	// Token, when set, enables the on-demand recording endpoints on the
	// listener, for requests with "Authorization: Bearer <token>".
	Token string `yaml:"token"`
	// Pprof serves net/http/pprof under /debug/pprof/ on the metrics
	// listener; off by default.
	Pprof bool `yaml:"pprof"`
}

// Environment variables that override secrets, for every sink of their
// kind. A secret field may also name a variable as ${NAME}.
const (
	envHTTPPassword      = "CALLREC_HTTP_PASSWORD"
	envHTTPToken         = "CALLREC_HTTP_TOKEN"
	envSFTPPassword      = "CALLREC_SFTP_PASSWORD"
	envSFTPKeyPassphrase = "CALLREC_SFTP_KEY_PASSPHRASE"
	envInsidePassword    = "CALLREC_INSIDE_PASSWORD"
	envOutsidePassword   = "CALLREC_OUTSIDE_PASSWORD"
	envManagementToken   = "CALLREC_MANAGEMENT_TOKEN"
)

// Defaults of the example's own settings (the packages document theirs).
const (
	defaultShutdownGrace = 30 * time.Second
	defaultSpoolShutdown = 10 * time.Second
	defaultAnnouncement  = 1
	maxAnnouncementID    = 5
	channelsMono         = "mono"
	channelsStereo       = "stereo"
	cdrStdout            = "-"
	logFormatJSON        = "json"
	logFormatText        = "text"
	transportUDP         = "udp"
	transportTCP         = "tcp"
)

// config is a validated configuration, ready to build the service from.
type config struct {
	// adapter holds every sipadapter setting the file has; run adds Plan,
	// Lines, Delivery, Events, CDR and Logger.
	adapter  sipadapter.Config
	plan     dialplan.Config
	lines    *lineTable
	priority *priorityRules
	guidance guidance.Config
	queue    delivery.Config // without Sink
	sinks    []sinkSpec

	shutdownGrace time.Duration
	spoolShutdown time.Duration
	logFormat     string
	logLevel      slog.Level
	cdr           string
	metricsListen string
	// managementToken enables the recording control endpoints.
	managementToken string
	pprof           bool
	runtime         runtimeSettings
}

// loadConfig reads and validates the file at path. Every problem is
// reported, each with its key and line, in a [*ConfigError].
func loadConfig(path string, getenv func(string) (string, bool)) (*config, error) {
	return configfile.Load(path, func(raw []byte) (*config, error) {
		cfg, problems := parseConfig(raw, getenv)
		if len(problems) > 0 {
			return nil, &ConfigError{Problems: problems}
		}
		return cfg, nil
	})
}

// parseConfig decodes and checks a configuration file's contents.
func parseConfig(raw []byte, getenv func(string) (string, bool)) (*config, []Problem) {
	c := newChecker(getenv)
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		c.yamlError(err)
		return nil, c.problems
	}
	var fc fileConfig
	c.walk(&root, reflect.TypeOf(fc), "")
	if len(root.Content) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true)
		if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
			c.yamlError(err)
			if te := (*yaml.TypeError)(nil); !errors.As(err, &te) {
				// Decoding stopped: checking the rest would only report
				// keys as missing.
				return nil, c.problems
			}
		}
	}
	cfg := fc.check(c)
	sortProblems(c.problems)
	return cfg, c.problems
}

// check validates fc and converts it; problems go to c.
func (fc *fileConfig) check(c *checker) *config {
	cfg := &config{
		shutdownGrace: c.duration("timeouts.shutdown_grace", fc.Timeouts.ShutdownGrace, defaultShutdownGrace),
		spoolShutdown: c.duration("spool.shutdown_timeout", fc.Spool.ShutdownTimeout, defaultSpoolShutdown),
		logFormat:     c.oneOf("log.format", fc.Log.Format, logFormatJSON, logFormatJSON, logFormatText),
		cdr:           fc.Log.CDR,
		metricsListen: fc.Metrics.Listen,
		pprof:         fc.Metrics.Pprof,
		runtime:       fc.Runtime.check(c),
	}
	cfg.managementToken = c.secret("metrics.token", fc.Metrics.Token, envManagementToken)
	if fc.Log.Level != "" {
		if err := cfg.logLevel.UnmarshalText([]byte(fc.Log.Level)); err != nil {
			c.addf("log.level", "%q is not debug, info, warn or error", fc.Log.Level)
		}
	}
	if cfg.metricsListen != "" {
		c.hostPort("metrics.listen", cfg.metricsListen, false, true)
	}
	if cfg.pprof && cfg.metricsListen == "" {
		c.addf("metrics.pprof", "needs metrics.listen to serve on")
	}
	fc.checkSIP(c, cfg)
	cfg.adapter.InstanceID = fc.checkInstanceID(c, os.Hostname, os.Getpid)
	cfg.plan = fc.Dialplan.check(c)
	cfg.lines = fc.checkLines(c)
	cfg.priority = fc.Priority.check(c, cfg.adapter.Inside.Networks)
	cfg.priority.lines = cfg.lines
	cfg.guidance = fc.Recording.Guidance.check(c)
	cfg.queue = fc.Spool.check(c)
	cfg.sinks = checkSinks(c, fc.Sinks)
	return cfg
}

// sortProblems orders problems by line, those without one last.
func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		switch {
		case a.Line == b.Line:
			return 0
		case a.Line == 0:
			return 1
		case b.Line == 0:
			return -1
		}
		return a.Line - b.Line
	})
}

// checkSIP fills the sipadapter settings: sides, media, timeouts and
// capacity.
func (fc *fileConfig) checkSIP(c *checker, cfg *config) {
	a := &cfg.adapter
	a.Inside = fc.Sides.Inside.check(c, "sides.inside", true, envInsidePassword)
	a.Outside = fc.Sides.Outside.check(c, "sides.outside", false, envOutsidePassword)

	m := fc.Media
	if m.Address != "" {
		addr, err := netip.ParseAddr(m.Address)
		switch {
		case err != nil:
			c.addf("media.address", "%q is not an IP address", m.Address)
		case addr.IsUnspecified():
			c.addf("media.address", "%s is unspecified: give the address peers send RTP to", addr)
		}
		a.MediaAddr = addr
	} else if ap, err := netip.ParseAddrPort(a.Inside.Listen); err == nil && ap.Addr().IsUnspecified() {
		c.addf("media.address", "missing: required when sides.inside.listen is %s", ap.Addr())
	}
	for _, p := range []struct {
		key string
		v   int
	}{{"media.port_min", m.PortMin}, {"media.port_max", m.PortMax}} {
		if p.v < 0 || p.v > 65535 {
			c.addf(p.key, "%d is not a port", p.v)
		}
	}
	if m.PortMin > 0 && m.PortMax > 0 && m.PortMax < m.PortMin {
		c.addf("media.port_max", "%d is below media.port_min %d", m.PortMax, m.PortMin)
	}
	a.MediaPortMin, a.MediaPortMax = m.PortMin, m.PortMax
	a.JitterWindow = c.duration("media.jitter_window", m.JitterWindow, 0)
	if a.JitterWindow > recorder.MaxJitterWindow {
		c.addf("media.jitter_window", "%v is above %v", a.JitterWindow, recorder.MaxJitterWindow)
	}

	if fc.Recording.Dir == "" {
		c.addf("recording.dir", "missing")
	}
	a.RecordDir = fc.Recording.Dir

	t := fc.Timeouts
	a.InactivityTimeout = c.durationOrOff("timeouts.rtp_inactivity", t.RTPInactivity)
	a.MaxCallDuration = c.durationOrOff("timeouts.max_call_duration", t.MaxCallDuration)
	a.RingTimeout = c.duration("timeouts.ring", t.Ring, 0)

	k := fc.Capacity
	a.MaxDialogs = c.nonNegative("capacity.max_calls", k.MaxCalls)
	a.MaxRecordedCalls = c.nonNegative("capacity.max_recorded_calls", k.MaxRecordedCalls)
	a.MinSpoolFree = c.size("capacity.min_spool_free", k.MinSpoolFree)
	if n := c.size("capacity.max_message_size", k.MaxMessageSize); n > 1<<20 {
		c.addf("capacity.max_message_size", "%d bytes is more than 1MiB", n)
	} else {
		a.MaxMessageSize = int(n)
	}
	a.RetryAfter = c.duration("capacity.retry_after", k.RetryAfter, 0)
	a.RecordingReserve = c.durationOrOff("capacity.recording_reserve", k.RecordingReserve)
	a.TCP = sipadapter.TCPLimits{
		IdleTimeout:       c.durationOrOff("capacity.tcp_idle_timeout", k.TCPIdleTimeout),
		MaxConns:          c.nonNegative("capacity.max_tcp_connections", k.MaxTCPConnections),
		MaxConnsPerSource: c.nonNegative("capacity.max_tcp_connections_per_source", k.MaxTCPConnectionsPerSource),
	}
	if m, p := a.TCP.MaxConns, a.TCP.MaxConnsPerSource; m > 0 && p > m {
		c.addf("capacity.max_tcp_connections_per_source", "%d is above capacity.max_tcp_connections %d", p, m)
	}
	if k.PriorityReserve < 0 || k.MaxCalls > 0 && k.PriorityReserve >= k.MaxCalls {
		c.addf("capacity.priority_reserve", "%d must be at least 0 and below capacity.max_calls", k.PriorityReserve)
	}
	a.PriorityReserve = k.PriorityReserve
}

func (s fileSide) check(c *checker, key string, inside bool, passwordEnv string) sipadapter.SideConfig {
	c.hostPort(key+".listen", s.Listen, true, true)
	c.hostPort(key+".next_hop", s.NextHop, false, false)
	sc := sipadapter.SideConfig{
		Listen:    s.Listen,
		NextHop:   s.NextHop,
		Transport: c.oneOf(key+".transport", s.Transport, transportUDP, transportUDP, transportTCP),
		Username:  s.Username,
		Password:  c.secret(key+".password", s.Password, passwordEnv),
		NAT:       s.NAT,
	}
	if sc.Password != "" && sc.Username == "" {
		c.addf(key+".username", "missing: the password needs a username")
	}
	for i, n := range s.Networks {
		if p := c.prefix(fmt.Sprintf("%s.networks[%d]", key, i), n); p.IsValid() {
			sc.Networks = append(sc.Networks, p)
		}
	}
	for i, n := range s.Trusted {
		if p := c.prefix(fmt.Sprintf("%s.trusted[%d]", key, i), n); p.IsValid() {
			sc.Trusted = append(sc.Trusted, p)
		}
	}
	if inside && len(s.Networks) == 0 {
		c.addf(key+".networks", "missing: list the PBX's source networks, for example [10.0.0.0/24]")
	}
	return sc
}

func (d fileDialplan) check(c *checker) dialplan.Config {
	pc := dialplan.Config{
		MobilePrefix:     d.MobilePrefix,
		FixedPrefix:      d.FixedPrefix,
		ExtensionPattern: d.ExtensionPattern,
		CompanyNumbers:   d.CompanyNumbers,

		IncomingExtensions:       d.IncomingExtensions,
		IncomingExtensionPattern: d.IncomingExtensionPattern,
	}
	// Try each field alone so that a problem names its key, then the
	// whole, for problems between fields such as overlapping prefixes.
	ok := true
	for _, f := range []struct {
		key string
		cfg dialplan.Config
	}{
		{"dialplan.mobile_prefix", dialplan.Config{MobilePrefix: d.MobilePrefix}},
		{"dialplan.fixed_prefix", dialplan.Config{FixedPrefix: d.FixedPrefix}},
		{"dialplan.extension_pattern", dialplan.Config{ExtensionPattern: d.ExtensionPattern}},
	} {
		if _, err := dialplan.New(f.cfg); err != nil {
			c.addf(f.key, "%v", err)
			ok = false
		}
	}
	for i, n := range d.CompanyNumbers {
		if _, err := dialplan.New(dialplan.Config{CompanyNumbers: []string{n}}); err != nil {
			c.addf(fmt.Sprintf("dialplan.company_numbers[%d]", i), "%v", err)
			ok = false
		}
	}
	if ok {
		if _, err := dialplan.New(pc); err != nil {
			c.addf("dialplan", "%v", err)
		}
	}
	return pc
}

func (g fileGuidance) check(c *checker) guidance.Config {
	gc := guidance.Config{Carrier: g.Carrier}
	switch g.Mode {
	case "", "both":
		gc.Mode = guidance.ModeBoth
	case "caller-only":
		gc.Mode = guidance.ModeCallerOnly
	case "callee-only":
		gc.Mode = guidance.ModeCalleeOnly
	case "off":
		gc.Mode = guidance.ModeOff
	default:
		c.addf("recording.guidance.mode", "%q is not one of both, caller-only, callee-only, off", g.Mode)
	}
	for id, path := range g.Prompts {
		key := fmt.Sprintf("recording.guidance.prompts.%d", id)
		if id < 1 || id > maxAnnouncementID {
			c.addf(key, "announcement %d is not 1–%d", id, maxAnnouncementID)
			continue
		}
		p, err := guidance.LoadPrompt(path)
		if err != nil {
			c.addf(key, "%v", err)
			continue
		}
		if gc.Prompts == nil {
			gc.Prompts = make(map[int]*guidance.Prompt)
		}
		gc.Prompts[id] = p
	}
	// The embedded prompts always load; anything else is tried now so that
	// -check-config finds what the Announcer would refuse.
	if gc.Carrier != "" || len(gc.Prompts) > 0 {
		if _, err := guidance.NewAnnouncer(gc); err != nil {
			c.addf("recording.guidance", "%v", err)
		}
	}
	return gc
}

func (s fileSpool) check(c *checker) delivery.Config {
	if s.Dir == "" {
		c.addf("spool.dir", "missing")
	}
	qc := delivery.Config{
		Dir:            s.Dir,
		Workers:        c.nonNegative("spool.workers", s.Workers),
		AttemptTimeout: c.duration("spool.attempt_timeout", s.AttemptTimeout, 0),
		RescanInterval: c.duration("spool.rescan_interval", s.RescanInterval, 0),
		Backoff: delivery.Backoff{
			Base:        c.duration("spool.retry.base", s.Retry.Base, 0),
			Cap:         c.duration("spool.retry.cap", s.Retry.Cap, 0),
			MaxAttempts: c.nonNegative("spool.retry.max_attempts", s.Retry.MaxAttempts),
			MaxAge:      c.duration("spool.retry.max_age", s.Retry.MaxAge, 0),
		},
		Circuit: delivery.Circuit{
			Threshold: c.nonNegative("spool.circuit.threshold", s.Circuit.Threshold),
			MinOpen:   c.duration("spool.circuit.min_open", s.Circuit.MinOpen, 0),
			MaxOpen:   c.duration("spool.circuit.max_open", s.Circuit.MaxOpen, 0),
		},
	}
	qc.Circuit.HealthInterval = c.durationOrOff("spool.circuit.health_interval", s.Circuit.HealthInterval)
	b := qc.Backoff
	if b.Base > 0 && b.Cap > 0 && b.Cap < b.Base {
		c.addf("spool.retry.cap", "%v is below spool.retry.base %v", b.Cap, b.Base)
	}
	ci := qc.Circuit
	if ci.MinOpen > 0 && ci.MaxOpen > 0 && ci.MaxOpen < ci.MinOpen {
		c.addf("spool.circuit.max_open", "%v is below spool.circuit.min_open %v", ci.MaxOpen, ci.MinOpen)
	}
	return qc
}
