package archive

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/dialplan"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"
)

// Store is the SQLite index of an archive: one row per recording, its tags,
// and the users, sessions, audit trail and retention rules. The files stay
// the truth; the index can be rebuilt from them with [Archive.Rebuild]. It is
// safe for concurrent use.
type Store struct {
	db *sql.DB
	// The statements of ingest, prepared once: parsing them again for
	// every recording cost more CPU than running them.
	putStmt, hasStmt *sql.Stmt
}

// OpenStore opens (creating if needed) the SQLite database at path and
// migrates it to [SchemaVersion].
func OpenStore(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: DBPath: empty", ErrInvalidConfig)
	}
	// WAL with synchronous=NORMAL: a commit is written to the WAL but not
	// fsynced until the next checkpoint, so a power cut can take back the
	// last commits. No recording is lost that way: its audio and sidecar
	// are fsynced, data and directory, before its row is written and
	// before it is acknowledged (see Archive.file), the files are the
	// truth, and Archive.Rebuild re-indexes them. A row is never durable
	// before its files, which would make a redelivery look already stored.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("archive: open %s: %w", path, err)
	}
	if err := migrate(ctx, db); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	s := &Store{db: db}
	if s.putStmt, err = db.PrepareContext(ctx, putSQL); err != nil {
		return nil, errors.Join(fmt.Errorf("archive: prepare: %w", err), db.Close())
	}
	if s.hasStmt, err = db.PrepareContext(ctx, "SELECT sha256 FROM recordings WHERE id = ?"); err != nil {
		return nil, errors.Join(fmt.Errorf("archive: prepare: %w", err), s.putStmt.Close(), db.Close())
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return errors.Join(s.putStmt.Close(), s.hasStmt.Close(), s.db.Close()) }

// Recording is one indexed recording: its delivered metadata and what the
// archive adds.
type Recording struct {
	delivery.Metadata
	// AudioPath is the audio file's path relative to the archive directory,
	// slash-separated; the sidecar has the same path ending in .json.
	AudioPath string
	// Verified is when the audio's SHA-256 was last checked against the
	// sidecar; zero when it never was.
	Verified time.Time
	// Notes is free text written by the archive's users.
	Notes string
	// Tags label the recording ("dispute", "training example").
	Tags []string
	// Hold is a legal hold: the recording is not deleted while set.
	Hold bool
}

