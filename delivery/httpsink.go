package delivery

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Headers sent by [HTTPSink] with every request.
const (
	// HeaderIdempotencyKey carries the recording ID (PUT requests add
	// ".audio" or ".metadata"), so the server can recognise a redelivery.
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderRecordingID carries the recording ID.
	HeaderRecordingID = "Callrec-Recording-Id"
	// HeaderAudioSHA256 carries the hex SHA-256 of the audio.
	HeaderAudioSHA256 = "Callrec-Audio-Sha256"
)

// HTTPSinkConfig configures an [HTTPSink].
type HTTPSinkConfig struct {
	// URL is the customer's endpoint, http or https. Required. With PUT the
	// files go to URL/2026/11/23/<recording-id>.wav and .json (named by ID,
	// which is unique, rather than by Call-ID, so that a server that cannot
	// report a clash never overwrites another recording); with POST every
	// recording is one multipart request to URL.
	URL string
	// Method is http.MethodPut (default) or http.MethodPost.
	Method string
	// TLS configures HTTPS: RootCAs for a private CA, Certificates for a
	// client certificate. See [LoadTLSConfig]. Default: system roots.
	TLS *tls.Config
	// Client, when set, is used instead of a client built from TLS and
	// Timeout; TLS must then be nil.
	Client *http.Client
	// Timeout bounds one request, body included. Default 10m.
	Timeout time.Duration
	// Username and Password, when Username is set, authenticate with HTTP
	// basic authentication.
	Username, Password string
	// BearerToken, when set, is sent as "Authorization: Bearer <token>".
	BearerToken string
	// Header holds extra headers for every request.
	Header http.Header
	// Location is the time zone of the PUT date partition. Default UTC.
	Location *time.Location
	// HealthURL is where [HTTPSink.CheckHealth] sends its request, with the
	// sink's authentication. Default: URL.
	HealthURL string
	// HealthMethod is the health check's method: http.MethodOptions
	// (default), http.MethodHead or http.MethodGet.
	HealthMethod string
	// NoHealthCheck disables the health check: an open circuit then probes
	// with a delivery, after a cool-down that grows to the circuit's MaxOpen.
	NoHealthCheck bool
}

// HTTPSink delivers recordings to the customer's HTTP(S) server, streaming
// the audio from the spool without loading it into memory.
//
// With PUT (the default) it sends the audio, then the JSON sidecar, each
// with Content-Length; with POST it sends one multipart/form-data request
// whose "metadata" part (application/json) precedes its "audio" part. Every
// request carries the recording ID ([HeaderIdempotencyKey],
// [HeaderRecordingID]) and the audio's digest ([HeaderAudioSHA256]).
//
// A 2xx answer is success. Connection errors, timeouts, 408, 425, 429 and
// 5xx are retryable, honouring Retry-After. Only what the server rejects
// about this recording is permanent (400, 409, 411, 413, 414, 415, 422);
// every other status (401, 403, 404, …) and a TLS or DNS failure are
// destination failures ([ErrDestination]): retried, never dead-lettered.
// While the queue's circuit is open, [HTTPSink.CheckHealth] tells it when
// the server is back. HTTPSink is safe for concurrent use.
type HTTPSink struct {
	cfg    HTTPSinkConfig
	base   *url.URL
	client *http.Client
	owned  *http.Transport
	once   sync.Once
}

// NewHTTPSink validates cfg and returns an HTTPSink.
func NewHTTPSink(cfg HTTPSinkConfig) (*HTTPSink, error) {
	u, err := url.Parse(cfg.URL)
	switch {
	case cfg.URL == "":
		return nil, configError("HTTPSinkConfig.URL", "empty")
	case err != nil:
		return nil, configError("HTTPSinkConfig.URL", "%v", err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return nil, configError("HTTPSinkConfig.URL", "%q is not an http(s) URL", cfg.URL)
	case cfg.Client != nil && cfg.TLS != nil:
		return nil, configError("HTTPSinkConfig.TLS", "set together with Client")
	case cfg.Username != "" && cfg.BearerToken != "":
		return nil, configError("HTTPSinkConfig.BearerToken", "set together with Username")
	case cfg.Timeout < 0:
		return nil, configError("HTTPSinkConfig.Timeout", "negative %v", cfg.Timeout)
	}
	switch cfg.Method {
	case "":
		cfg.Method = http.MethodPut
	case http.MethodPut, http.MethodPost:
	default:
		return nil, configError("HTTPSinkConfig.Method", "%q is neither PUT nor POST", cfg.Method)
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if err := cfg.checkHealth(); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Minute
	}
	s := &HTTPSink{cfg: cfg, base: u, client: cfg.Client}
	if s.client == nil {
		s.owned = http.DefaultTransport.(*http.Transport).Clone()
		if cfg.TLS != nil {
			s.owned.TLSClientConfig = cfg.TLS.Clone()
		}
		s.client = &http.Client{Transport: s.owned, Timeout: cfg.Timeout}
	}
	return s, nil
}

// LoadTLSConfig returns a TLS client configuration that trusts the PEM CA
// certificates in caFile (the system roots when empty) and presents the PEM
// client certificate and key in certFile and keyFile (none when empty).
func LoadTLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("delivery: read CA: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: no PEM certificate in %s", ErrInvalidConfig, caFile)
		}
	}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("delivery: load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Close closes idle connections of the transport the sink built. It is safe
// to call more than once.
func (s *HTTPSink) Close() error {
	s.once.Do(func() {
		if s.owned != nil {
			s.owned.CloseIdleConnections()
		}
	})
	return nil
}

// Deliver sends item to the server.
func (s *HTTPSink) Deliver(ctx context.Context, item Item) error {
	meta, err := item.MetadataJSON()
	if err != nil {
		return Permanent(err)
	}
	if s.cfg.Method == http.MethodPost {
		return s.post(ctx, item, meta)
	}
	md := item.Metadata
	base := md.ID
	dir := s.base.JoinPath(md.DatePath(s.cfg.Location))
	audioURL := dir.JoinPath(base + md.AudioExt).String()
	err = s.send(ctx, audioURL, md, ".audio", audioContentType(md.AudioExt), md.Size, item.OpenVerified)
	if err != nil {
		return err
	}
	return s.send(ctx, dir.JoinPath(base+".json").String(), md, ".metadata", "application/json", int64(len(meta)),
		func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(meta)), nil })
}

