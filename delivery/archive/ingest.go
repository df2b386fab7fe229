package archive

import (
	"bufio"
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/delivery/internal/ingest"
	"github.com/callrec/callrec/internal/durable"
)

// Ingest returns the handler that receives [delivery.HTTPSink] uploads: a
// PUT of the audio and then a PUT of its sidecar (the path's extension
// tells which), or one multipart POST with the parts "metadata" and
// "audio". Every request carries the recording ID and the audio's
// SHA-256 in headers. It parses them as delivery/receiver does (one
// implementation of the protocol, delivery/internal/ingest). The audio is hashed while it is written to a staging
// file and acknowledged only when it matches; a redelivery of a recording
// already indexed with the same digest is acknowledged with 200 and not
// stored again. A new recording completes with 201.
func (a *Archive) Ingest() http.Handler { return http.HandlerFunc(a.serveIngest) }

func (a *Archive) serveIngest(w http.ResponseWriter, req *http.Request) {
	created, err := a.ingest(req)
	// Our own failures (disk, database) get 500, which keeps the
	// recording spooled at the sender, which retries.
	ingest.Respond(w, created, err, `Bearer realm="callrec"`)
	a.log.Info("ingest", "method", req.Method, "path", req.URL.Path, "id", req.Header.Get(delivery.HeaderRecordingID), "created", created, "error", err)
}

func (a *Archive) ingest(req *http.Request) (bool, error) {
	if a.cfg.BearerToken != "" &&
		subtle.ConstantTimeCompare([]byte(req.Header.Get("Authorization")), []byte("Bearer "+a.cfg.BearerToken)) != 1 {
		return false, ingest.Refuse(http.StatusUnauthorized, "unauthorized")
	}
	id, sum, err := ingest.Headers(req)
	if err != nil {
		return false, err
	}
	if have, ok, err := a.store.Has(req.Context(), id); err != nil {
		return false, err
	} else if ok {
		if have != sum {
			return false, ingest.Refuse(http.StatusConflict, "recording %s is held with another digest", id)
		}
		return false, nil // a redelivery: acknowledged, not stored twice
	}
	return ingest.Dispatch(req, id, sum, a.cfg.MaxBytes, ingestStore{a})
}

// ingestStore is the archive's side of an upload: the DirSink layout
// and the index.
type ingestStore struct{ a *Archive }

// Audio stages the audio of a PUT until its sidecar arrives.
func (s ingestStore) Audio(_ context.Context, id, sum, ext string, body io.Reader) error {
	return s.a.stageDurable(id, sum, ext, body)
}

// Metadata completes a PUT: the staged audio is filed with its sidecar.
func (s ingestStore) Metadata(ctx context.Context, md delivery.Metadata, _ []byte) (bool, error) {
	staged := s.a.stagedPath(md.ID, md.AudioExt)
	if _, err := os.Stat(staged); errors.Is(err, fs.ErrNotExist) {
		return false, ingest.Refuse(http.StatusConflict, "metadata for %s before its audio", md.ID)
	}
	f, err := s.a.newFiling(md)
	if err != nil {
		return false, err
	}
	f.staged = staged
	return true, s.a.commit(ctx, f)
}

// Multipart files a POST. Its audio is written straight into its date
// directory (under a temporary name), so that filing it is a rename
// within one directory.
func (s ingestStore) Multipart(ctx context.Context, md delivery.Metadata, _ []byte, audio io.Reader) (bool, error) {
	f, err := s.a.newFiling(md)
	if err != nil {
		return false, err
	}
	f.audio, err = s.a.stage(filepath.Join(f.dir, md.BaseName()+md.AudioExt), md.SHA256, audio)
	if err != nil {
		return false, err
	}
	defer f.audio.Abort()
	return true, s.a.commit(ctx, f)
}

func (a *Archive) stagedPath(id, ext string) string {
	return filepath.Join(a.cfg.Dir, incomingDir, id+ext)
}

// stage writes the audio to a temporary file for name while hashing it,
// and returns it, not yet committed, only when the digest matches. The
// caller commits or aborts it: a POST has its data fsynced together with
// its sidecar's (see filing.syncData), a PUT through stageDurable.
func (a *Archive) stage(name, sum string, body io.Reader) (*durable.Pending, error) {
	p, err := durable.Create(name, 0o600)
	if err != nil {
		return nil, err
	}
	// A multipart part is read a few kB at a time: the buffer makes that
	// one write(2) per 64 kB instead of one per read.
	bw, _ := a.writers.Get().(*bufio.Writer)
	if bw == nil {
		bw = bufio.NewWriterSize(p, 64<<10)
	}
	bw.Reset(p)
	defer a.writers.Put(bw)
	if err := ingest.Copy(bw, body, sum); err != nil {
		p.Abort()
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		p.Abort()
		return nil, err
	}
	return p, nil
}

// stageDurable stages the audio of a PUT, which is acknowledged before its
// sidecar arrives, so the staged name is made durable too: the data is
// fsynced by each request, the staging directory once for the PUTs
// staged at the same time (stageGroup).
func (a *Archive) stageDurable(id, sum, ext string, body io.Reader) error {
	p, err := a.stage(a.stagedPath(id, ext), sum, body)
	if err != nil {
		return err
	}
	defer p.Abort()
	if err := p.Sync(); err != nil {
		return err
	}
	st := &staging{p: p, name: a.stagedPath(id, ext)}
	a.stager.do(st, a.stageGroup)
	return st.err
}

// staging is the audio of a PUT, fsynced, waiting for its name.
type staging struct {
	p    *durable.Pending
	name string
	err  error
}

// stageGroup names the staged audio of a group of PUTs and fsyncs the
// staging directory once for all of them.
func (a *Archive) stageGroup(group []*staging) {
	named := 0
	for _, st := range group {
		if st.err = st.p.CommitTo(st.name); st.err == nil {
			named++
		}
	}
	if named == 0 {
		return
	}
	if err := durable.SyncDir(filepath.Join(a.cfg.Dir, incomingDir)); err != nil {
		for _, st := range group {
			if st.err == nil {
				st.err = err
			}
		}
	}
}
