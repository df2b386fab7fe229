package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// HealthChecker is implemented by a [Sink] that can tell cheaply whether
// its destination accepts deliveries. While a [Queue]'s circuit is open it
// calls CheckHealth every [Circuit].HealthInterval; the first success lets
// the probe delivery through at once, so a destination that comes back is
// in use within one interval and one delivery rather than after a cool-down
// that may have grown to [Circuit].MaxOpen. CheckHealth returns nil when
// the destination is healthy, [ErrNoHealthCheck] when the sink has no
// check (the queue then relies on probe deliveries alone), and otherwise
// the failure. It must be safe for concurrent use with Deliver.
type HealthChecker interface {
	CheckHealth(ctx context.Context) error
}

// permanentStatuses are the HTTP statuses that reject this recording as it
// stands rather than the destination as a whole.
var permanentStatuses = map[int]bool{
	http.StatusBadRequest:            true,
	http.StatusConflict:              true,
	http.StatusLengthRequired:        true,
	http.StatusRequestEntityTooLarge: true,
	http.StatusRequestURITooLong:     true,
	http.StatusUnsupportedMediaType:  true,
	http.StatusUnprocessableEntity:   true,
}

// classifyStatus classifies a non-2xx answer: transient statuses are
// retryable (after the server's Retry-After), statuses about this recording
// permanent, and the rest (401, 403, 404, 405, 407, 410, …) destination
// failures.
func classifyStatus(herr *HTTPError, after time.Duration) error {
	switch c := herr.StatusCode; {
	case c == http.StatusRequestTimeout, c == http.StatusTooEarly, c == http.StatusTooManyRequests, c >= 500:
		return Retryable(herr, after)
	case permanentStatuses[c]:
		return Permanent(herr)
	}
	return Destination(herr, after)
}

// destinationTransportError reports a transport failure that says the
// destination is misconfigured rather than momentarily down: a name that
// does not resolve, or a TLS handshake that fails (unknown authority, wrong
// host name, expired or rejected certificate, protocol mismatch).
func destinationTransportError(err error) bool {
	var (
		dnsErr     *net.DNSError
		verifyErr  *tls.CertificateVerificationError
		alertErr   tls.AlertError
		recordErr  tls.RecordHeaderError
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &dnsErr):
		return !dnsErr.IsTemporary && !dnsErr.IsTimeout
	case errors.As(err, &verifyErr), errors.As(err, &alertErr), errors.As(err, &recordErr),
		errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalidErr):
		return true
	}
	return strings.Contains(err.Error(), "tls: ")
}

func (c *HTTPSinkConfig) checkHealth() error {
	switch c.HealthMethod {
	case "":
		c.HealthMethod = http.MethodOptions
	case http.MethodOptions, http.MethodHead, http.MethodGet:
	default:
		return configError("HTTPSinkConfig.HealthMethod", "%q is not OPTIONS, HEAD or GET", c.HealthMethod)
	}
	if c.HealthURL == "" {
		return nil
	}
	u, err := url.Parse(c.HealthURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return configError("HTTPSinkConfig.HealthURL", "%q is not an http(s) URL", c.HealthURL)
	}
	return nil
}

// CheckHealth sends the configured health request (by default OPTIONS to
// the sink's URL) with the sink's authentication. The destination is
// healthy when it answers 2xx, or 405 or 501 (it is up and took the
// credentials but does not implement the method); a 401, 403, 404, 5xx or
// a transport failure is unhealthy.
func (s *HTTPSink) CheckHealth(ctx context.Context) error {
	if s.cfg.NoHealthCheck {
		return ErrNoHealthCheck
	}
	target := s.cfg.HealthURL
	if target == "" {
		target = s.base.String()
	}
	req, err := http.NewRequestWithContext(ctx, s.cfg.HealthMethod, target, nil)
	if err != nil {
		return fmt.Errorf("http sink: health: %w", err)
	}
	s.setAuth(req)
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("http sink: health: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300, c == http.StatusMethodNotAllowed, c == http.StatusNotImplemented:
		return nil
	}
	return fmt.Errorf("http sink: health: %w", &HTTPError{StatusCode: resp.StatusCode})
}

// CheckHealth connects (or reuses the connection) and checks that the
// remote base directory exists: a refused login, an unknown host key or a
// missing directory is unhealthy.
func (s *SFTPSink) CheckHealth(ctx context.Context) error {
	client, err := s.session(ctx)
	if err != nil {
		return fmt.Errorf("sftp sink: health: %w", err)
	}
	dir := s.cfg.Dir
	if dir == "" {
		dir = "."
	}
	fi, err := client.Stat(dir)
	if err != nil {
		s.drop(client, err)
		return fmt.Errorf("sftp sink: health: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("sftp sink: health: %s is not a directory", dir)
	}
	return nil
}

// CheckHealth checks that the destination directory exists and is a
// directory (an unmounted share, a removed directory are unhealthy).
func (s *DirSink) CheckHealth(context.Context) error {
	fi, err := os.Stat(s.cfg.Dir)
	if err != nil {
		return fmt.Errorf("dir sink: health: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("dir sink: health: %w: %s is not a directory", fs.ErrInvalid, s.cfg.Dir)
	}
	return nil
}
