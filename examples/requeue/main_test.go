package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/delivery"
)

// deadSpool returns a spool holding n dead letters.
func deadSpool(t *testing.T, n int) string {
	t.Helper()
	spool, src := t.TempDir(), t.TempDir()
	refuse := delivery.SinkFunc(func(context.Context, delivery.Item) error {
		return delivery.Permanent(errors.New("HTTP 403 forbidden"))
	})
	q, err := delivery.New(delivery.Config{Dir: spool, Sink: refuse})
	require.NoError(t, err)
	for i := range n {
		p := filepath.Join(src, fmt.Sprintf("c%d.wav", i))
		require.NoError(t, os.WriteFile(p, []byte("audio"), 0o640))
		require.NoError(t, q.Enqueue(context.Background(), delivery.Recording{AudioPath: p, Metadata: delivery.Metadata{CallID: fmt.Sprintf("call-%d", i)}}))
	}
	require.NoError(t, q.Start())
	deadline := time.Now().Add(10 * time.Second)
	for q.Stats().DeadLettered < uint64(n) {
		require.True(t, time.Now().Before(deadline), "dead-lettering timed out")
		time.Sleep(time.Millisecond)
	}
	require.NoError(t, q.Close())
	return spool
}

func TestListAndRequeue(t *testing.T) {
	spool := deadSpool(t, 3)
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-spool", spool}, &out, io.Discard))
	assert.Contains(t, out.String(), "HTTP 403 forbidden")
	assert.Contains(t, out.String(), "call-2")

	dls, err := delivery.DeadLetters(spool)
	require.NoError(t, err)
	require.Len(t, dls, 3)
	out.Reset()
	require.NoError(t, run(context.Background(), []string{"-spool", spool, dls[0].Name}, &out, io.Discard))
	assert.Equal(t, "requeued "+dls[0].Name+"\n", out.String())
	err = run(context.Background(), []string{"-spool", spool, dls[0].Name}, io.Discard, io.Discard)
	require.ErrorIs(t, err, delivery.ErrNotFound)

	require.NoError(t, run(context.Background(), []string{"-spool", spool, "-all"}, io.Discard, io.Discard))
	dls, err = delivery.DeadLetters(spool)
	require.NoError(t, err)
	assert.Empty(t, dls)

	q, err := delivery.New(delivery.Config{Dir: spool, Sink: delivery.SinkFunc(func(context.Context, delivery.Item) error { return nil })})
	require.NoError(t, err)
	assert.Equal(t, 3, q.Stats().Queued, "requeued recordings are back in the queue")
	require.NoError(t, q.Close())
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"-spool", "x", "-all", "name"}, {"-bogus"}} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		assert.ErrorIs(t, err, errUsage, "%q", args)
	}
}
