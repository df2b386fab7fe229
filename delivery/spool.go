package delivery

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/callrec/callrec/internal/durable"
)

// Spool layout under Config.Dir:
//
//	lock                  flock(2) held by the owning Queue
//	tmp/                  entries being built or torn down; emptied on start
//	queue/<id>/           committed recordings awaiting delivery
//	dead/<id>/            recordings that exhausted their attempts
//
// An entry directory holds audio<ext>, metadata.json, and optionally
// state.json (attempts, last error) and error.txt (dead letters). An entry
// exists in queue/ only once complete: it is built in tmp/, every file and the
// directory are fsynced, and it is renamed into queue/ in one step.
const (
	dirTmp    = "tmp"
	dirQueue  = "queue"
	dirDead   = "dead"
	fileLock  = "lock"
	fileMeta  = "metadata.json"
	fileState = "state.json"
	fileError = "error.txt"
	audioBase = "audio"
)

// writeFile is the part of *os.File the spool writes through; tests replace
// the constructor to inject ENOSPC and friends.
type writeFile interface {
	io.Writer
	Sync() error
	Close() error
}

// fsHooks are the file-system operations tests can replace.
type fsHooks struct {
	create func(name string) (writeFile, error)
	link   func(oldname, newname string) error
}

func defaultHooks() fsHooks {
	return fsHooks{
		create: func(name string) (writeFile, error) {
			return os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
		},
		link: os.Link,
	}
}

