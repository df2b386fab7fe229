package archive

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// globalLine is the retention table's key of the period that applies to
// lines without their own.
const globalLine = "*"

// Retention is how long recordings are kept: a global period and
// per-line periods overriding it. Zero days means forever.
type Retention struct {
	// Days is the global period.
	Days int
	// Lines maps a line number (normalised) to its own period.
	Lines map[string]int
}

// SetRetention sets the period of line to days (0: keep forever); an
// empty line sets the global period. A line's own period is removed by
// setting it to a negative number of days.
func (a *Archive) SetRetention(ctx context.Context, line string, days int) error {
	key := globalLine
	if line != "" {
		if key = normalizeNumber(line); key == "" {
			return fmt.Errorf("%w: line %q has no digits", ErrInvalidQuery, line)
		}
	}
	var err error
	if days < 0 {
		if key == globalLine {
			return fmt.Errorf("%w: global retention %d days", ErrInvalidQuery, days)
		}
		_, err = a.store.db.ExecContext(ctx, "DELETE FROM retention WHERE line_number = ?", key)
	} else {
		_, err = a.store.db.ExecContext(ctx, `INSERT INTO retention (line_number, days) VALUES (?, ?)
			ON CONFLICT(line_number) DO UPDATE SET days = excluded.days`, key, days)
	}
	if err != nil {
		return fmt.Errorf("archive: set retention: %w", err)
	}
	return nil
}

// Retention returns the retention periods.
func (a *Archive) Retention(ctx context.Context) (Retention, error) {
	r := Retention{Lines: map[string]int{}}
	rows, err := a.store.db.QueryContext(ctx, "SELECT line_number, days FROM retention")
	if err != nil {
		return r, fmt.Errorf("archive: retention: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var line string
		var days int
		if err := rows.Scan(&line, &days); err != nil {
			return r, err
		}
		if line == globalLine {
			r.Days = days
		} else {
			r.Lines[line] = days
		}
	}
	return r, rows.Err()
}

// Expired returns the IDs of the recordings not on hold whose retention
// period has passed at now, oldest first, at most limit of them.
func (a *Archive) Expired(ctx context.Context, now time.Time, limit int) ([]string, error) {
	const days = `COALESCE((SELECT days FROM retention l WHERE l.line_number = r.line_number),
		(SELECT days FROM retention WHERE line_number = '*'), 0)`
	rows, err := a.store.db.QueryContext(ctx, `SELECT id FROM recordings r WHERE hold = 0 AND `+days+` > 0
		AND start_ms < ? - `+days+` * 86400000 ORDER BY start_ms LIMIT ?`, now.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("archive: expired: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Delete removes recording id: its index row, then its audio and sidecar
// files. A recording under legal hold is refused with [ErrOnHold]; the
// row is deleted only if the hold is still clear at that instant, so a
// hold set concurrently wins. The deletion is audited as done by who
// from remote.
func (a *Archive) Delete(ctx context.Context, id, who, remote, reason string) error {
	r, err := a.store.Get(ctx, id, nil)
	if err != nil {
		return err
	}
	res, err := a.store.db.ExecContext(ctx, "DELETE FROM recordings WHERE id = ? AND hold = 0", id)
	if err != nil {
		return fmt.Errorf("archive: delete %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %s", ErrOnHold, id)
	}
	audio := a.AudioFile(r)
	sidecar := strings.TrimSuffix(audio, filepath.Ext(audio)) + ".json"
	var ferr error
	for _, p := range []string{audio, sidecar} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			ferr = errors.Join(ferr, err)
		}
	}
	// The waveform is drawn from the audio: it goes with it.
	ferr = errors.Join(ferr, a.dropWaveform(r))
	detail := reason
	if ferr != nil {
		detail += "; files not removed: " + ferr.Error()
	}
	if err := a.Audit(ctx, AuditEntry{User: who, Action: ActionDelete, Target: id, Remote: remote, Detail: detail}); err != nil {
		ferr = errors.Join(ferr, err)
	}
	if ferr != nil {
		return fmt.Errorf("archive: delete %s: %w", id, ferr)
	}
	return nil
}

// ApplyRetention deletes every recording whose retention period has
// passed at now and is not on hold, auditing each deletion as done by
// [SystemUser]. It returns the IDs deleted; a failure to delete one is
// audited and does not stop the others.
func (a *Archive) ApplyRetention(ctx context.Context, now time.Time) ([]string, error) {
	var deleted []string
	var errs error
	failed := map[string]bool{}
	for {
		ids, err := a.Expired(ctx, now, 500)
		if err != nil {
			return deleted, err
		}
		progress := false
		for _, id := range ids {
			if failed[id] {
				continue
			}
			progress = true
			err := a.Delete(ctx, id, SystemUser, "", "retention period passed")
			switch {
			case err == nil:
				deleted = append(deleted, id)
			case errors.Is(err, ErrOnHold), errors.Is(err, ErrNotFound):
				// Held or deleted meanwhile: nothing to do.
			default:
				failed[id] = true
				errs = errors.Join(errs, err)
				a.Audit(ctx, AuditEntry{User: SystemUser, Action: ActionRetentionFail, Target: id, Detail: err.Error()})
			}
			if ctx.Err() != nil {
				return deleted, ctx.Err()
			}
		}
		if !progress || len(ids) < 500 {
			break
		}
	}
	if len(deleted) > 0 || errs != nil {
		a.Audit(ctx, AuditEntry{User: SystemUser, Action: ActionRetentionRun,
			Detail: fmt.Sprintf("deleted %d, failed %d", len(deleted), len(failed))})
	}
	return deleted, errs
}

// RunRetention applies retention at once and then every interval until
// ctx is done, when it returns ctx's error. Errors of one pass are logged
// and the job goes on.
func (a *Archive) RunRetention(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("%w: retention interval %v", ErrInvalidConfig, interval)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ids, err := a.ApplyRetention(ctx, a.cfg.Now())
		if err != nil && ctx.Err() == nil {
			a.log.Error("retention", "error", err)
		}
		if len(ids) > 0 {
			a.log.Info("retention deleted recordings", "count", len(ids))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// HoldSearch sets or clears the legal hold of every recording q selects
// (all pages; q's paging is ignored) and returns their IDs.
func (a *Archive) HoldSearch(ctx context.Context, q Query, hold bool) ([]string, error) {
	q.PageSize = 500
	var ids []string
	for q.Page = 0; ; q.Page++ {
		p, err := a.store.Search(ctx, q)
		if err != nil {
			return ids, err
		}
		for _, r := range p.Recordings {
			ids = append(ids, r.ID)
		}
		if !p.More {
			break
		}
	}
	tx, err := a.store.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, "UPDATE recordings SET hold = ? WHERE id = ?", hold, id); err != nil {
			return nil, errors.Join(fmt.Errorf("archive: hold %s: %w", id, err), tx.Rollback())
		}
	}
	return ids, tx.Commit()
}
