package delivery

import (
	"context"
	"sync"
)

// nameLocks serialises deliveries that store under the same destination
// name. Two recordings sharing a Call-ID (or Call-IDs that sanitise alike)
// both find the name free if they look at once, and the later rename would
// silently replace the other's files: a delivery reported as done and then
// lost. Holding the name from the look until the sidecar is committed makes
// the second one see the first's sidecar and pick <name>~<id>. Deliveries
// under different names do not wait for each other. The zero value is ready
// for use.
type nameLocks struct {
	mu    sync.Mutex
	locks map[string]*nameLock
}

// nameLock is one held name: a one-slot semaphore, so that waiting for it
// can honour a context, and the number of deliveries holding or awaiting
// it, so that the map forgets idle names.
type nameLock struct {
	slot chan struct{}
	refs int
}

// lock waits until name is free or ctx is done, and returns the function
// that frees it.
func (l *nameLocks) lock(ctx context.Context, name string) (unlock func(), err error) {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = make(map[string]*nameLock)
	}
	nl := l.locks[name]
	if nl == nil {
		nl = &nameLock{slot: make(chan struct{}, 1)}
		l.locks[name] = nl
	}
	nl.refs++
	l.mu.Unlock()

	release := func() {
		l.mu.Lock()
		nl.refs--
		if nl.refs == 0 {
			delete(l.locks, name)
		}
		l.mu.Unlock()
	}
	select {
	case nl.slot <- struct{}{}:
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
	return func() {
		<-nl.slot
		release()
	}, nil
}

// held returns the number of names held or awaited, for tests.
func (l *nameLocks) held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.locks)
}
