package sipadapter

import (
	"context"
	"path/filepath"
	"time"

	"github.com/callrec/callrec/delivery"
)

// DefaultStrandedRetry is the default of [Config].StrandedRetry.
const DefaultStrandedRetry = 30 * time.Second

// stranded is a recording whose Close or Enqueue failed (a full or failing
// disk, a full spool): its audio and sidecar wait in RecordDir.
type stranded struct {
	since time.Time
	err   string
	md    *delivery.Metadata // the final metadata, when known; else the sidecar's
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

// strandMetadata is strand for a recording closed with its final
// metadata md, which the retries enqueue rather than the sidecar's: on a
// full disk the sidecar's update may have failed, and with it a truncated
// recording's mark.
func (b *B2BUA) strandMetadata(id string, err error, md delivery.Metadata) {
	b.strand(id, err)
	b.strandMu.Lock()
	defer b.strandMu.Unlock()
	s := b.stranded[id]
	s.md = &md
	b.stranded[id] = s
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
		mds := make([]*delivery.Metadata, 0, len(b.stranded))
		for id, s := range b.stranded {
			ids = append(ids, id)
			mds = append(mds, s.md)
		}
		b.strandMu.Unlock()
		for i, id := range ids {
			err := b.recoverOne(ctx, filepath.Join(b.cfg.RecordDir, id+partialExt), filepath.Join(b.cfg.RecordDir, id+audioExt), mds[i])
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
