package receiver

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/delivery/internal/ingest"
	"github.com/callrec/callrec/internal/durable"
	"github.com/callrec/callrec/internal/recname"
)

// Errors returned by the receiver.
var (
	// ErrInvalidConfig reports an unusable configuration field; the wrapping
	// error names it.
	ErrInvalidConfig = errors.New("receiver: invalid config")
	// ErrNotFound reports a recording the receiver does not hold.
	ErrNotFound = fmt.Errorf("receiver: recording not found: %w", fs.ErrNotExist)
)

// Config configures a [Receiver]. The zero value of every field but Dir
// means its default.
type Config struct {
	// Dir is where the receiver stores recordings, created if missing.
	// Required.
	Dir string
	// FailRate is the fraction of requests, from 0 to 1, answered with 503
	// before their body is read, to exercise retries.
	FailRate float64
	// DownFor makes the receiver answer every request with 503 for this long
	// after New, to play an outage.
	DownFor time.Duration
	// RetryAfter, when positive, is sent as Retry-After with every 503.
	RetryAfter time.Duration
	// Username and Password, when Username is set, require HTTP basic
	// authentication.
	Username, Password string
	// BearerToken, when set, requires "Authorization: Bearer <token>".
	BearerToken string
	// MaxBytes bounds one upload. Default 2 GiB.
	MaxBytes int64
	// Now is the clock deciding the outage window. Default time.Now.
	Now func() time.Time
	// Rand draws the injected failures. Default: randomly seeded.
	Rand rand.Source
	// Logger receives one line per request. Default: discard.
	Logger *slog.Logger
}

// Stats counts what the receiver did.
type Stats struct {
	// Stored counts recordings stored for the first time: an audio file and
	// its sidecar.
	Stored int
	// Duplicates counts redeliveries of a recording the receiver already
	// held complete.
	Duplicates int
	// Rejected counts requests refused with a 4xx status.
	Rejected int
	// Failed counts requests failed on purpose with 503.
	Failed int
}

// Receiver is an http.Handler playing the customer's receiving equipment.
// It accepts [delivery.HTTPSink] uploads (PUT of the audio and then its
// sidecar, or one multipart POST), checks the audio against the
// Callrec-Audio-Sha256 header, and stores Dir/<id><ext> and Dir/<id>.json,
// each written to a temporary name and renamed, so a redelivery replaces
// rather than duplicates. It is safe for concurrent use.
type Receiver struct {
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	rnd       *rand.Rand
	downUntil time.Time
	// rejectCode is answered to every request until rejectUntil.
	rejectCode  int
	rejectUntil time.Time
	stats       Stats
}

// New returns a Receiver storing into cfg.Dir.
func New(cfg Config) (*Receiver, error) {
	switch {
	case cfg.Dir == "":
		return nil, fmt.Errorf("%w: Dir: empty", ErrInvalidConfig)
	case cfg.FailRate < 0 || cfg.FailRate > 1:
		return nil, fmt.Errorf("%w: FailRate: %v is outside [0, 1]", ErrInvalidConfig, cfg.FailRate)
	case cfg.DownFor < 0:
		return nil, fmt.Errorf("%w: DownFor: negative %v", ErrInvalidConfig, cfg.DownFor)
	case cfg.MaxBytes < 0:
		return nil, fmt.Errorf("%w: MaxBytes: negative %d", ErrInvalidConfig, cfg.MaxBytes)
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = 2 << 30
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.NewPCG(rand.Uint64(), rand.Uint64())
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("receiver: %w", err)
	}
	r := &Receiver{cfg: cfg, log: cfg.Logger.With("component", "receiver"), rnd: rand.New(cfg.Rand)}
	if cfg.DownFor > 0 {
		r.downUntil = cfg.Now().Add(cfg.DownFor)
	}
	return r, nil
}

// SetDown makes the receiver answer 503 until the given time; the zero time
// brings it back at once.
func (r *Receiver) SetDown(until time.Time) {
	r.mu.Lock()
	r.downUntil = until
	r.mu.Unlock()
}

// SetRejecting makes the receiver answer every request, health checks
// included, with code (a 4xx, such as 401 after a password rotation or 404
// after a path change) until the given time; the zero time ends it.
func (r *Receiver) SetRejecting(code int, until time.Time) {
	r.mu.Lock()
	r.rejectCode, r.rejectUntil = code, until
	r.mu.Unlock()
}

// rejecting returns the status to refuse every request with, or zero.
func (r *Receiver) rejecting() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rejectCode != 0 && r.cfg.Now().Before(r.rejectUntil) {
		return r.rejectCode
	}
	return 0
}

// Stats returns a snapshot of the counters.
func (r *Receiver) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// ServeHTTP handles one upload.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r.injectFailure() {
		if r.cfg.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(max(1, r.cfg.RetryAfter.Round(time.Second)/time.Second))))
		}
		http.Error(w, "receiver unavailable", http.StatusServiceUnavailable)
		r.log.Debug("failed on purpose", "method", req.Method, "path", req.URL.Path)
		return
	}
	created, err := r.serve(req)
	if ie := (*ingest.Error)(nil); errors.As(err, &ie) {
		r.count(func(s *Stats) { s.Rejected++ })
	}
	ingest.Respond(w, created, err, `Basic realm="callrec"`)
	r.log.Info("upload", "method", req.Method, "path", req.URL.Path, "id", req.Header.Get(delivery.HeaderRecordingID), "error", err)
}

