package archive

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/internal/durable"
	"github.com/callrec/callrec/internal/recname"
)

// Ingest returns the handler that receives [delivery.HTTPSink] uploads: a
// PUT of the audio and then a PUT of its sidecar (the path's extension
// tells which), or one multipart POST with the parts "metadata" and
// "audio". Every request carries the recording ID and the audio's
// SHA-256 in headers. The audio is hashed while it is written to a staging
// file and acknowledged only when it matches; a redelivery of a recording
// already indexed with the same digest is acknowledged with 200 and not
// stored again. A new recording completes with 201.
func (a *Archive) Ingest() http.Handler { return http.HandlerFunc(a.serveIngest) }

type ingestError struct {
	code int
	msg  string
}

func (e *ingestError) Error() string { return e.msg }

func refuse(code int, format string, args ...any) error {
	return &ingestError{code: code, msg: fmt.Sprintf(format, args...)}
}

func (a *Archive) serveIngest(w http.ResponseWriter, req *http.Request) {
	created, err := a.ingest(req)
	var ie *ingestError
	switch {
	case err == nil && created:
		w.WriteHeader(http.StatusCreated)
	case err == nil:
		w.WriteHeader(http.StatusOK)
	case errors.As(err, &ie):
		if ie.code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="callrec"`)
		}
		http.Error(w, ie.msg, ie.code)
	default:
		// Our own failure (disk, database): 500 keeps the recording
		// spooled at the sender, which retries.
		http.Error(w, "archive: internal error", http.StatusInternalServerError)
	}
	a.log.Info("ingest", "method", req.Method, "path", req.URL.Path, "id", req.Header.Get(delivery.HeaderRecordingID), "created", created, "error", err)
}

func (a *Archive) ingest(req *http.Request) (bool, error) {
	if a.cfg.BearerToken != "" &&
		subtle.ConstantTimeCompare([]byte(req.Header.Get("Authorization")), []byte("Bearer "+a.cfg.BearerToken)) != 1 {
		return false, refuse(http.StatusUnauthorized, "unauthorized")
	}
	id := req.Header.Get(delivery.HeaderRecordingID)
	if !recname.ValidID(id) {
		return false, refuse(http.StatusBadRequest, "missing or invalid %s", delivery.HeaderRecordingID)
	}
	sum := strings.ToLower(req.Header.Get(delivery.HeaderAudioSHA256))
	if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
		return false, refuse(http.StatusBadRequest, "missing or invalid %s", delivery.HeaderAudioSHA256)
	}
	if have, ok, err := a.store.Has(req.Context(), id); err != nil {
		return false, err
	} else if ok {
		if have != sum {
			return false, refuse(http.StatusConflict, "recording %s is held with another digest", id)
		}
		return false, nil // a redelivery: acknowledged, not stored twice
	}
	body := http.MaxBytesReader(nil, req.Body, a.cfg.MaxBytes)
	switch req.Method {
	case http.MethodPut:
		name := path.Base(req.URL.Path)
		ext := path.Ext(name)
		if ext == ".json" {
			md, err := readMetadata(body, id, sum)
			if err != nil {
				return false, err
			}
			staged := a.stagedPath(id, md.AudioExt)
			if _, err := os.Stat(staged); errors.Is(err, fs.ErrNotExist) {
				return false, refuse(http.StatusConflict, "metadata for %s before its audio", id)
			}
			f, err := a.newFiling(md)
			if err != nil {
				return false, err
			}
			f.staged = staged
			return true, a.commit(req.Context(), f)
		}
		if !recname.ValidExt(ext) {
			return false, refuse(http.StatusBadRequest, "cannot tell audio from metadata in %q", name)
		}
		return false, a.stageDurable(id, sum, ext, body)
	case http.MethodPost:
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
		md, err := readMetadata(part, id, sum)
		if err != nil {
			return false, err
		}
		part, err = mr.NextPart()
		if err != nil || part.FormName() != "audio" {
			return false, refuse(http.StatusBadRequest, "second part must be audio")
		}
		// The audio is written straight into its date directory (under a
		// temporary name), so that filing it is a rename in one directory.
		f, err := a.newFiling(md)
		if err != nil {
			return false, err
		}
		f.audio, err = a.stage(filepath.Join(f.dir, md.BaseName()+md.AudioExt), sum, part)
		if err != nil {
			return false, err
		}
		defer f.audio.Abort()
		return true, a.commit(req.Context(), f)
	}
	return false, refuse(http.StatusMethodNotAllowed, "method %s not allowed", req.Method)
}

func (a *Archive) stagedPath(id, ext string) string {
	return filepath.Join(a.cfg.Dir, incomingDir, id+ext)
}

// stage writes the audio to a temporary file for name while hashing it,
// and returns it, not yet committed, only when the digest matches. The
// caller commits or aborts it: a POST has its data fsynced with the rest
// of its group (see fileGroup), a PUT through stageDurable.
func (a *Archive) stage(name, sum string, body io.Reader) (*durable.Pending, error) {
	p, err := durable.Create(name, 0o600)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	// A multipart part is read a few kB at a time: the buffer makes that
	// one write(2) per 64 kB instead of one per read.
	bw, _ := a.writers.Get().(*bufio.Writer)
	if bw == nil {
		bw = bufio.NewWriterSize(p, 64<<10)
	}
	bw.Reset(p)
	defer a.writers.Put(bw)
	w := &writeErrWriter{w: io.MultiWriter(bw, h)}
	if _, err := io.Copy(w, body); err != nil {
		p.Abort()
		if w.err == nil {
			return nil, refuse(http.StatusBadRequest, "read audio: %v", err)
		}
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		p.Abort()
		return nil, err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		p.Abort()
		return nil, refuse(http.StatusUnprocessableEntity, "%v: got %s, header says %s", ErrChecksumMismatch, got, sum)
	}
	return p, nil
}

// stageDurable stages the audio of a PUT, which is acknowledged before its
// sidecar arrives, so the staged name is made durable too.
func (a *Archive) stageDurable(id, sum, ext string, body io.Reader) error {
	p, err := a.stage(a.stagedPath(id, ext), sum, body)
	if err != nil {
		return err
	}
	return p.Commit()
}

// writeErrWriter remembers its writer's error, telling a failure of this
// server's disk apart from one reading the client's body.
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

func readMetadata(body io.Reader, id, sum string) (delivery.Metadata, error) {
	var md delivery.Metadata
	raw, err := io.ReadAll(io.LimitReader(body, 1<<20))
	if err != nil {
		return md, refuse(http.StatusBadRequest, "read metadata: %v", err)
	}
	if err := json.Unmarshal(raw, &md); err != nil {
		return md, refuse(http.StatusBadRequest, "decode metadata: %v", err)
	}
	if md.ID != id || !strings.EqualFold(md.SHA256, sum) || !recname.ValidExt(md.AudioExt) {
		return md, refuse(http.StatusUnprocessableEntity, "metadata does not match the headers")
	}
	md.SHA256 = strings.ToLower(md.SHA256)
	return md, nil
}
