package ctxio_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/callrec/callrec/internal/ctxio"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReaderStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := ctxio.Reader(ctx, bytes.NewReader(make([]byte, 1000)))
	buf := make([]byte, 100)
	n, err := r.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, 100, n, "reads pass through while the context lives")
	cancel()
	n, err = r.Read(buf)
	assert.Zero(t, n)
	require.ErrorIs(t, err, context.Canceled)
	copied, err := io.Copy(io.Discard, r)
	assert.Zero(t, copied, "a copy stops at once")
	require.ErrorIs(t, err, context.Canceled)
}

func TestReaderReachesEOF(t *testing.T) {
	got, err := io.ReadAll(ctxio.Reader(context.Background(), strings.NewReader("recorded")))
	require.NoError(t, err)
	assert.Equal(t, "recorded", string(got))
}

func ExampleReader() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the caller gave up, say on shutdown
	_, err := io.Copy(io.Discard, ctxio.Reader(ctx, strings.NewReader("a long recording")))
	fmt.Println(err)
	// Output: context canceled
}
