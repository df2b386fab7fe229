package archive

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Audit actions: the what of an [AuditEntry].
const (
	ActionLogin         = "login"
	ActionLoginFailed   = "login_failed"
	ActionLogout        = "logout"
	ActionSearch        = "search"
	ActionView          = "view"
	ActionPlay          = "play"
	ActionDownload      = "download"
	ActionWaveform      = "waveform"
	ActionNote          = "note"
	ActionTagAdd        = "tag_add"
	ActionTagRemove     = "tag_remove"
	ActionHold          = "hold"
	ActionRelease       = "hold_release"
	ActionDelete        = "delete"
	ActionRetentionSet  = "retention_set"
	ActionRetentionRun  = "retention_run"
	ActionUserSet       = "user_set"
	ActionUserDelete    = "user_delete"
	ActionAuditExport   = "audit_export"
	ActionDenied        = "denied"
	ActionIngest        = "ingest"
	ActionRetentionFail = "retention_failed"
)

// SystemUser is the who of actions the archive takes by itself, such as
// the retention job's deletions.
const SystemUser = "system"

// AuditEntry is one line of the append-only audit trail.
type AuditEntry struct {
	// Seq orders the entries; set by the store.
	Seq int64
	// At is when the action happened.
	At time.Time
	// User is who acted: a user name, [SystemUser], or the name typed at a
	// failed login.
	User string
	// Action is what was done (ActionView, ActionPlay, ...).
	Action string
	// Target is what it was done to: a recording ID, a user name, a line.
	Target string
	// Remote is where the request came from (the peer's IP address).
	Remote string
	// Detail says more (a tag, a query, a reason).
	Detail string
}

// Audit appends e to the audit trail, stamping it with the archive's clock
// when e.At is zero. The table refuses updates and deletes (triggers), so
// the trail can only grow.
func (a *Archive) Audit(ctx context.Context, e AuditEntry) error {
	if e.At.IsZero() {
		e.At = a.cfg.Now()
	}
	_, err := a.store.db.ExecContext(ctx, "INSERT INTO audit (at_ms, user, action, target, remote, detail) VALUES (?,?,?,?,?,?)",
		e.At.UnixMilli(), e.User, e.Action, e.Target, e.Remote, e.Detail)
	if err != nil {
		return fmt.Errorf("archive: audit %s %s: %w", e.Action, e.Target, err)
	}
	return nil
}

// AuditQuery selects audit entries; its zero value selects all, newest
// first, in pages of [DefaultPageSize].
type AuditQuery struct {
	// User, Action and Target select entries equal to them.
	User, Action, Target string
	// From and To bound the time, From inclusive, To exclusive.
	From, To time.Time
	// Page is 0-based; PageSize defaults to DefaultPageSize. A negative
	// PageSize returns every entry (for export).
	Page, PageSize int
}

// AuditLog returns the entries q selects, newest first, and whether more
// follow.
func (a *Archive) AuditLog(ctx context.Context, q AuditQuery) ([]AuditEntry, bool, error) {
	var where []string
	var args []any
	for col, v := range map[string]string{"user": q.User, "action": q.Action, "target": q.Target} {
		if v != "" {
			where, args = append(where, col+" = ?"), append(args, v)
		}
	}
	if !q.From.IsZero() {
		where, args = append(where, "at_ms >= ?"), append(args, q.From.UnixMilli())
	}
	if !q.To.IsZero() {
		where, args = append(where, "at_ms < ?"), append(args, q.To.UnixMilli())
	}
	sqlq := "SELECT seq, at_ms, user, action, target, remote, detail FROM audit"
	if len(where) > 0 {
		sqlq += " WHERE " + strings.Join(where, " AND ")
	}
	sqlq += " ORDER BY seq DESC"
	size := q.PageSize
	if size == 0 {
		size = DefaultPageSize
	}
	if size > 0 {
		sqlq += " LIMIT ? OFFSET ?"
		args = append(args, size+1, max(q.Page, 0)*size)
	}
	rows, err := a.store.db.QueryContext(ctx, sqlq, args...)
	if err != nil {
		return nil, false, fmt.Errorf("archive: audit log: %w", err)
	}
	defer rows.Close()
	var es []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.Seq, &at, &e.User, &e.Action, &e.Target, &e.Remote, &e.Detail); err != nil {
			return nil, false, err
		}
		e.At = time.UnixMilli(at)
		es = append(es, e)
	}
	more := false
	if size > 0 && len(es) > size {
		es, more = es[:size], true
	}
	return es, more, rows.Err()
}

// WriteAuditCSV writes es as CSV with a header row; times are RFC 3339 in
// loc. Cells starting with a formula character are prefixed with an
// apostrophe so that a spreadsheet does not evaluate text a user typed.
func WriteAuditCSV(w io.Writer, es []AuditEntry, loc *time.Location) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"seq", "time", "user", "action", "target", "remote", "detail"})
	for _, e := range es {
		cw.Write([]string{strconv.FormatInt(e.Seq, 10), e.At.In(loc).Format(time.RFC3339Nano),
			csvSafe(e.User), e.Action, csvSafe(e.Target), e.Remote, csvSafe(e.Detail)})
	}
	cw.Flush()
	return cw.Error()
}

func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
