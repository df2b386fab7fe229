package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/internal/recname"
)

// Error is an upload refused for good, with the HTTP status to answer
// (a 4xx): the sender does not retry it as it is.
type Error struct {
	// Code is the HTTP status.
	Code int
	// Msg is the reason, sent in the answer's body.
	Msg string
}

func (e *Error) Error() string { return e.Msg }

// Refuse returns an [*Error] with status code and a formatted reason.
func Refuse(code int, format string, args ...any) error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Headers returns the recording ID and the audio's SHA-256 (lower-case
// hex) that req names, refusing with 400 a missing or malformed one.
func Headers(req *http.Request) (id, sum string, err error) {
	id = req.Header.Get(delivery.HeaderRecordingID)
	if !recname.ValidID(id) {
		return "", "", Refuse(http.StatusBadRequest, "missing or invalid %s", delivery.HeaderRecordingID)
	}
	sum = strings.ToLower(req.Header.Get(delivery.HeaderAudioSHA256))
	if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
		return "", "", Refuse(http.StatusBadRequest, "missing or invalid %s", delivery.HeaderAudioSHA256)
	}
	return id, sum, nil
}

// Store keeps what [Dispatch] receives. Its methods return an [*Error]
// to refuse an upload; any other error is the server's own failure.
type Store interface {
	// Audio stores the audio of a PUT (its extension ext), whose sidecar
	// follows in another request. body is unread.
	Audio(ctx context.Context, id, sum, ext string, body io.Reader) error
	// Metadata completes a PUT with its sidecar: md, checked against the
	// headers, and raw, as sent. It reports whether that stored a new
	// recording.
	Metadata(ctx context.Context, md delivery.Metadata, raw []byte) (created bool, err error)
	// Multipart stores a POST: its sidecar, then its audio, unread.
	Multipart(ctx context.Context, md delivery.Metadata, raw []byte, audio io.Reader) (created bool, err error)
}

// Dispatch reads req, an upload whose headers named id and sum, as
// delivery.HTTPSink sends it, reading at most maxBytes of its body, and
// hands its parts to st with req's context.
func Dispatch(req *http.Request, id, sum string, maxBytes int64, st Store) (created bool, err error) {
	body := http.MaxBytesReader(nil, req.Body, maxBytes)
	switch req.Method {
	case http.MethodPut:
		name := path.Base(req.URL.Path)
		ext := path.Ext(name)
		if ext == ".json" {
			md, raw, err := ReadMetadata(body, id, sum)
			if err != nil {
				return false, err
			}
			return st.Metadata(req.Context(), md, raw)
		}
		if !recname.ValidExt(ext) {
			return false, Refuse(http.StatusBadRequest, "cannot tell audio from metadata in %q", name)
		}
		return false, st.Audio(req.Context(), id, sum, ext, body)
	case http.MethodPost:
		if mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); mt != "multipart/form-data" {
			return false, Refuse(http.StatusUnsupportedMediaType, "want multipart/form-data, got %q", mt)
		}
		mr, err := req.MultipartReader()
		if err != nil {
			return false, Refuse(http.StatusBadRequest, "%v", err)
		}
		part, err := mr.NextPart()
		if err != nil || part.FormName() != "metadata" {
			return false, Refuse(http.StatusBadRequest, "first part must be metadata")
		}
		md, raw, err := ReadMetadata(part, id, sum)
		if err != nil {
			return false, err
		}
		part, err = mr.NextPart()
		if err != nil || part.FormName() != "audio" {
			return false, Refuse(http.StatusBadRequest, "second part must be audio")
		}
		return st.Multipart(req.Context(), md, raw, part)
	}
	return false, Refuse(http.StatusMethodNotAllowed, "method %s not allowed", req.Method)
}

// ReadMetadata decodes a sidecar (at most 1 MiB) and checks it against
// the headers' id and sum; it returns it decoded, with its SHA-256 in
// lower case, and as read.
func ReadMetadata(body io.Reader, id, sum string) (delivery.Metadata, []byte, error) {
	var md delivery.Metadata
	raw, err := io.ReadAll(io.LimitReader(body, 1<<20))
	if err != nil {
		return md, nil, Refuse(http.StatusBadRequest, "read metadata: %v", err)
	}
	if err := json.Unmarshal(raw, &md); err != nil {
		return md, nil, Refuse(http.StatusBadRequest, "decode metadata: %v", err)
	}
	if md.ID != id || !strings.EqualFold(md.SHA256, sum) || !recname.ValidExt(md.AudioExt) {
		return md, nil, Refuse(http.StatusUnprocessableEntity, "metadata does not match the headers")
	}
	md.SHA256 = strings.ToLower(md.SHA256)
	return md, raw, nil
}

// Copy copies the audio body to dst while hashing it and returns nil only
// when its SHA-256 is sum. A body that breaks off is the client's failure
// (400) and a digest that differs is refused with 422; a failure to write
// dst (a full disk) is returned as it is, the server's own failure, so
// that the sender keeps the recording and retries rather than taking it
// as refused for good.
func Copy(dst io.Writer, body io.Reader, sum string) error {
	h := sha256.New()
	w := &writeErrWriter{w: dst}
	if _, err := io.Copy(io.MultiWriter(w, h), body); err != nil {
		if w.err != nil {
			return fmt.Errorf("store audio: %w", w.err)
		}
		return Refuse(http.StatusBadRequest, "read audio: %v", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return Refuse(http.StatusUnprocessableEntity, "audio SHA-256 %s does not match the header's %s", got, sum)
	}
	return nil
}

// writeErrWriter remembers its writer's error, telling it apart from an
// error of the reader io.Copy reads.
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

// Respond answers an upload: 201 when it created a recording, 200 when it
// did not (a redelivery, a part awaiting the rest, a health check), the
// status of an [*Error], with challenge as WWW-Authenticate on a 401, and
// 500 for any other error, whose text stays in the server's log.
func Respond(w http.ResponseWriter, created bool, err error, challenge string) {
	var ie *Error
	switch {
	case err == nil && created:
		w.WriteHeader(http.StatusCreated)
	case err == nil:
		w.WriteHeader(http.StatusOK)
	case errors.As(err, &ie):
		if ie.Code == http.StatusUnauthorized && challenge != "" {
			w.Header().Set("WWW-Authenticate", challenge)
		}
		http.Error(w, ie.Msg, ie.Code)
	default:
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}