func (r *Receiver) injectFailure() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	fail := r.cfg.Now().Before(r.downUntil) || (r.cfg.FailRate > 0 && r.rnd.Float64() < r.cfg.FailRate)
	if fail {
		r.stats.Failed++
	}
	return fail
}

func (r *Receiver) count(f func(*Stats)) {
	r.mu.Lock()
	f(&r.stats)
	r.mu.Unlock()
}

func (r *Receiver) authorized(req *http.Request) bool {
	switch {
	case r.cfg.Username != "":
		u, p, ok := req.BasicAuth()
		return ok && subtle.ConstantTimeCompare([]byte(u), []byte(r.cfg.Username)) == 1 &&
			subtle.ConstantTimeCompare([]byte(p), []byte(r.cfg.Password)) == 1
	case r.cfg.BearerToken != "":
		return subtle.ConstantTimeCompare([]byte(req.Header.Get("Authorization")), []byte("Bearer "+r.cfg.BearerToken)) == 1
	}
	return true
}

// serve stores the upload and reports whether it completed a new recording.
func (r *Receiver) serve(req *http.Request) (bool, error) {
	if code := r.rejecting(); code != 0 {
		return false, ingest.Refuse(code, "rejecting every request")
	}
	if !r.authorized(req) {
		return false, ingest.Refuse(http.StatusUnauthorized, "unauthorized")
	}
	if req.Method == http.MethodOptions || req.Method == http.MethodHead {
		// A health check: up, and the credentials are good.
		return false, nil
	}
	id, sum, err := ingest.Headers(req)
	if err != nil {
		return false, err
	}
	return ingest.Dispatch(req, id, sum, r.cfg.MaxBytes, store{r})
}

// store is the receiver's side of an upload: Dir/<id><ext> and
// Dir/<id>.json.
type store struct{ r *Receiver }

// Audio stores the audio of a PUT.
func (s store) Audio(_ context.Context, id, sum, ext string, body io.Reader) error {
	return s.r.storeAudio(id, sum, ext, body)
}

// Metadata stores the sidecar of a PUT, which must follow its audio.
func (s store) Metadata(_ context.Context, md delivery.Metadata, raw []byte) (bool, error) {
	if _, err := os.Stat(s.r.audioPath(md.ID, md.AudioExt)); err != nil {
		return false, ingest.Refuse(http.StatusConflict, "metadata for %s before its audio", md.ID)
	}
	return s.r.storeMetadata(md.ID, raw)
}

// Multipart stores a POST: the audio, then the sidecar completing it.
func (s store) Multipart(_ context.Context, md delivery.Metadata, raw []byte, audio io.Reader) (bool, error) {
	if err := s.r.storeAudio(md.ID, md.SHA256, md.AudioExt, audio); err != nil {
		return false, err
	}
	return s.r.storeMetadata(md.ID, raw)
}

func (r *Receiver) audioPath(id, ext string) string { return filepath.Join(r.cfg.Dir, id+ext) }

// storeAudio writes the audio to a temporary file while checking its
// digest and renames it into place only when it matches.
func (r *Receiver) storeAudio(id, sum, ext string, body io.Reader) error {
	f, err := durable.Create(r.audioPath(id, ext), 0o600)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := ingest.Copy(f, body, sum); err != nil {
		return err
	}
	return f.Commit()
}

// storeMetadata writes the sidecar, completing the recording.
func (r *Receiver) storeMetadata(id string, raw []byte) (bool, error) {
	final := filepath.Join(r.cfg.Dir, id+".json")
	_, statErr := os.Stat(final)
	if err := durable.WriteFile(final, raw, 0o600); err != nil {
		return false, err
	}
	if statErr == nil {
		r.count(func(s *Stats) { s.Duplicates++ })
		return false, nil
	}
	r.count(func(s *Stats) { s.Stored++ })
	return true, nil
}

// IDs returns the IDs of the complete recordings held, sorted.
func (r *Receiver) IDs() ([]string, error) {
	ents, err := os.ReadDir(r.cfg.Dir)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok && recname.ValidID(id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// Load returns the audio and metadata held for id; the error wraps
// [ErrNotFound] when the recording is absent or incomplete.
func (r *Receiver) Load(id string) ([]byte, delivery.Metadata, error) {
	var md delivery.Metadata
	if !recname.ValidID(id) {
		return nil, md, fmt.Errorf("%w: invalid id %q", ErrNotFound, id)
	}
	raw, err := os.ReadFile(filepath.Join(r.cfg.Dir, id+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, md, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, md, err
	}
	if err := json.Unmarshal(raw, &md); err != nil {
		return nil, md, fmt.Errorf("receiver: %s: %w", id, err)
	}
	audio, err := os.ReadFile(r.audioPath(id, md.AudioExt))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, md, fmt.Errorf("%w: audio of %s", ErrNotFound, id)
	}
	return audio, md, err
}