// entryState is the mutable part of an entry, rewritten after every failed
// attempt. A missing state.json means a fresh entry.
type entryState struct {
	Attempts     int       `json:"attempts"`
	LastAttempt  time.Time `json:"last_attempt,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
	Requeued     time.Time `json:"requeued,omitzero"`
	DeadLettered time.Time `json:"dead_lettered,omitzero"`
}

// spool is the on-disk half of a Queue. It holds no in-memory state besides
// its configuration; every method is safe for concurrent use on different
// IDs.
type spool struct {
	dir   string
	hooks fsHooks
	lock  io.Closer
}

// newSpool returns a spool rooted at dir without locking or cleaning it, for
// offline tools working beside a running queue.
func newSpool(dir string) *spool {
	return &spool{dir: dir, hooks: defaultHooks()}
}

// openSpool creates the layout under dir, takes its lock and removes
// leftovers of interrupted work from tmp/.
func openSpool(dir string, hooks fsHooks) (*spool, error) {
	s := &spool{dir: dir, hooks: hooks}
	for _, d := range []string{dirTmp, dirQueue, dirDead} {
		if _, err := durable.MkdirAll(dir, d); err != nil {
			return nil, spoolError("create spool", err)
		}
	}
	lock, err := lockFile(s.path(fileLock))
	if err != nil {
		return nil, err
	}
	s.lock = lock
	ents, err := os.ReadDir(s.path(dirTmp))
	if err != nil {
		lock.Close()
		return nil, spoolError("scan tmp", err)
	}
	var errs []error
	for _, e := range ents {
		errs = append(errs, os.RemoveAll(s.path(dirTmp, e.Name())))
	}
	if err := errors.Join(errs...); err != nil {
		lock.Close()
		return nil, spoolError("clean tmp", err)
	}
	return s, nil
}

func (s *spool) close() error {
	if s.lock == nil {
		return nil
	}
	return s.lock.Close()
}

func (s *spool) path(elem ...string) string {
	return filepath.Join(append([]string{s.dir}, elem...)...)
}

// audioPath returns where the audio of a queued entry lives.
func (s *spool) audioPath(md *Metadata) string {
	return s.path(dirQueue, md.ID, audioBase+md.AudioExt)
}

// newID returns a fresh recording ID that sorts by enqueue time.
func newID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return now.UTC().Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(b[:])
}

// put commits rec durably into queue/ and returns its completed metadata.
// On error the caller's file is untouched and nothing is left in queue/.
// srcRemoveErr reports a failure to remove the caller's file after commit,
// which does not undo the commit.
func (s *spool) put(rec Recording, now time.Time) (md Metadata, srcRemoveErr error, err error) {
	md = rec.Metadata.Clone()
	fi, err := checkSource(rec.AudioPath)
	if err != nil {
		return md, nil, err
	}
	if err := completeMetadata(&md, rec.AudioPath, now); err != nil {
		return md, nil, err
	}
	if _, err := os.Lstat(s.path(dirQueue, md.ID)); err == nil {
		return s.putAgain(rec.AudioPath, fi, md)
	}
	if _, err := os.Lstat(s.path(dirDead, md.ID)); err == nil {
		return md, nil, fmt.Errorf("%w: %s is a dead letter", ErrDuplicateID, md.ID)
	}
	md.Enqueued = now.UTC()
	stage, err := s.stage(rec.AudioPath, &md)
	if err != nil {
		return md, nil, err
	}
	if err := s.commit(stage, md.ID); err != nil {
		os.RemoveAll(stage)
		return md, nil, err
	}
	return md, removeSource(rec.AudioPath), nil
}

// checkSource checks that the caller's audio is a regular file.
func checkSource(path string) (os.FileInfo, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: empty audio path", ErrInvalidRecording)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRecording, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrInvalidRecording, path)
	}
	return fi, nil
}

// completeMetadata gives md an ID and an audio extension when the caller
// left them empty, and validates those it set.
func completeMetadata(md *Metadata, audioPath string, now time.Time) error {
	if md.ID == "" {
		md.ID = newID(now)
	} else if err := validateID(md.ID); err != nil {
		return err
	}
	if md.AudioExt == "" {
		md.AudioExt = ".wav"
		if ext := strings.ToLower(filepath.Ext(audioPath)); validateExt(ext) == nil {
			md.AudioExt = ext
		}
		return nil
	}
	return validateExt(md.AudioExt)
}

// stage builds the entry for md in a fresh directory under tmp/: the audio
// from src (its digest and size completing md) and the metadata, every file
// and the directory fsynced. It returns the directory; on error nothing is
// left in tmp/.
func (s *spool) stage(src string, md *Metadata) (string, error) {
	dir := s.path(dirTmp, md.ID+"."+hex.EncodeToString(randBytes(4)))
	if err := os.Mkdir(dir, 0o750); err != nil {
		return "", spoolError("stage "+md.ID, err)
	}
	if err := s.fill(dir, src, md); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// fill writes the entry's files into the staging directory dir.
func (s *spool) fill(dir, src string, md *Metadata) error {
	audio := filepath.Join(dir, audioBase+md.AudioExt)
	sum, size, linked, err := s.stageAudio(src, audio)
	if err != nil {
		return err
	}
	if md.SHA256 != "" && !strings.EqualFold(md.SHA256, sum) {
		return fmt.Errorf("%w: %s has sha256 %s, metadata says %s", ErrChecksumMismatch, src, sum, md.SHA256)
	}
	md.SHA256, md.Size = sum, size
	meta, err := json.Marshal(md)
	if err != nil {
		return fmt.Errorf("%w: encode metadata: %w", ErrInvalidRecording, err)
	}
	// The staging directory is private and emptied on start: the metadata
	// needs no temporary name, and one directory fsync covers both names.
	if err := s.writeNew(filepath.Join(dir, fileMeta), meta); err != nil {
		return err
	}
	if linked {
		// Only now: the metadata's fsync has committed the link with it
		// (one journal commit on most file systems), and this one then
		// flushes whatever of the caller's data was not yet on disk.
		if err := syncFile(audio); err != nil {
			return spoolError("sync staged audio", err)
		}
	}
	if err := durable.SyncDir(dir); err != nil {
		return spoolError("sync "+dir, err)
	}
	return nil
}

// writeNew creates name, which must not exist, with data and fsyncs it.
func (s *spool) writeNew(name string, data []byte) error {
	f, err := s.hooks.create(name)
	if err != nil {
		return spoolError("write "+filepath.Base(name), err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return spoolError("write "+filepath.Base(name), err)
	}
	return nil
}

// commit renames a staged entry into queue/ in one step and makes the
// rename durable. On error the entry is back at stage (or never left it),
// unless the rename could not be undone: then the entry stays in queue/,
// will be delivered, and commit reports success.
func (s *spool) commit(stage, id string) error {
	if err := os.Rename(stage, s.path(dirQueue, id)); err != nil {
		if errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ENOTEMPTY) {
			return fmt.Errorf("%w: %s", ErrDuplicateID, id)
		}
		return spoolError("commit "+id, err)
	}
	if err := durable.SyncDir(s.path(dirQueue)); err != nil {
		// The rename happened but may not survive a power cut: undo it so
		// that the caller keeps ownership of a file it can retry with.
		if rerr := os.Rename(s.path(dirQueue, id), stage); rerr == nil {
			return spoolError("sync queue", err)
		}
		// Could not undo: the entry is in queue/ and will be delivered.
	}
	return nil
}

// removeSource removes the caller's file once its entry is committed, and
// makes the removal durable.
func removeSource(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return durable.SyncDir(filepath.Dir(path))
}

// putAgain handles an Enqueue of an ID already queued. When the caller's
// file is the queued audio (the same inode, or the same bytes), the earlier
// Enqueue committed but did not get to remove it, as after a crash: the
// file is removed now and the Enqueue succeeds. Anything else is an
// [ErrDuplicateID].
func (s *spool) putAgain(src string, fi os.FileInfo, md Metadata) (Metadata, error, error) {
	queued, _, err := s.load(dirQueue, md.ID)
	if err != nil {
		return md, nil, fmt.Errorf("%w: %s: %w", ErrDuplicateID, md.ID, err)
	}
	same := false
	if qfi, err := os.Stat(s.audioPath(&queued)); err == nil && os.SameFile(fi, qfi) {
		same = true
	} else if fi.Size() == queued.Size {
		sum, err := fileSHA256(src)
		same = err == nil && sum == queued.SHA256
	}
	if !same || (md.SHA256 != "" && !strings.EqualFold(md.SHA256, queued.SHA256)) {
		return md, nil, fmt.Errorf("%w: %s", ErrDuplicateID, md.ID)
	}
	return queued, removeSource(src), nil
}

func fileSHA256(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// syncFile fsyncs the file name.
func syncFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// stageAudio places src at dst, by hard link when src is on the spool's file
// system and by copy otherwise, and returns its digest and size. A copy's
// data is durable on return; a link's (linked) is for the caller to fsync.
// Either way the caller fsyncs the staging directory.
func (s *spool) stageAudio(src, dst string) (sum string, size int64, linked bool, err error) {
	h := sha256.New()
	if s.hooks.link(src, dst) == nil {
		f, err := os.Open(dst)
		if err != nil {
			return "", 0, false, spoolError("open staged audio", err)
		}
		defer f.Close()
		if size, err = io.Copy(h, f); err != nil {
			return "", 0, false, fmt.Errorf("delivery: read %s: %w", src, err)
		}
		return hex.EncodeToString(h.Sum(nil)), size, true, nil
	}
	in, err := os.Open(src)
	if err != nil {
		return "", 0, false, fmt.Errorf("%w: %w", ErrInvalidRecording, err)
	}
	defer in.Close()
	out, err := s.durable().Create(dst, 0o640)
	if err != nil {
		return "", 0, false, spoolError("create staged audio", err)
	}
	defer out.Abort()
	size, err = io.Copy(io.MultiWriter(out, h), in)
	if err == nil {
		err = out.CommitNoSyncDir() // fill fsyncs the directory
	}
	if err != nil {
		return "", 0, false, spoolError("copy audio into spool", err)
	}
	return hex.EncodeToString(h.Sum(nil)), size, false, nil
}

// durable returns the writer of the spool's files: data fsync, rename,
// directory fsync (see internal/durable), through the test hooks.
func (s *spool) durable() durable.Writer {
	return durable.Writer{FS: hookFS{create: s.hooks.create}}
}

// hookFS is the operating system's file system with the spool's create hook.
type hookFS struct {
	durable.OS
	create func(name string) (writeFile, error)
}

func (h hookFS) Create(name string, _ fs.FileMode) (durable.File, error) { return h.create(name) }

// replaceDurable atomically and durably replaces name with data.
func (s *spool) replaceDurable(name string, data []byte) error {
	if err := s.durable().WriteFile(name, data, 0o640); err != nil {
		return spoolError("write "+filepath.Base(name), err)
	}
	return nil
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// load reads a committed entry from dir (dirQueue or dirDead). In dead/ an
// entry's name may carry a suffix after its ID (see bury).
func (s *spool) load(dir, id string) (Metadata, entryState, error) {
	var md Metadata
	var st entryState
	if err := validateID(id); err != nil {
		return md, st, err
	}
	// A missing state file means a fresh entry; one torn by a crash only
	// loses an attempt count.
	if b, err := os.ReadFile(s.path(dir, id, fileState)); err == nil {
		_ = json.Unmarshal(b, &st)
	}
	b, err := os.ReadFile(s.path(dir, id, fileMeta))
	if err != nil {
		return md, st, fmt.Errorf("delivery: entry %s: %w", id, err)
	}
	if err := json.Unmarshal(b, &md); err != nil {
		return md, st, fmt.Errorf("%w: entry %s: metadata: %w", ErrInvalidRecording, id, err)
	}
	if (md.ID != id && dir == dirQueue) || validateID(md.ID) != nil || validateExt(md.AudioExt) != nil {
		return md, st, fmt.Errorf("%w: entry %s: metadata names id %q ext %q", ErrInvalidRecording, id, md.ID, md.AudioExt)
	}
	fi, err := os.Stat(s.path(dir, id, audioBase+md.AudioExt))
	if err != nil {
		return md, st, fmt.Errorf("delivery: entry %s: %w", id, err)
	}
	if fi.Size() != md.Size {
		return md, st, fmt.Errorf("%w: entry %s: audio is %d bytes, metadata says %d", ErrChecksumMismatch, id, fi.Size(), md.Size)
	}
	return md, st, nil
}

// scannedEntry is one entry found by scan, or the reason it is unusable.
type scannedEntry struct {
	id    string
	md    Metadata
	state entryState
	err   error
}

// scan lists the entries of dir (dirQueue or dirDead), oldest first,
// loading only those for which skip (when not nil) returns false.
func (s *spool) scan(dir string, skip func(name string) bool) ([]scannedEntry, error) {
	ents, err := os.ReadDir(s.path(dir))
	if err != nil {
		return nil, spoolError("scan "+dir, err)
	}
	out := make([]scannedEntry, 0, len(ents))
	for _, e := range ents {
		if !e.IsDir() || validateID(e.Name()) != nil {
			continue // not ours: leave foreign files alone
		}
		if skip != nil && skip(e.Name()) {
			continue
		}
		md, st, err := s.load(dir, e.Name())
		out = append(out, scannedEntry{id: e.Name(), md: md, state: st, err: err})
	}
	slices.SortFunc(out, func(a, b scannedEntry) int {
		if c := a.md.Enqueued.Compare(b.md.Enqueued); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return out, nil
}

// saveState records st for a queued entry.
func (s *spool) saveState(id string, st entryState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return s.replaceDurable(s.path(dirQueue, id, fileState), b)
}

// remove deletes a delivered entry: one atomic rename out of queue/, then the
// files. A crash in between leaves debris in tmp/, cleaned on next start.
func (s *spool) remove(id string) error {
	gone := s.path(dirTmp, id+".done."+hex.EncodeToString(randBytes(4)))
	if err := os.Rename(s.path(dirQueue, id), gone); err != nil {
		return spoolError("remove "+id, err)
	}
	if err := durable.SyncDir(s.path(dirQueue)); err != nil {
		return spoolError("sync queue", err)
	}
	return os.RemoveAll(gone)
}

// bury moves a queued entry to dead/ with st and a readable error.txt, and
// returns the ID it has there (suffixed if dead/ already held one).
func (s *spool) bury(id string, st entryState) (string, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	if err := s.replaceDurable(s.path(dirQueue, id, fileState), b); err != nil {
		return "", err
	}
	text := fmt.Sprintf("id: %s\nattempts: %d\nlast attempt: %s\ndead-lettered: %s\nerror: %s\n",
		id, st.Attempts, st.LastAttempt.Format(time.RFC3339Nano), st.DeadLettered.Format(time.RFC3339Nano), st.LastError)
	if err := s.replaceDurable(s.path(dirQueue, id, fileError), []byte(text)); err != nil {
		return "", err
	}
	deadID := id
	for i := 0; ; i++ {
		err = os.Rename(s.path(dirQueue, id), s.path(dirDead, deadID))
		if err == nil || i == 3 || !(errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ENOTEMPTY)) {
			break
		}
		deadID = fmt.Sprintf("%s.%d", id, i+1)
	}
	if err != nil {
		return "", spoolError("dead-letter "+id, err)
	}
	if err := errors.Join(durable.SyncDir(s.path(dirDead)), durable.SyncDir(s.path(dirQueue))); err != nil {
		return deadID, spoolError("sync dead-letter", err)
	}
	return deadID, nil
}

// requeue moves the dead letter named name back into queue/ with its
// attempts reset and returns its metadata and state.
func (s *spool) requeue(name string, now time.Time) (Metadata, entryState, error) {
	md, st, err := s.load(dirDead, name)
	if errors.Is(err, fs.ErrNotExist) {
		return md, st, fmt.Errorf("%w: dead letter %s", ErrNotFound, name)
	}
	if err != nil {
		return md, st, err
	}
	id := md.ID
	if _, err := os.Lstat(s.path(dirQueue, id)); err == nil {
		return md, st, fmt.Errorf("%w: %s is already queued", ErrDuplicateID, id)
	}
	st = entryState{Requeued: now.UTC(), LastError: st.LastError}
	b, err := json.Marshal(st)
	if err != nil {
		return md, st, err
	}
	if err := s.replaceDurable(s.path(dirDead, name, fileState), b); err != nil {
		return md, st, err
	}
	os.Remove(s.path(dirDead, name, fileError))
	if err := os.Rename(s.path(dirDead, name), s.path(dirQueue, id)); err != nil {
		return md, st, spoolError("requeue "+id, err)
	}
	if err := errors.Join(durable.SyncDir(s.path(dirQueue)), durable.SyncDir(s.path(dirDead))); err != nil {
		return md, st, spoolError("sync requeue", err)
	}
	return md, st, nil
}
