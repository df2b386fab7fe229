package archive

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are the schema's versions in order: migrations[i] brings a
// database from version i to i+1. They are only ever appended to, never
// edited, so that every database in the field can be brought forward.
var migrations = []string{
	// 1: recordings, tags, users, sessions, audit, retention.
	`CREATE TABLE recordings (
		id TEXT PRIMARY KEY,
		audio_path TEXT NOT NULL,
		call_id TEXT NOT NULL,
		direction TEXT NOT NULL,
		caller TEXT NOT NULL,
		callee TEXT NOT NULL,
		dialled TEXT NOT NULL,
		destination TEXT NOT NULL,
		line TEXT NOT NULL,
		line_number TEXT NOT NULL,
		numbers TEXT NOT NULL,
		start_ms INTEGER NOT NULL,
		guidance_ms INTEGER NOT NULL,
		duration_ms INTEGER NOT NULL,
		channels INTEGER NOT NULL,
		announcement_id TEXT NOT NULL,
		sha256 TEXT NOT NULL,
		size INTEGER NOT NULL,
		verified_ms INTEGER NOT NULL,
		notes TEXT NOT NULL DEFAULT '',
		hold INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX recordings_start ON recordings(start_ms DESC, id DESC);
	CREATE INDEX recordings_line_start ON recordings(line_number, start_ms DESC, id DESC);
	-- A trigram index over the numbers, so that a partial number is found
	-- without reading every row.
	CREATE VIRTUAL TABLE numbers_fts USING fts5(numbers, content='recordings', content_rowid='rowid', tokenize='trigram');
	CREATE TRIGGER numbers_ai AFTER INSERT ON recordings BEGIN
		INSERT INTO numbers_fts(rowid, numbers) VALUES (new.rowid, new.numbers);
	END;
	CREATE TRIGGER numbers_ad AFTER DELETE ON recordings BEGIN
		INSERT INTO numbers_fts(numbers_fts, rowid, numbers) VALUES ('delete', old.rowid, old.numbers);
	END;
	CREATE TRIGGER numbers_au AFTER UPDATE OF numbers ON recordings BEGIN
		INSERT INTO numbers_fts(numbers_fts, rowid, numbers) VALUES ('delete', old.rowid, old.numbers);
		INSERT INTO numbers_fts(rowid, numbers) VALUES (new.rowid, new.numbers);
	END;
	CREATE TABLE tags (
		recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
		tag TEXT NOT NULL,
		PRIMARY KEY (recording_id, tag)
	) WITHOUT ROWID;
	CREATE INDEX tags_tag ON tags(tag);
	CREATE TABLE users (
		name TEXT PRIMARY KEY,
		hash TEXT NOT NULL,
		role TEXT NOT NULL,
		lines TEXT NOT NULL DEFAULT ''
	);
	CREATE TABLE sessions (
		token TEXT PRIMARY KEY,
		user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
		csrf TEXT NOT NULL,
		expires_ms INTEGER NOT NULL
	);
	CREATE TABLE audit (
		seq INTEGER PRIMARY KEY AUTOINCREMENT,
		at_ms INTEGER NOT NULL,
		user TEXT NOT NULL,
		action TEXT NOT NULL,
		target TEXT NOT NULL,
		remote TEXT NOT NULL,
		detail TEXT NOT NULL
	);
	CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
	CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
	CREATE TABLE retention (
		line_number TEXT PRIMARY KEY,
		days INTEGER NOT NULL
	);`,
}

// SchemaVersion is the schema version this package migrates databases to.
var SchemaVersion = len(migrations)

// migrate brings db to the newest schema, each step in its own transaction
// together with the version it reaches (PRAGMA user_version), so that a
// crash leaves the database at one version or the next.
func migrate(ctx context.Context, db *sql.DB) error {
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("archive: read schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("%w: version %d, this program knows %d", ErrSchemaTooNew, v, len(migrations))
	}
	for ; v < len(migrations); v++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("archive: migration %d: %w", v+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("archive: migration %d: %w", v+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("archive: migration %d: %w", v+1, err)
		}
	}
	return nil
}
