package ctxio

import (
	"context"
	"io"
)

// Reader returns a reader of r whose reads fail with ctx's error once ctx
// is done. A read already under way is not interrupted: the check is made
// before each read, which for a file or a buffer is short.
func Reader(ctx context.Context, r io.Reader) io.Reader { return reader{ctx, r} }

type reader struct {
	ctx context.Context
	r   io.Reader
}

func (c reader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
