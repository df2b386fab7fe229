package receiver

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fullDisk accepts limit bytes, then fails as a full disk does.
type fullDisk struct{ limit int }

func (d *fullDisk) Write(p []byte) (int, error) {
	if len(p) > d.limit {
		n := d.limit
		d.limit = 0
		return n, syscall.ENOSPC
	}
	d.limit -= len(p)
	return len(p), nil
}

// TestCopyBodyBlamesTheRightSide: a disk that fills mid-upload is this
// server's failure (500: the sender retries), a body that breaks off is
// the client's (400).
func TestCopyBodyBlamesTheRightSide(t *testing.T) {
	err := copyBody(&fullDisk{limit: 10}, strings.NewReader(strings.Repeat("x", 100)))
	require.ErrorIs(t, err, syscall.ENOSPC)
	var he *httpError
	assert.False(t, errors.As(err, &he), "a full disk must not answer 4xx: %v", err)

	broken := io.MultiReader(strings.NewReader("RIFF"), iotest.ErrReader(io.ErrUnexpectedEOF))
	err = copyBody(io.Discard, broken)
	require.ErrorAs(t, err, &he)
	assert.Equal(t, http.StatusBadRequest, he.code)

	require.NoError(t, copyBody(io.Discard, strings.NewReader("RIFF audio")))
}
