package archive

import "context"

// putReq is one recording waiting to be indexed by a group commit.
type putReq struct {
	r    Recording
	done chan error
	// lead tells a waiting request that it is to commit the next group.
	lead chan struct{}
}

// putGrouped indexes r, committing it together with the recordings other
// goroutines index at the same time: one SQLite transaction for the
// group instead of one per recording. The first caller to find no commit
// in progress commits everything pending; when more arrived meanwhile it
// hands the next group to the oldest of them.
func (s *Store) putGrouped(ctx context.Context, r Recording) error {
	req := &putReq{r: r, done: make(chan error, 1), lead: make(chan struct{}, 1)}
	s.bmu.Lock()
	s.pending = append(s.pending, req)
	if !s.flushing {
		s.flushing = true
		s.bmu.Unlock()
		s.flush(ctx)
		return <-req.done
	}
	s.bmu.Unlock()
	select {
	case err := <-req.done:
		return err
	case <-req.lead:
		s.flush(ctx)
		return <-req.done
	}
}

// flush commits the pending group; the caller holds the flushing role.
func (s *Store) flush(ctx context.Context) {
	s.bmu.Lock()
	group := s.pending
	s.pending = nil
	s.bmu.Unlock()
	rs := make([]Recording, len(group))
	for i, q := range group {
		rs[i] = q.r
	}
	// The commit serves other requests too: it must not fail because
	// this one's client went away.
	ctx = context.WithoutCancel(ctx)
	err := s.PutBatch(ctx, rs)
	if err != nil && len(group) > 1 {
		// One bad row must not fail the others: retry one by one.
		for _, q := range group {
			q.done <- s.Put(ctx, q.r)
		}
	} else {
		for _, q := range group {
			q.done <- err
		}
	}
	s.bmu.Lock()
	if len(s.pending) > 0 {
		s.pending[0].lead <- struct{}{}
	} else {
		s.flushing = false
	}
	s.bmu.Unlock()
}