// send PUTs one body of known length.
func (s *HTTPSink) send(ctx context.Context, target string, md Metadata, keySuffix, contentType string, size int64, open func() (io.ReadCloser, error)) error {
	body, err := open()
	if err != nil {
		return Retryable(fmt.Errorf("http sink: open audio: %w", err), 0)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, target, body)
	if err != nil {
		body.Close()
		return Permanent(fmt.Errorf("http sink: %w", err))
	}
	req.ContentLength = size
	req.GetBody = open
	req.Header.Set("Content-Type", contentType)
	s.setHeaders(req, md, keySuffix)
	return s.do(req)
}

// post sends one multipart request, streamed through a pipe.
func (s *HTTPSink) post(ctx context.Context, item Item, meta []byte) error {
	md := item.Metadata
	audio, err := item.OpenVerified()
	if err != nil {
		return Retryable(fmt.Errorf("http sink: open audio: %w", err), 0)
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer audio.Close()
		pw.CloseWithError(writeMultipart(mw, md, meta, audio))
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base.String(), pr)
	if err == nil {
		req.Header.Set("Content-Type", mw.FormDataContentType())
		s.setHeaders(req, md, "")
		err = s.do(req)
	} else {
		err = Permanent(fmt.Errorf("http sink: %w", err))
	}
	pr.CloseWithError(errors.New("http sink: request ended"))
	<-done
	return err
}

// writeMultipart writes the metadata and audio parts and closes the form.
func writeMultipart(mw *multipart.Writer, md Metadata, meta []byte, audio io.Reader) error {
	base := md.BaseName()
	part := func(field, file, contentType string) (io.Writer, error) {
		h := make(textproto.MIMEHeader)
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, field, file))
		h.Set("Content-Type", contentType)
		return mw.CreatePart(h)
	}
	w, err := part("metadata", base+".json", "application/json")
	if err == nil {
		_, err = w.Write(meta)
	}
	if err == nil {
		w, err = part("audio", base+md.AudioExt, audioContentType(md.AudioExt))
	}
	if err == nil {
		_, err = io.Copy(w, audio)
	}
	if err == nil {
		err = mw.Close()
	}
	return err
}

func (s *HTTPSink) setHeaders(req *http.Request, md Metadata, keySuffix string) {
	s.setAuth(req)
	req.Header.Set(HeaderIdempotencyKey, md.ID+keySuffix)
	req.Header.Set(HeaderRecordingID, md.ID)
	req.Header.Set(HeaderAudioSHA256, md.SHA256)
}

// setAuth adds the configured extra headers and authentication.
func (s *HTTPSink) setAuth(req *http.Request) {
	for k, vs := range s.cfg.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	switch {
	case s.cfg.Username != "":
		req.SetBasicAuth(s.cfg.Username, s.cfg.Password)
	case s.cfg.BearerToken != "":
		req.Header.Set("Authorization", "Bearer "+s.cfg.BearerToken)
	}
}

// HTTPError is a non-2xx answer from the server.
type HTTPError struct {
	// StatusCode is the HTTP status code.
	StatusCode int
	// Body is the start of the response body, for the logs.
	Body string
}

// Error returns the status and the start of the body.
func (e *HTTPError) Error() string {
	msg := "http sink: server answered " + strconv.Itoa(e.StatusCode) + " " + http.StatusText(e.StatusCode)
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// do sends req and classifies the outcome.
func (s *HTTPSink) do(req *http.Request) error {
	resp, err := s.client.Do(req)
	if err != nil {
		if IsPermanent(err) { // the spooled audio failed verification
			return Permanent(fmt.Errorf("http sink: %w", err))
		}
		if destinationTransportError(err) {
			return Destination(fmt.Errorf("http sink: %w", err), 0)
		}
		return Retryable(fmt.Errorf("http sink: %w", err), 0)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	herr := &HTTPError{StatusCode: resp.StatusCode, Body: strings.TrimSpace(string(snippet))}
	return classifyStatus(herr, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()))
}

// parseRetryAfter reads a Retry-After value, delay-seconds or HTTP-date,
// relative to now; zero when absent or malformed.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), 24*time.Hour)
	}
	return 0
}

func audioContentType(ext string) string {
	switch strings.ToLower(ext) {
	case ".wav":
		return "audio/wav"
	case ".mp3":
		return "audio/mpeg"
	case ".ogg", ".opus":
		return "audio/ogg"
	}
	return "application/octet-stream"
}
