package archive_test

import (
	"context"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callrec/callrec/delivery/archive"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRetention: the global period and a line's own period expire
// recordings at an explicit "now"; a legal hold (on one recording or on a
// search result) keeps them; a deletion removes the audio, the sidecar and
// the index row and is audited as the system's.
func TestRetention(t *testing.T) {
	a := newArchive(t)
	deliver(t, a, http.MethodPost, fixtures...)
	ctx := context.Background()
	// r1 23 Nov 09:00 and r2 23 Nov 23:30 on Tokyo's line, r3 24 Nov 00:30 on Osaka's.
	require.NoError(t, a.SetRetention(ctx, "", 30))
	require.NoError(t, a.SetRetention(ctx, "06-1234-0000", 3))
	require.ErrorIs(t, a.SetRetention(ctx, "", -1), archive.ErrInvalidQuery)
	ret, err := a.Retention(ctx)
	require.NoError(t, err)
	assert.Equal(t, archive.Retention{Days: 30, Lines: map[string]int{"0612340000": 3}}, ret)

	files := func(id string) []string {
		r := mustGet(t, a, id)
		audio := a.AudioFile(r)
		return []string{audio, audio[:len(audio)-len(filepath.Ext(audio))] + ".json"}
	}
	r3files, r1files := files("r3"), files("r1")

	day := func(d int) time.Time { return time.Date(2026, 11, d, 12, 0, 0, 0, jst) }
	deleted, err := a.ApplyRetention(ctx, day(26))
	require.NoError(t, err)
	assert.Empty(t, deleted, "nothing has expired on 26 Nov")

	deleted, err = a.ApplyRetention(ctx, day(27))
	require.NoError(t, err)
	assert.Equal(t, []string{"r3"}, deleted, "Osaka's 3 days have passed")
	for _, f := range r3files {
		assert.False(t, exists(t, f), f)
	}
	_, err = a.Store().Get(ctx, "r3", nil)
	require.ErrorIs(t, err, archive.ErrNotFound)
	assert.True(t, auditHas(t, a, archive.AuditEntry{User: archive.SystemUser, Action: archive.ActionDelete, Target: "r3"}))
	assert.True(t, auditHas(t, a, archive.AuditEntry{User: archive.SystemUser, Action: archive.ActionRetentionRun, Detail: "deleted 1"}))

	// A hold on a search result (Tokyo's late call) keeps r2 past 30 days.
	held, err := a.HoldSearch(ctx, archive.Query{Number: "3333"}, true)
	require.NoError(t, err)
	assert.Equal(t, []string{"r2"}, held)
	deleted, err = a.ApplyRetention(ctx, time.Date(2027, 1, 1, 0, 0, 0, 0, jst))
	require.NoError(t, err)
	assert.Equal(t, []string{"r1"}, deleted)
	for _, f := range r1files {
		assert.False(t, exists(t, f), f)
	}
	assert.True(t, mustGet(t, a, "r2").Hold)
	require.ErrorIs(t, a.Delete(ctx, "r2", "admin", "127.0.0.1", "test"), archive.ErrOnHold)

	// Released, it goes at the next run.
	_, err = a.HoldSearch(ctx, archive.Query{Number: "3333"}, false)
	require.NoError(t, err)
	deleted, err = a.ApplyRetention(ctx, time.Date(2027, 1, 1, 0, 0, 0, 0, jst))
	require.NoError(t, err)
	assert.Equal(t, []string{"r2"}, deleted)
	n, err := a.Store().Count(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
}

// TestRunRetention: the scheduled job runs on the archive's clock and
// stops when its context ends.
func TestRunRetention(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 11, 25, 0, 0, 0, 0, jst).UnixMilli())
	a, err := archive.Open(context.Background(), archive.Config{Dir: filepath.Join(t.TempDir(), "rec"),
		Now: func() time.Time { return time.UnixMilli(now.Load()) }})
	require.NoError(t, err)
	defer a.Close()
	deliver(t, a, http.MethodPost, fixtures...)
	require.NoError(t, a.SetRetention(context.Background(), "", 10))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.RunRetention(ctx, 10*time.Millisecond) }()
	time.Sleep(50 * time.Millisecond)
	n, _ := a.Store().Count(context.Background())
	assert.Equal(t, 3, n, "not expired yet")
	now.Store(time.Date(2026, 12, 31, 0, 0, 0, 0, jst).UnixMilli())
	require.Eventually(t, func() bool {
		n, _ := a.Store().Count(context.Background())
		return n == 0
	}, 10*time.Second, 10*time.Millisecond)
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("RunRetention did not stop")
	}
	require.ErrorIs(t, a.RunRetention(context.Background(), 0), archive.ErrInvalidConfig)
}
