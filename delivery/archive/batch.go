package archive

import "sync"

// group runs a function on batches of the items that concurrent callers
// submit, so that one fsync or one SQLite transaction serves many
// recordings. It needs no goroutine of its own: the first caller to find
// no batch in progress runs one on everything pending; when more items
// arrived meanwhile, it hands the next batch to the oldest of their
// callers. Its zero value is ready to use.
type group[T any] struct {
	mu      sync.Mutex
	pending []*groupItem[T]
	running bool
}

type groupItem[T any] struct {
	v    T
	done chan struct{}
	// lead tells a waiting caller that it is to run the next batch.
	lead chan struct{}
}

// do adds v to the next batch and returns once fn has run on that batch.
// fn reports each item's outcome through the item itself.
func (g *group[T]) do(v T, fn func([]T)) {
	it := &groupItem[T]{v: v, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, it)
	if g.running {
		g.mu.Unlock()
		select {
		case <-it.done:
			return
		case <-it.lead:
		}
	} else {
		g.running = true
		g.mu.Unlock()
	}
	g.run(fn)
	<-it.done
}

// run runs fn on the pending batch; the caller holds the running role,
// which it passes on or gives up.
func (g *group[T]) run(fn func([]T)) {
	g.mu.Lock()
	batch := g.pending
	g.pending = nil
	g.mu.Unlock()
	vs := make([]T, len(batch))
	for i, it := range batch {
		vs[i] = it.v
	}
	fn(vs)
	for _, it := range batch {
		close(it.done)
	}
	g.mu.Lock()
	if len(g.pending) > 0 {
		g.pending[0].lead <- struct{}{}
	} else {
		g.running = false
	}
	g.mu.Unlock()
}
