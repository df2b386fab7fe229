package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/callrec/callrec/delivery/archive"
	"github.com/callrec/callrec/internal/configfile"
	"go.yaml.in/yaml/v3"
)

// ErrInvalidConfig is wrapped by every error reporting an unusable configuration
// file; the error is a [*configfile.Error] listing each problem with its key.
var ErrInvalidConfig = configfile.ErrInvalidConfig

// Environment variables that override secrets of the file, so that the
// file itself can be world-readable.
const (
	envAdminPassword = "CALLREC_ARCHIVE_ADMIN_PASSWORD"
	envIngestToken   = "CALLREC_ARCHIVE_INGEST_TOKEN"
)

// fileConfig is the YAML file; README.md documents each key.
type fileConfig struct {
	Listen          string        `yaml:"listen"`
	Dir             string        `yaml:"dir"`
	DB              string        `yaml:"db"`
	Timezone        string        `yaml:"timezone"`
	Language        string        `yaml:"language"`
	TLS             fileTLS       `yaml:"tls"`
	InsecureCookies bool          `yaml:"insecure_cookies"`
	SessionTTL      string        `yaml:"session_ttl"`
	Login           fileLogin     `yaml:"login"`
	Ingest          fileIngest    `yaml:"ingest"`
	Retention       fileRetention `yaml:"retention"`
	Admin           fileAdmin     `yaml:"admin"`
	Log             fileLog       `yaml:"log"`
}

type fileTLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

type fileLogin struct {
	MaxFailures int    `yaml:"max_failures"`
	Window      string `yaml:"window"`
}

type fileIngest struct {
	Token    string `yaml:"token"`
	MaxBytes int64  `yaml:"max_bytes"`
}

type fileRetention struct {
	Interval string `yaml:"interval"`
}

type fileAdmin struct {
	Name     string `yaml:"name"`
	Password string `yaml:"password"`
}

type fileLog struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// config is the checked configuration.
type config struct {
	listen            string
	tlsCert, tlsKey   string
	archive           archive.Config
	web               archive.WebConfig
	retentionInterval time.Duration
	adminName         string
	adminPassword     string
	logLevel          string
	logFormat         string
}

// problems collects what is wrong with a file, each with its key.
type problems []configfile.Problem

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, configfile.Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) duration(key, v string, def time.Duration) time.Duration {
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		p.add(key, "%q is not a positive duration", v)
		return def
	}
	return d
}

// loadConfig reads and checks the file at path.
func loadConfig(path string, getenv func(string) (string, bool)) (*config, error) {
	return configfile.Load(path, func(raw []byte) (*config, error) { return parseConfig(raw, getenv) })
}

// parseConfig decodes and checks a file's contents; unknown keys are
// errors, so that a typo does not silently leave a default.
func parseConfig(raw []byte, getenv func(string) (string, bool)) (*config, error) {
	var fc fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
		return nil, &configfile.Error{Problems: []configfile.Problem{{Msg: err.Error()}}}
	}
	var p problems
	cfg := &config{listen: fc.Listen, tlsCert: fc.TLS.Cert, tlsKey: fc.TLS.Key}
	if cfg.listen == "" {
		cfg.listen = "127.0.0.1:8480"
	}
	host, _, err := net.SplitHostPort(cfg.listen)
	if err != nil {
		p.add("listen", "%q is not host:port", fc.Listen)
	}
	if fc.Dir == "" {
		p.add("dir", "required")
	}
	var loc *time.Location // nil: the archive's default, Asia/Tokyo
	if fc.Timezone != "" {
		if loc, err = time.LoadLocation(fc.Timezone); err != nil {
			p.add("timezone", "%q: %v", fc.Timezone, err)
		}
	}
	switch fc.Language {
	case "", archive.LangJapanese, archive.LangEnglish:
	default:
		p.add("language", "%q is not ja or en", fc.Language)
	}
	if (fc.TLS.Cert == "") != (fc.TLS.Key == "") {
		p.add("tls", "cert and key go together")
	}
	if fc.InsecureCookies {
		if fc.TLS.Cert != "" {
			p.add("insecure_cookies", "pointless with tls")
		} else if !isLoopback(host) {
			// Cookies without Secure over plain HTTP on a network would
			// hand the session to anyone on the path.
			p.add("insecure_cookies", "allowed only on a loopback listen address, not %q", host)
		}
	}
	if fc.Login.MaxFailures < 0 {
		p.add("login.max_failures", "negative")
	}
	if fc.Ingest.MaxBytes < 0 {
		p.add("ingest.max_bytes", "negative")
	}
	token := fc.Ingest.Token
	if v, ok := getenv(envIngestToken); ok {
		token = v
	}
	if token == "" && err == nil && !isLoopback(host) {
		// Anyone who reaches the port could file recordings otherwise.
		p.add("ingest.token", "required (or %s) when listen is not a loopback address", envIngestToken)
	}
	cfg.adminName, cfg.adminPassword = fc.Admin.Name, fc.Admin.Password
	if v, ok := getenv(envAdminPassword); ok {
		cfg.adminPassword = v
	}
	if cfg.adminName == "" && cfg.adminPassword != "" {
		cfg.adminName = "admin"
	}
	if cfg.adminPassword != "" && len([]rune(cfg.adminPassword)) < archive.MinPasswordLength {
		p.add("admin.password", "shorter than %d characters", archive.MinPasswordLength)
	}
	cfg.logLevel = strings.ToLower(fc.Log.Level)
	switch cfg.logLevel {
	case "":
		cfg.logLevel = "info"
	case "debug", "info", "warn", "error":
	default:
		p.add("log.level", "%q is not debug, info, warn or error", fc.Log.Level)
	}
	cfg.logFormat = fc.Log.Format
	switch cfg.logFormat {
	case "":
		cfg.logFormat = "text"
	case "text", "json":
	default:
		p.add("log.format", "%q is not text or json", fc.Log.Format)
	}
	cfg.retentionInterval = p.duration("retention.interval", fc.Retention.Interval, time.Hour)
	cfg.archive = archive.Config{Dir: fc.Dir, DBPath: fc.DB, Location: loc, BearerToken: token, MaxBytes: fc.Ingest.MaxBytes}
	cfg.web = archive.WebConfig{
		InsecureCookies: fc.InsecureCookies,
		SessionTTL:      p.duration("session_ttl", fc.SessionTTL, 0),
		LoginFailures:   fc.Login.MaxFailures,
		LoginWindow:     p.duration("login.window", fc.Login.Window, 0),
		Lang:            fc.Language,
	}
	if len(p) > 0 {
		return nil, &configfile.Error{Problems: p}
	}
	return cfg, nil
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}
