package archive

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Query selects recordings. Its zero value selects every recording, newest
// first, in pages of [DefaultPageSize].
type Query struct {
	// Number matches any of the caller, callee, dialled, forwarded-to and
	// line numbers, in any format the dial plan normalises ("+81 3-1234",
	// "０３１２３４"); a part of a number matches.
	Number string
	// From and To bound the call's start, From inclusive, To exclusive.
	From, To time.Time
	// Direction is "incoming" or "outgoing"; empty for both.
	Direction string
	// LineNumber selects one contract line.
	LineNumber string
	// MinDuration and MaxDuration bound the recorded length; zero is no
	// bound.
	MinDuration, MaxDuration time.Duration
	// Tag selects recordings carrying this tag.
	Tag string
	// Note selects recordings whose notes contain this text.
	Note string
	// Lines, when not nil, restricts the result to these line numbers: the
	// lines the asking user may see.
	Lines []string
	// Page is the 0-based page; PageSize its length (default
	// DefaultPageSize, at most 500).
	Page, PageSize int
}

// DefaultPageSize is the page length of a [Query] that sets none.
const DefaultPageSize = 50

// Page is one page of a search, newest first.
type Page struct {
	Recordings []Recording
	// More says whether a next page exists.
	More bool
}

// Search returns the page of recordings q selects, newest first, each
// with its tags.
func (s *Store) Search(ctx context.Context, q Query) (Page, error) {
	var where []string
	var args []any
	if q.Number != "" {
		n := normalizeNumber(q.Number)
		if n == "" {
			return Page{}, fmt.Errorf("%w: number %q has no digits", ErrInvalidQuery, q.Number)
		}
		if len(n) >= 3 && q.Lines == nil && q.LineNumber == "" {
			// The trigram index finds a partial number without reading
			// every row.
			where = append(where, "rowid IN (SELECT rowid FROM numbers_fts WHERE numbers LIKE ?)")
		} else {
			// Restricted to lines, the line index already narrows the rows
			// to read; under three digits the trigram index cannot help.
			where = append(where, "numbers LIKE ?")
		}
		args = append(args, "%"+n+"%")
	}
	if !q.From.IsZero() {
		where, args = append(where, "start_ms >= ?"), append(args, q.From.UnixMilli())
	}
	if !q.To.IsZero() {
		where, args = append(where, "start_ms < ?"), append(args, q.To.UnixMilli())
	}
	if q.Direction != "" {
		where, args = append(where, "direction = ?"), append(args, q.Direction)
	}
	if q.LineNumber != "" {
		where, args = append(where, "line_number = ?"), append(args, normalizeNumber(q.LineNumber))
	}
	if q.MinDuration > 0 {
		where, args = append(where, "duration_ms >= ?"), append(args, q.MinDuration.Milliseconds())
	}
	if q.MaxDuration > 0 {
		where, args = append(where, "duration_ms <= ?"), append(args, q.MaxDuration.Milliseconds())
	}
	if q.Tag != "" {
		where = append(where, "id IN (SELECT recording_id FROM tags WHERE tag = ?)")
		args = append(args, q.Tag)
	}
	if q.Note != "" {
		where = append(where, "instr(notes, ?) > 0")
		args = append(args, q.Note)
	}
	if q.Lines != nil {
		if len(q.Lines) == 0 {
			return Page{}, nil
		}
		where = append(where, "line_number IN (?"+strings.Repeat(",?", len(q.Lines)-1)+")")
		for _, l := range q.Lines {
			args = append(args, l)
		}
	}
	size := q.PageSize
	if size <= 0 {
		size = DefaultPageSize
	}
	size = min(size, 500)
	sqlq := "SELECT " + recordingCols + " FROM recordings"
	if len(where) > 0 {
		sqlq += " WHERE " + strings.Join(where, " AND ")
	}
	sqlq += " ORDER BY start_ms DESC, id DESC LIMIT ? OFFSET ?"
	args = append(args, size+1, max(q.Page, 0)*size)
	rows, err := s.db.QueryContext(ctx, sqlq, args...)
	if err != nil {
		return Page{}, fmt.Errorf("archive: search: %w", err)
	}
	defer rows.Close()
	var p Page
	for rows.Next() {
		r, err := scanRecording(rows)
		if err != nil {
			return Page{}, err
		}
		p.Recordings = append(p.Recordings, r)
	}
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("archive: search: %w", err)
	}
	if len(p.Recordings) > size {
		p.Recordings, p.More = p.Recordings[:size], true
	}
	return p, s.loadTags(ctx, p.Recordings)
}

// loadTags fills in the tags of rs with one query for the whole page.
func (s *Store) loadTags(ctx context.Context, rs []Recording) error {
	if len(rs) == 0 {
		return nil
	}
	byID := make(map[string]*Recording, len(rs))
	args := make([]any, len(rs))
	for i := range rs {
		byID[rs[i].ID] = &rs[i]
		args[i] = rs[i].ID
	}
	rows, err := s.db.QueryContext(ctx, "SELECT recording_id, tag FROM tags WHERE recording_id IN (?"+
		strings.Repeat(",?", len(rs)-1)+") ORDER BY recording_id, tag", args...)
	if err != nil {
		return fmt.Errorf("archive: search tags: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, tag string
		if err := rows.Scan(&id, &tag); err != nil {
			return fmt.Errorf("archive: search tags: %w", err)
		}
		r := byID[id]
		r.Tags = append(r.Tags, tag)
	}
	return rows.Err()
}
