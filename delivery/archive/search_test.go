package archive_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/callrec/callrec/delivery/archive"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSearch: numbers in any format the dial plan normalises and partial
// numbers match; dates, direction, line, duration, tag and the user's
// lines narrow; results are newest first and paged.
func TestSearch(t *testing.T) {
	a := newArchive(t)
	deliver(t, a, http.MethodPost, fixtures...)
	ctx := context.Background()
	s := a.Store()
	require.NoError(t, s.AddTag(ctx, "r1", "dispute"))
	require.NoError(t, s.SetNotes(ctx, "r2", "customer asked for a training example"))
	day := func(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, jst) }
	for name, tc := range map[string]struct {
		q    archive.Query
		want []string
	}{
		"all newest first":     {archive.Query{}, []string{"r3", "r2", "r1"}},
		"e164":                 {archive.Query{Number: "+81 3-1234-5678"}, []string{"r2", "r1"}},
		"full width partial":   {archive.Query{Number: "３３３３"}, []string{"r2"}},
		"hyphenated partial":   {archive.Query{Number: "0120-444"}, []string{"r3"}},
		"dialled with prefix":  {archive.Query{Number: "184090111"}, []string{"r1"}},
		"tokyo day":            {archive.Query{From: day(23), To: day(24)}, []string{"r2", "r1"}},
		"direction":            {archive.Query{Direction: "incoming"}, []string{"r2"}},
		"line":                 {archive.Query{LineNumber: "06-1234-0000"}, []string{"r3"}},
		"min duration":         {archive.Query{MinDuration: 3 * time.Second}, []string{"r2", "r1"}},
		"max duration":         {archive.Query{MaxDuration: 2500 * time.Millisecond}, []string{"r3"}},
		"tag":                  {archive.Query{Tag: "dispute"}, []string{"r1"}},
		"note text":            {archive.Query{Note: "training example"}, []string{"r2"}},
		"agent lines":          {archive.Query{Lines: []string{"0612340000"}}, []string{"r3"}},
		"agent without lines":  {archive.Query{Lines: []string{}}, nil},
		"agent other line num": {archive.Query{Lines: []string{"0612340000"}, Number: "0312345678"}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			p, err := s.Search(ctx, tc.q)
			require.NoError(t, err)
			assert.Equal(t, tc.want, ids(p))
		})
	}

	p, err := s.Search(ctx, archive.Query{PageSize: 2})
	require.NoError(t, err)
	assert.Equal(t, []string{"r3", "r2"}, ids(p))
	assert.True(t, p.More)
	p, err = s.Search(ctx, archive.Query{PageSize: 2, Page: 1})
	require.NoError(t, err)
	assert.Equal(t, []string{"r1"}, ids(p))
	assert.False(t, p.More)

	_, err = s.Search(ctx, archive.Query{Number: "abc"})
	require.ErrorIs(t, err, archive.ErrInvalidQuery)

	_, err = s.Get(ctx, "r1", []string{"0612340000"})
	require.ErrorIs(t, err, archive.ErrNotFound, "another line's recording is not found")
}

// TestSearchLoadsTags: every recording of a page comes with its tags,
// sorted, and one without tags with none.
func TestSearchLoadsTags(t *testing.T) {
	a := newArchive(t)
	deliver(t, a, http.MethodPost, fixtures...)
	ctx := context.Background()
	s := a.Store()
	require.NoError(t, s.AddTag(ctx, "r1", "training example"))
	require.NoError(t, s.AddTag(ctx, "r1", "dispute"))
	require.NoError(t, s.AddTag(ctx, "r3", "dispute"))
	p, err := s.Search(ctx, archive.Query{})
	require.NoError(t, err)
	tags := map[string][]string{}
	for _, r := range p.Recordings {
		tags[r.ID] = r.Tags
	}
	assert.Equal(t, map[string][]string{"r1": {"dispute", "training example"}, "r2": nil, "r3": {"dispute"}}, tags)

	p, err = s.Search(ctx, archive.Query{PageSize: 1, Page: 2})
	require.NoError(t, err)
	require.Equal(t, []string{"r1"}, ids(p))
	assert.Equal(t, []string{"dispute", "training example"}, p.Recordings[0].Tags, "tags on a later page too")
}
