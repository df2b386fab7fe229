package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/callrec/callrec/delivery"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sinkSpec is one validated delivery destination; exactly one of its
// configurations is set.
type sinkSpec struct {
	name string // for logs and errors: "dir /srv/rec", "https://…", "sftp host:22"
	dir  *delivery.DirSinkConfig
	http *delivery.HTTPSinkConfig
	sftp *delivery.SFTPSinkConfig
}

// buildSink returns the sink recordings are delivered to: the only one, or
// a [fanout] when several are configured, and a function that closes them.
func buildSink(specs []sinkSpec) (delivery.Sink, func() error, error) {
	var (
		sinks   []namedSink
		closers []io.Closer
	)
	closeAll := func() error {
		var errs []error
		for _, c := range closers {
			errs = append(errs, c.Close())
		}
		return errors.Join(errs...)
	}
	for _, s := range specs {
		var (
			sink delivery.Sink
			err  error
		)
		switch {
		case s.dir != nil:
			sink, err = delivery.NewDirSink(*s.dir)
		case s.http != nil:
			var h *delivery.HTTPSink
			if h, err = delivery.NewHTTPSink(*s.http); err == nil {
				sink = h
				closers = append(closers, h)
			}
		case s.sftp != nil:
			var f *delivery.SFTPSink
			if f, err = delivery.NewSFTPSink(*s.sftp); err == nil {
				sink = f
				closers = append(closers, f)
			}
		}
		if err != nil {
			return nil, nil, errors.Join(fmt.Errorf("sink %s: %w", s.name, err), closeAll())
		}
		sinks = append(sinks, namedSink{name: s.name, sink: sink})
	}
	if len(sinks) == 1 {
		return sinks[0].sink, closeAll, nil
	}
	return fanout(sinks), closeAll, nil
}

type namedSink struct {
	name string
	sink delivery.Sink
}

// fanout delivers every recording to each of its sinks in turn; a
// recording counts as delivered once all of them hold it. A failure stops
// the round and keeps its classification, so the queue retries (or
// dead-letters) the recording as a whole; sinks that already took it take
// it again, which [delivery.Sink]'s idempotence makes harmless.
type fanout []namedSink

// Deliver hands item to every sink in order.
func (f fanout) Deliver(ctx context.Context, item delivery.Item) error {
	for _, s := range f {
		if err := s.sink.Deliver(ctx, item); err != nil {
			return fmt.Errorf("sink %s: %w", s.name, err)
		}
	}
	return nil
}

// checkSinks validates the sinks, reading the files they name (CA and
// client certificates, SSH keys, known_hosts) so that -check-config finds
// a missing or unreadable one.
func checkSinks(c *checker, sinks []fileSink) []sinkSpec {
	if len(sinks) == 0 {
		c.addf("sinks", "missing: list at least one of dir, http, sftp")
	}
	var specs []sinkSpec
	for i, s := range sinks {
		key := fmt.Sprintf("sinks[%d]", i)
		n := 0
		for _, set := range []bool{s.Dir != nil, s.HTTP != nil, s.SFTP != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			c.addf(key, "needs exactly one of dir, http, sftp, has %d", n)
			continue
		}
		var spec sinkSpec
		switch {
		case s.Dir != nil:
			spec = s.Dir.check(c, key+".dir")
		case s.HTTP != nil:
			spec = s.HTTP.check(c, key+".http")
		default:
			spec = s.SFTP.check(c, key+".sftp")
		}
		specs = append(specs, spec)
	}
	return specs
}

func timeZone(c *checker, key, name string) *time.Location {
	if name == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		c.addf(key, "%q is not a time zone such as Asia/Tokyo: %v", name, err)
		return time.UTC
	}
	return loc
}

func (d *fileDirSink) check(c *checker, key string) sinkSpec {
	if d.Path == "" {
		c.addf(key+".path", "missing")
	}
	return sinkSpec{
		name: "dir " + d.Path,
		dir:  &delivery.DirSinkConfig{Dir: d.Path, Location: timeZone(c, key+".time_zone", d.TimeZone)},
	}
}

// readable reports a problem at key when path cannot be opened.
func readable(c *checker, key, path string) bool {
	f, err := os.Open(path)
	if err != nil {
		c.addf(key, "%v", err)
		return false
	}
	_ = f.Close()
	return true
}

