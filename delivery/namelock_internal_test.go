package delivery

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNameLocks(t *testing.T) {
	var l nameLocks
	ctx := context.Background()
	unlockA, err := l.lock(ctx, "day/call-1")
	require.NoError(t, err)
	unlockB, err := l.lock(ctx, "day/call-2")
	require.NoError(t, err, "another name does not wait")

	// A second holder of the same name waits, and gives up with its context.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = l.lock(short, "day/call-1")
	require.ErrorIs(t, err, context.DeadlineExceeded)

	got := make(chan func())
	go func() {
		unlock, err := l.lock(ctx, "day/call-1")
		assert.NoError(t, err)
		got <- unlock
	}()
	select {
	case <-got:
		t.Fatal("the name was taken twice")
	case <-time.After(20 * time.Millisecond):
	}
	unlockA()
	unlockA2 := <-got
	unlockA2()
	unlockB()
	assert.Zero(t, l.held(), "idle names are forgotten")
}
