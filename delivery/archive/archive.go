package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/internal/durable"
	"golang.org/x/crypto/bcrypt"
)

// Config configures an [Archive]. The zero value of every field but Dir
// means its default.
type Config struct {
	// Dir holds the recordings in the DirSink layout
	// (Dir/2026/11/23/<call-id>.wav and .json). Required; created if
	// missing.
	Dir string
	// DBPath is the SQLite index. Default Dir/.archive.db.
	DBPath string
	// Location is the time zone of the date folders and of the dates users
	// type and read. Default Asia/Tokyo.
	Location *time.Location
	// BearerToken, when set, is required from senders on the ingest
	// endpoint ("Authorization: Bearer <token>").
	BearerToken string
	// MaxBytes bounds one upload. Default 2 GiB.
	MaxBytes int64
	// Now is the clock of sessions, audit and retention. Default time.Now.
	Now func() time.Time
	// PasswordCost is the bcrypt cost of stored passwords. Default
	// bcrypt.DefaultCost (10); tests may use bcrypt.MinCost.
	PasswordCost int
	// Logger receives the archive's log lines. Default: discard.
	Logger *slog.Logger
}

// Archive stores delivered recordings as files in the DirSink layout and
// indexes them in SQLite for the web UI. It is safe for concurrent use.
type Archive struct {
	cfg   Config
	log   *slog.Logger
	store *Store
	sink  *delivery.DirSink
	// filer names the files of the recordings delivered at the same time
	// and fsyncs their directory as one group, and indexer writes their
	// rows as one transaction (filing.go).
	filer, indexer group[*filing]
	// stager names the audio of PUTs staged at the same time and fsyncs
	// the staging directory as one group (ingest.go).
	stager group[*staging]
	// writers buffers the writes of staged audio (stage).
	writers sync.Pool
	waves   waveforms
	// dummyHash is compared against when a login names an unknown user,
	// so that such a login costs as much as a wrong password.
	dummyHash []byte
}

// Open opens the archive in cfg.Dir, creating its directory and index.
func Open(ctx context.Context, cfg Config) (*Archive, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("%w: Dir: empty", ErrInvalidConfig)
	}
	if cfg.MaxBytes < 0 {
		return nil, fmt.Errorf("%w: MaxBytes: negative %d", ErrInvalidConfig, cfg.MaxBytes)
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = 2 << 30
	}
	if cfg.Location == nil {
		loc, err := time.LoadLocation("Asia/Tokyo")
		if err != nil {
			loc = time.FixedZone("JST", 9*3600) // no tzdata on this host; Japan has no DST
		}
		cfg.Location = loc
	}
	if cfg.PasswordCost == 0 {
		cfg.PasswordCost = bcrypt.DefaultCost
	}
	if cfg.PasswordCost < bcrypt.MinCost || cfg.PasswordCost > bcrypt.MaxCost {
		return nil, fmt.Errorf("%w: PasswordCost: %d not in %d..%d", ErrInvalidConfig, cfg.PasswordCost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("callrec-archive-no-such-user"), cfg.PasswordCost)
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DBPath == "" {
		cfg.DBPath = filepath.Join(cfg.Dir, ".archive.db")
	}
	sink, err := delivery.NewDirSink(delivery.DirSinkConfig{Dir: cfg.Dir, Location: cfg.Location})
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, incomingDir), 0o750); err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	st, err := OpenStore(ctx, cfg.DBPath)
	if err != nil {
		return nil, err
	}
	return &Archive{cfg: cfg, log: cfg.Logger.With("component", "archive"), store: st, sink: sink, dummyHash: dummy}, nil
}

// Close closes the index.
func (a *Archive) Close() error { return a.store.Close() }

// Store returns the archive's index.
func (a *Archive) Store() *Store { return a.store }

// Location returns the time zone the archive shows dates in.
func (a *Archive) Location() *time.Location { return a.cfg.Location }

// incomingDir holds audio received by PUT until its sidecar completes it.
const incomingDir = ".incoming"

// newFiling starts the filing of md: its date directory exists (durably)
// on return.
func (a *Archive) newFiling(md delivery.Metadata) (*filing, error) {
	datePath := md.DatePath(a.cfg.Location)
	dir, err := durable.MkdirAll(a.cfg.Dir, datePath)
	if err != nil {
		return nil, fmt.Errorf("archive: file %s: %w", md.ID, err)
	}
	return &filing{md: md, datePath: datePath, dir: dir}, nil
}

// commit writes f's sidecar, then files and indexes the recording. The
// steps that can serve many recordings at once, the directory fsync and
// the index transaction, are shared with the recordings delivered at the
// same time (fileGroup, indexGroup); the answer waits for all of them, so
// a 2xx means that the audio and the sidecar, data and names, are on
// stable storage and that the recording is indexed.
func (a *Archive) commit(ctx context.Context, f *filing) error {
	meta, err := delivery.NewItem(f.md, nil).MetadataJSON()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidRecording, err)
	}
	side, err := durable.Create(filepath.Join(f.dir, f.md.BaseName()+".json"), 0o600)
	if err != nil {
		return fmt.Errorf("archive: file %s: %w", f.md.ID, err)
	}
	defer side.Abort()
	if _, err := side.Write(meta); err != nil {
		return fmt.Errorf("archive: file %s: %w", f.md.ID, err)
	}
	f.side = side
	if err := f.syncData(); err != nil {
		return fmt.Errorf("archive: file %s: %w", f.md.ID, err)
	}
	a.filer.do(f, a.fileGroup)
	if f.err != nil {
		if f.staged != "" {
			if _, serr := os.Stat(f.staged); serr == nil {
				os.Remove(f.staged)
			}
		}
		return f.err
	}
	// The transaction serves other requests too: it must not fail because
	// this one's client went away.
	ctx = context.WithoutCancel(ctx)
	a.indexer.do(f, func(group []*filing) { a.indexGroup(ctx, group) })
	return f.err
}

// locate returns where DirSink stored md's audio, relative to Dir: the
// Call-ID name, or <name>~<id> when another recording holds that name.
func (a *Archive) locate(md delivery.Metadata) (string, error) {
	dir := md.DatePath(a.cfg.Location)
	for _, base := range []string{md.BaseName(), md.BaseName() + "~" + md.ID} {
		raw, err := os.ReadFile(filepath.Join(a.cfg.Dir, filepath.FromSlash(dir), base+".json"))
		if err != nil {
			continue
		}
		var other struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(raw, &other) == nil && other.ID == md.ID {
			return path.Join(dir, base+md.AudioExt), nil
		}
	}
	return "", fmt.Errorf("archive: %s: stored files not found", md.ID)
}

// AudioFile returns the absolute path of r's audio.
func (a *Archive) AudioFile(r Recording) string {
	return filepath.Join(a.cfg.Dir, filepath.FromSlash(r.AudioPath))
}

// Verify hashes r's audio and compares it with the recorded digest; on a
// match it records the time of the check.
func (a *Archive) Verify(ctx context.Context, r Recording) error {
	f, err := os.Open(a.AudioFile(r))
	if err != nil {
		return fmt.Errorf("archive: verify %s: %w", r.ID, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("archive: verify %s: %w", r.ID, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, r.SHA256) {
		return fmt.Errorf("%w: %s is %s, sidecar says %s", ErrChecksumMismatch, r.ID, got, r.SHA256)
	}
	return a.store.SetVerified(ctx, r.ID, a.cfg.Now())
}