func (h *fileHTTPSink) check(c *checker, key string) sinkSpec {
	// The overrides go where they fit: the password to a sink with a
	// username (basic authentication), the token to one without.
	pwEnv, tokenEnv := envHTTPPassword, ""
	if h.Username == "" {
		pwEnv, tokenEnv = "", envHTTPToken
	}
	hc := &delivery.HTTPSinkConfig{
		URL:         h.URL,
		Method:      strings.ToUpper(h.Method),
		Username:    h.Username,
		Password:    c.secret(key+".password", h.Password, pwEnv),
		BearerToken: c.secret(key+".token", h.Token, tokenEnv),
		Timeout:     c.duration(key+".timeout", h.Timeout, 0),
		Location:    timeZone(c, key+".time_zone", h.TimeZone),
	}
	hc.HealthURL, hc.HealthMethod = h.HealthURL, strings.ToUpper(h.HealthMethod)
	switch hc.HealthMethod {
	case "", http.MethodOptions, http.MethodHead, http.MethodGet:
	default:
		c.addf(key+".health_method", "%q is not OPTIONS, HEAD or GET", h.HealthMethod)
	}
	if hu, err := url.Parse(h.HealthURL); h.HealthURL != "" && (err != nil || (hu.Scheme != "http" && hu.Scheme != "https") || hu.Host == "") {
		c.addf(key+".health_url", "%q is not an http or https URL", h.HealthURL)
	}
	u, err := url.Parse(h.URL)
	switch {
	case h.URL == "":
		c.addf(key+".url", "missing")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		c.addf(key+".url", "%q is not an http or https URL", h.URL)
	case u.User != nil:
		c.addf(key+".url", "has credentials: use username and password")
	case u.Scheme == "http" && (hc.Password != "" || hc.BearerToken != ""):
		c.addf(key+".url", "sends credentials in clear text: use https")
	}
	if hc.Method != "" && hc.Method != http.MethodPut && hc.Method != http.MethodPost {
		c.addf(key+".method", "%q is not PUT or POST", h.Method)
	}
	switch {
	case hc.Username != "" && hc.BearerToken != "":
		c.addf(key+".token", "set together with username: choose basic or bearer authentication")
	case hc.Username == "" && hc.Password != "":
		c.addf(key+".password", "set without username")
	}
	for k, v := range h.Headers {
		if hc.Header == nil {
			hc.Header = make(http.Header)
		}
		hc.Header.Add(k, v)
	}
	if h.CAFile != "" || h.CertFile != "" || h.KeyFile != "" {
		ok := true
		for _, f := range []struct{ key, path string }{{".ca_file", h.CAFile}, {".cert_file", h.CertFile}, {".key_file", h.KeyFile}} {
			if f.path != "" {
				ok = readable(c, key+f.key, f.path) && ok
			}
		}
		if (h.CertFile == "") != (h.KeyFile == "") {
			c.addf(key+".cert_file", "cert_file and key_file go together")
			ok = false
		}
		if ok {
			tc, err := delivery.LoadTLSConfig(h.CAFile, h.CertFile, h.KeyFile)
			if err != nil {
				c.addf(key, "%v", err)
			}
			hc.TLS = tc
		}
	}
	return sinkSpec{name: h.URL, http: hc}
}

func (s *fileSFTPSink) check(c *checker, key string) sinkSpec {
	sc := &delivery.SFTPSinkConfig{
		Addr:        s.Addr,
		User:        s.User,
		Dir:         s.Dir,
		DialTimeout: c.duration(key+".dial_timeout", s.DialTimeout, 0),
		Location:    timeZone(c, key+".time_zone", s.TimeZone),
	}
	if s.Addr != "" {
		if _, _, err := net.SplitHostPort(s.Addr); err != nil {
			sc.Addr = net.JoinHostPort(s.Addr, "22")
		}
	}
	c.hostPort(key+".addr", sc.Addr, false, false)
	if s.User == "" {
		c.addf(key+".user", "missing")
	}
	if pw := c.secret(key+".password", s.Password, envSFTPPassword); pw != "" {
		sc.Auth = append(sc.Auth, ssh.Password(pw))
	}
	if s.KeyFile != "" {
		if signer, err := loadSigner(s.KeyFile, c.secret(key+".key_passphrase", s.KeyPassphrase, envSFTPKeyPassphrase)); err != nil {
			c.addf(key+".key_file", "%v", err)
		} else {
			sc.Auth = append(sc.Auth, ssh.PublicKeys(signer))
		}
	} else if len(sc.Auth) == 0 {
		c.addf(key, "needs key_file or password")
	}
	if s.KnownHosts == "" {
		c.addf(key+".known_hosts", "missing: host-key checking is required (ssh-keyscan HOST >known_hosts, then verify it)")
	} else if cb, err := knownhosts.New(s.KnownHosts); err != nil {
		c.addf(key+".known_hosts", "%v", err)
	} else {
		sc.HostKeyCallback = cb
	}
	return sinkSpec{name: "sftp " + sc.Addr, sftp: sc}
}

func loadSigner(path, passphrase string) (ssh.Signer, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if passphrase != "" {
		return ssh.ParsePrivateKeyWithPassphrase(pem, []byte(passphrase))
	}
	return ssh.ParsePrivateKey(pem)
}

// CheckHealth passes when every sink that has a health check passes it; it
// returns [delivery.ErrNoHealthCheck] when none has one.
func (f fanout) CheckHealth(ctx context.Context) error {
	checked := false
	for _, s := range f {
		hc, ok := s.sink.(delivery.HealthChecker)
		if !ok {
			continue
		}
		err := hc.CheckHealth(ctx)
		if errors.Is(err, delivery.ErrNoHealthCheck) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sink %s: %w", s.name, err)
		}
		checked = true
	}
	if !checked {
		return delivery.ErrNoHealthCheck
	}
	return nil
}
