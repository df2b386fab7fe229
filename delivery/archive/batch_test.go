package archive

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGroupBatchesWaitingCallers: items submitted while a batch runs are
// run together in the next batch, by one of their callers; batches never
// overlap; every item runs exactly once, before its do returns.
func TestGroupBatchesWaitingCallers(t *testing.T) {
	type item struct {
		n    int
		runs int
	}
	var g group[*item]
	var running atomic.Int32
	var mu sync.Mutex
	var sizes []int
	block := make(chan struct{})
	fn := func(batch []*item) {
		assert.Equal(t, int32(1), running.Add(1), "two batches at once")
		defer running.Add(-1)
		mu.Lock()
		sizes = append(sizes, len(batch))
		first := len(sizes) == 1
		mu.Unlock()
		if first {
			<-block // hold the first batch until the others are queued
		}
		for _, it := range batch {
			it.runs++
		}
	}
	const n = 20
	items := make([]*item, n)
	var wg sync.WaitGroup
	for i := range items {
		items[i] = &item{n: i}
	}
	wg.Go(func() {
		g.do(items[0], fn)
		assert.Equal(t, 1, items[0].runs)
	})
	require.Eventually(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.running
	}, 10*time.Second, time.Millisecond)
	for _, it := range items[1:] {
		wg.Go(func() {
			g.do(it, fn)
			assert.Equal(t, 1, it.runs, "item %d ran before do returned, once", it.n)
		})
	}
	require.Eventually(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.pending) == n-1
	}, 10*time.Second, time.Millisecond)
	close(block)
	wg.Wait()
	assert.Equal(t, []int{1, n - 1}, sizes)
	assert.False(t, g.running, "the running role is given up when nothing is pending")
}
