package sipadapter

import (
	"context"
	"path/filepath"
	"time"
)

// DefaultStrandedRetry is the default of [Config].StrandedRetry.
const DefaultStrandedRetry = 30 * time.Second

// stranded is a recording whose Close or Enqueue failed (a full or failing
// disk, a full spool): its audio and sidecar wait in RecordDir.
type stranded struct {
	since time.Time
	err   string
}

// strand records that the recording id is left in RecordDir, to be retried
// by retryStranded while the B2BUA runs rather than only at the next start.
func (b *B2BUA) strand(id string, err error) {
	b.strandMu.Lock()
	defer b.strandMu.Unlock()
	if b.stranded == nil {
		b.stranded = make(map[string]stranded)
	}
	if _, ok := b.stranded[id]; !ok {
		b.stranded[id] = stranded{since: b.cfg.Clock.Now(), err: err.Error()}
	}
}

// Stranded reports the recordings left in RecordDir because their Close or
// Enqueue failed, and how long the oldest has waited; the B2BUA retries
// them every [Config].StrandedRetry. Export both as metrics: a growing
// count or age means recordings are not reaching the spool.
func (b *B2BUA) Stranded() (n int, oldest time.Duration) {
	b.strandMu.Lock()
	defer b.strandMu.Unlock()
	now := b.cfg.Clock.Now()
	for _, s := range b.stranded {
		oldest = max(oldest, now.Sub(s.since))
	}
	return len(b.stranded), oldest
}

// retryStranded runs until ctx is done, retrying every StrandedRetry the
// recordings left in RecordDir: repaired, enqueued, their sidecar removed.
func (b *B2BUA) retryStranded(ctx context.Context) {
	t := time.NewTicker(b.cfg.StrandedRetry)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b.strandMu.Lock()
		ids := make([]string, 0, len(b.stranded))
		for id := range b.stranded {
			ids = append(ids, id)
		}
		b.strandMu.Unlock()
		for _, id := range ids {
			err := b.recoverOne(ctx, filepath.Join(b.cfg.RecordDir, id+partialExt), filepath.Join(b.cfg.RecordDir, id+audioExt))
			if err != nil {
				b.log.Warn("stranded recording: retry failed", "id", id, "error", err)
				continue
			}
			b.log.Info("stranded recording enqueued", "id", id)
			b.strandMu.Lock()
			delete(b.stranded, id)
			b.strandMu.Unlock()
		}
	}
}
