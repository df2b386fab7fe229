package delivery

import (
	"container/heap"
	"strings"
	"time"
)

// entry is a queued recording in memory. Its fields are guarded by the
// Queue's mutex, except md, which never changes after creation.
type entry struct {
	md        Metadata
	state     entryState
	notBefore time.Time // earliest next attempt
	inFlight  bool
	probe     bool

	// Positions in the queue's heaps, -1 when absent.
	readyIdx, waitIdx, ageIdx int
}

func newEntry(md Metadata, st entryState) *entry {
	return &entry{md: md, state: st, readyIdx: -1, waitIdx: -1, ageIdx: -1}
}

// older orders entries oldest first, by enqueue time then ID.
func older(a, b *entry) bool {
	if c := a.md.Enqueued.Compare(b.md.Enqueued); c != 0 {
		return c < 0
	}
	return strings.Compare(a.md.ID, b.md.ID) < 0
}

// sooner orders entries by their next attempt time, then age.
func sooner(a, b *entry) bool {
	if c := a.notBefore.Compare(b.notBefore); c != 0 {
		return c < 0
	}
	return older(a, b)
}

// entryHeap is a container/heap of entries that records each entry's index
// through idx, so that entries can be removed from the middle.
type entryHeap struct {
	items []*entry
	less  func(a, b *entry) bool
	idx   func(*entry) *int
}

func (h *entryHeap) Len() int           { return len(h.items) }
func (h *entryHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *entryHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	*h.idx(h.items[i]) = i
	*h.idx(h.items[j]) = j
}
func (h *entryHeap) Push(x any) {
	e := x.(*entry)
	*h.idx(e) = len(h.items)
	h.items = append(h.items, e)
}
func (h *entryHeap) Pop() any {
	n := len(h.items) - 1
	e := h.items[n]
	h.items[n] = nil
	h.items = h.items[:n]
	*h.idx(e) = -1
	return e
}

func (h *entryHeap) add(e *entry) {
	if *h.idx(e) < 0 {
		heap.Push(h, e)
	}
}

func (h *entryHeap) remove(e *entry) {
	if i := *h.idx(e); i >= 0 {
		heap.Remove(h, i)
	}
}

func (h *entryHeap) peek() *entry {
	if len(h.items) == 0 {
		return nil
	}
	return h.items[0]
}