// numbersOf returns the searchable numbers of md, each normalised as the
// dial plan does, between spaces so that a partial match stays inside one
// number.
func numbersOf(md delivery.Metadata) string {
	var b strings.Builder
	b.WriteByte(' ')
	for _, n := range []string{md.Caller, md.Callee, md.Dialled, md.Destination, md.LineNumber} {
		if d := normalizeNumber(n); d != "" {
			b.WriteString(d)
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// normalizeNumber normalises a number or a part of one as the dial plan
// does; what the dial plan refuses (a fragment such as "+81 3") keeps only
// its dial characters.
func normalizeNumber(s string) string {
	if n, err := dialplan.Normalize(s); err == nil {
		return n
	}
	if rest, ok := strings.CutPrefix(strings.TrimSpace(s), "+81"); ok {
		s = "0" + rest
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9', r == '#', r == '*':
			b.WriteRune(r)
		case r >= '０' && r <= '９':
			b.WriteRune('0' + r - '０')
		}
	}
	return b.String()
}

func unixMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

const putSQL = `INSERT INTO recordings (id, audio_path, call_id, direction, caller, callee, dialled,
	destination, line, line_number, numbers, start_ms, guidance_ms, duration_ms, channels,
	announcement_id, sha256, size, verified_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
	ON CONFLICT(id) DO UPDATE SET audio_path=excluded.audio_path, call_id=excluded.call_id,
	direction=excluded.direction, caller=excluded.caller, callee=excluded.callee,
	dialled=excluded.dialled, destination=excluded.destination, line=excluded.line,
	line_number=excluded.line_number, numbers=excluded.numbers, start_ms=excluded.start_ms,
	guidance_ms=excluded.guidance_ms, duration_ms=excluded.duration_ms, channels=excluded.channels,
	announcement_id=excluded.announcement_id, sha256=excluded.sha256, size=excluded.size,
	verified_ms=excluded.verified_ms`

func put(ctx context.Context, stmt *sql.Stmt, r Recording) error {
	md := r.Metadata
	_, err := stmt.ExecContext(ctx, md.ID, r.AudioPath, md.CallID, string(md.Direction), md.Caller,
		md.Callee, md.Dialled, md.Destination, md.Line, md.LineNumber, numbersOf(md), unixMS(md.Start),
		unixMS(md.GuidanceStart), md.Duration.Milliseconds(), md.Channels, md.AnnouncementID,
		strings.ToLower(md.SHA256), md.Size, unixMS(r.Verified))
	if err != nil {
		return fmt.Errorf("archive: index %s: %w", md.ID, err)
	}
	return nil
}

// Put indexes r, replacing the row of the same ID but keeping its notes,
// tags and hold.
func (s *Store) Put(ctx context.Context, r Recording) error { return put(ctx, s.putStmt, r) }

// PutBatch indexes many recordings in one transaction.
func (s *Store) PutBatch(ctx context.Context, rs []Recording) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	stmt := tx.StmtContext(ctx, s.putStmt)
	for _, r := range rs {
		if err := put(ctx, stmt, r); err != nil {
			return errors.Join(err, tx.Rollback())
		}
	}
	return tx.Commit()
}

const recordingCols = `id, audio_path, call_id, direction, caller, callee, dialled, destination, line,
	line_number, start_ms, guidance_ms, duration_ms, channels, announcement_id, sha256, size,
	verified_ms, notes, hold`

func scanRecording(sc interface{ Scan(...any) error }) (Recording, error) {
	var r Recording
	var dir string
	var start, guid, dur, ver int64
	err := sc.Scan(&r.ID, &r.AudioPath, &r.CallID, &dir, &r.Caller, &r.Callee, &r.Dialled, &r.Destination,
		&r.Line, &r.LineNumber, &start, &guid, &dur, &r.Channels, &r.AnnouncementID, &r.SHA256, &r.Size,
		&ver, &r.Notes, &r.Hold)
	r.Direction = delivery.Direction(dir)
	r.Start, r.GuidanceStart, r.Verified = fromMS(start), fromMS(guid), fromMS(ver)
	r.Duration = time.Duration(dur) * time.Millisecond
	return r, err
}

// Get returns the recording id with its tags. lines, when not nil, are the
// line numbers the asking user may see: a recording on another line is
// reported as [ErrNotFound], exactly like one that does not exist, so that
// guessing IDs tells nothing.
func (s *Store) Get(ctx context.Context, id string, lines []string) (Recording, error) {
	r, err := scanRecording(s.db.QueryRowContext(ctx, "SELECT "+recordingCols+" FROM recordings WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) || err == nil && lines != nil && !contains(lines, r.LineNumber) {
		return Recording{}, fmt.Errorf("%w: recording %q", ErrNotFound, id)
	}
	if err != nil {
		return Recording{}, fmt.Errorf("archive: get %s: %w", id, err)
	}
	rows, err := s.db.QueryContext(ctx, "SELECT tag FROM tags WHERE recording_id = ? ORDER BY tag", id)
	if err != nil {
		return Recording{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return Recording{}, err
		}
		r.Tags = append(r.Tags, t)
	}
	return r, rows.Err()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Has reports whether id is indexed and the SHA-256 it was indexed with.
func (s *Store) Has(ctx context.Context, id string) (sum string, ok bool, err error) {
	err = s.hasStmt.QueryRowContext(ctx, id).Scan(&sum)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return sum, err == nil, err
}

// Count returns the number of indexed recordings.
func (s *Store) Count(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM recordings").Scan(&n)
	return n, err
}

// SetNotes replaces the notes of recording id.
func (s *Store) SetNotes(ctx context.Context, id, notes string) error {
	return s.update(ctx, id, "UPDATE recordings SET notes = ? WHERE id = ?", notes, id)
}

// SetHold sets or clears the legal hold of recording id.
func (s *Store) SetHold(ctx context.Context, id string, hold bool) error {
	return s.update(ctx, id, "UPDATE recordings SET hold = ? WHERE id = ?", hold, id)
}

// SetVerified records when the audio of id was found to match its digest.
func (s *Store) SetVerified(ctx context.Context, id string, at time.Time) error {
	return s.update(ctx, id, "UPDATE recordings SET verified_ms = ? WHERE id = ?", unixMS(at), id)
}

func (s *Store) update(ctx context.Context, id, q string, args ...any) error {
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("archive: update %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: recording %q", ErrNotFound, id)
	}
	return nil
}

// AddTag labels recording id with tag; RemoveTag takes the label off.
func (s *Store) AddTag(ctx context.Context, id, tag string) error {
	tag = strings.TrimSpace(tag)
	if tag == "" || len(tag) > 64 {
		return fmt.Errorf("%w: tag %q", ErrInvalidQuery, tag)
	}
	_, err := s.db.ExecContext(ctx, "INSERT OR IGNORE INTO tags (recording_id, tag) VALUES (?, ?)", id, tag)
	if err != nil && strings.Contains(err.Error(), "FOREIGN KEY") {
		return fmt.Errorf("%w: recording %q", ErrNotFound, id)
	}
	return err
}

// RemoveTag takes tag off recording id.
func (s *Store) RemoveTag(ctx context.Context, id, tag string) error {
	_, err := s.db.ExecContext(ctx, "DELETE FROM tags WHERE recording_id = ? AND tag = ?", id, tag)
	return err
}

// delete removes the index row of id (its tags go with it).
func (s *Store) delete(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, "DELETE FROM recordings WHERE id = ?", id)
	return err
}
