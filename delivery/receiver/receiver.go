package receiver

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/callrec/callrec/delivery"
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

// httpError is a refusal with its status.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func refuse(code int, format string, args ...any) error {
	return &httpError{code: code, msg: fmt.Sprintf(format, args...)}
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
	var he *httpError
	switch {
	case err == nil && created:
		w.WriteHeader(http.StatusCreated)
	case err == nil:
		w.WriteHeader(http.StatusOK)
	case errors.As(err, &he):
		r.count(func(s *Stats) { s.Rejected++ })
		if he.code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="callrec"`)
		}
		http.Error(w, he.msg, he.code)
	default:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
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
		return false, refuse(code, "rejecting every request")
	}
	if !r.authorized(req) {
		return false, refuse(http.StatusUnauthorized, "unauthorized")
	}
	if req.Method == http.MethodOptions || req.Method == http.MethodHead {
		// A health check: up, and the credentials are good.
		return false, nil
	}
	id := req.Header.Get(delivery.HeaderRecordingID)
	if !recname.ValidID(id) {
		return false, refuse(http.StatusBadRequest, "missing or invalid %s", delivery.HeaderRecordingID)
	}
	sum := strings.ToLower(req.Header.Get(delivery.HeaderAudioSHA256))
	if len(sum) != sha256.Size*2 {
		return false, refuse(http.StatusBadRequest, "missing or invalid %s", delivery.HeaderAudioSHA256)
	}
	body := http.MaxBytesReader(nil, req.Body, r.cfg.MaxBytes)
	switch req.Method {
	case http.MethodPut:
		name := path.Base(req.URL.Path)
		if ext := path.Ext(name); ext == ".json" {
			return r.putMetadata(id, sum, body)
		} else if recname.ValidExt(ext) {
			return false, r.storeAudio(id, sum, ext, body)
		}
		return false, refuse(http.StatusBadRequest, "cannot tell audio from metadata in %q", name)
	case http.MethodPost:
		return r.post(req, id, sum)
	}
	return false, refuse(http.StatusMethodNotAllowed, "method %s not allowed", req.Method)
}

// putMetadata stores the sidecar of a PUT, which must follow its audio.
func (r *Receiver) putMetadata(id, sum string, body io.Reader) (bool, error) {
	md, raw, err := readMetadata(body, id, sum)
	if err != nil {
		return false, err
	}
	if _, err := os.Stat(r.audioPath(id, md.AudioExt)); err != nil {
		return false, refuse(http.StatusConflict, "metadata for %s before its audio", id)
	}
	return r.storeMetadata(id, raw)
}

// post stores a multipart upload: the metadata part, then the audio part.
func (r *Receiver) post(req *http.Request, id, sum string) (bool, error) {
	if mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); mt != "multipart/form-data" {
		return false, refuse(http.StatusUnsupportedMediaType, "want multipart/form-data, got %q", mt)
	}
	mr, err := req.MultipartReader()
	if err != nil {
		return false, refuse(http.StatusBadRequest, "%v", err)
	}
	part, err := mr.NextPart()
	if err != nil || part.FormName() != "metadata" {
		return false, refuse(http.StatusBadRequest, "first part must be metadata")
	}
	md, raw, err := readMetadata(part, id, sum)
	if err != nil {
		return false, err
	}
	part, err = mr.NextPart()
	if err != nil || part.FormName() != "audio" {
		return false, refuse(http.StatusBadRequest, "second part must be audio")
	}
	if err := r.storeAudio(id, sum, md.AudioExt, part); err != nil {
		return false, err
	}
	return r.storeMetadata(id, raw)
}

// readMetadata decodes a sidecar and checks it against the headers.
func readMetadata(body io.Reader, id, sum string) (delivery.Metadata, []byte, error) {
	var md delivery.Metadata
	raw, err := io.ReadAll(io.LimitReader(body, 1<<20))
	if err != nil {
		return md, nil, refuse(http.StatusBadRequest, "read metadata: %v", err)
	}
	if err := json.Unmarshal(raw, &md); err != nil {
		return md, nil, refuse(http.StatusBadRequest, "decode metadata: %v", err)
	}
	if md.ID != id || !strings.EqualFold(md.SHA256, sum) || !recname.ValidExt(md.AudioExt) {
		return md, nil, refuse(http.StatusUnprocessableEntity, "metadata does not match the headers")
	}
	return md, raw, nil
}

func (r *Receiver) audioPath(id, ext string) string { return filepath.Join(r.cfg.Dir, id+ext) }

// storeAudio writes the audio to a temporary file while hashing it and
// renames it into place only when the digest matches.
func (r *Receiver) storeAudio(id, sum, ext string, body io.Reader) error {
	f, err := durable.Create(r.audioPath(id, ext), 0o600)
	if err != nil {
		return err
	}
	defer f.Abort()
	h := sha256.New()
	if err := copyBody(io.MultiWriter(f, h), body); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return refuse(http.StatusUnprocessableEntity, "audio sha256 %s does not match header %s", got, sum)
	}
	return f.Commit()
}

// copyBody copies an upload's body to dst. A failure to read the body is
// the client's (400); a failure to write is this server's own (a full
// disk: 500, so that the sender keeps the recording and retries rather
// than taking it as refused for good).
func copyBody(dst io.Writer, body io.Reader) error {
	w := &writeErrWriter{w: dst}
	if _, err := io.Copy(w, body); err != nil {
		if w.err != nil {
			return fmt.Errorf("store audio: %w", w.err)
		}
		return refuse(http.StatusBadRequest, "read audio: %v", err)
	}
	return nil
}

// writeErrWriter remembers the error of its writer, telling it apart from
// an error of the reader io.Copy reads.
type writeErrWriter struct {
	w   io.Writer
	err error
}

func (e *writeErrWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
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
