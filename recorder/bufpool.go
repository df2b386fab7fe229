package recorder

import "sync"

// BufferPool lends recordings their output buffers, so that the recordings
// of a process share the buffers they are writing instead of each keeping
// a spare one. A recording given a pool holds one buffer of its own (the
// one it fills), takes another from the pool for the time a full buffer is
// being written, and gives every buffer back by the end of Close.
//
// The zero value is ready to use. A BufferPool is safe for concurrent use
// and must not be copied after first use.
type BufferPool struct {
	p sync.Pool // of *[writeBuffer]byte
}

// get returns an empty buffer of capacity writeBuffer.
func (p *BufferPool) get() []byte {
	if b, ok := p.p.Get().(*[writeBuffer]byte); ok {
		return b[:0]
	}
	return make([]byte, 0, writeBuffer)
}

// put gives back a buffer that get returned. The pool keeps arrays, not
// slices, so that neither get nor put allocates.
func (p *BufferPool) put(b []byte) {
	if cap(b) != writeBuffer {
		return
	}
	p.p.Put((*[writeBuffer]byte)(b[:writeBuffer]))
}
