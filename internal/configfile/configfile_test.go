package configfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "service.yaml")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

// parseLines is a parse function that refuses any line saying "bad".
func parseLines(raw []byte) ([]string, error) {
	var (
		lines    []string
		problems []Problem
	)
	for i, l := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
		if strings.Contains(l, "bad") {
			problems = append(problems, Problem{Key: "k" + l[:1], Line: i + 1, Msg: "is bad"})
		}
		lines = append(lines, l)
	}
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	return lines, nil
}

func TestLoad(t *testing.T) {
	got, err := Load(writeFile(t, []byte("a\nb\n")), parseLines)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, got)

	path := writeFile(t, []byte("a\n1 bad\n2 bad\n"))
	got, err = Load(path, parseLines)
	require.ErrorIs(t, err, ErrInvalidConfig)
	assert.Nil(t, got)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, path, e.File, "Load names the file")
	assert.True(t, e.Has("k1"))
	assert.True(t, e.Has("k2"))
	assert.False(t, e.Has("k3"))
	assert.Equal(t, path+":2: k1: is bad\n"+path+":3: k2: is bad", err.Error())

	_, err = Load(filepath.Join(t.TempDir(), "absent.yaml"), parseLines)
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.NotErrorIs(t, err, ErrInvalidConfig)
}

// TestLoadSizeLimit: a file of MaxFileSize bytes is parsed; one byte more
// is refused before parse sees it.
func TestLoadSizeLimit(t *testing.T) {
	parsed := 0
	count := func(raw []byte) (int, error) { parsed++; return len(raw), nil }
	n, err := Load(writeFile(t, bytes.Repeat([]byte{'#'}, MaxFileSize)), count)
	require.NoError(t, err)
	assert.Equal(t, MaxFileSize, n)

	path := writeFile(t, bytes.Repeat([]byte{'#'}, MaxFileSize+1))
	_, err = Load(path, count)
	require.ErrorIs(t, err, ErrInvalidConfig)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, path+": file larger than 1048576 bytes", err.Error())
	assert.Equal(t, 1, parsed, "the oversized file never reaches parse")
}

// TestLoadParseErrors: an *Error wrapped by parse keeps its wrapping and
// gets the file; any other error is wrapped with the path.
func TestLoadParseErrors(t *testing.T) {
	path := writeFile(t, []byte("x\n"))
	sentinel := errors.New("no good")
	_, err := Load(path, func([]byte) (int, error) { return 0, sentinel })
	require.ErrorIs(t, err, sentinel)
	assert.NotErrorIs(t, err, ErrInvalidConfig)
	assert.Equal(t, path+": no good", err.Error())

	wrapped := func([]byte) (int, error) {
		return 0, errors.Join(errors.New("context"), &Error{Problems: []Problem{{Key: "k", Msg: "m"}}})
	}
	_, err = Load(path, wrapped)
	require.ErrorIs(t, err, ErrInvalidConfig)
	assert.Equal(t, "context\n"+path+": k: m", err.Error())

	other := "/etc/other.yaml"
	_, err = Load(path, func([]byte) (int, error) {
		return 0, &Error{File: other, Problems: []Problem{{Msg: "m"}}}
	})
	assert.Equal(t, other+": m", err.Error(), "a file parse named is kept")
}

func TestErrorFormat(t *testing.T) {
	e := &Error{Problems: []Problem{
		{Key: "listen", Msg: "not host:port"},
		{Line: 4, Key: "log.level", Msg: "loud"},
		{Msg: "empty"},
	}}
	assert.Equal(t, "listen: not host:port\nline 4: log.level: loud\nempty", e.Error())
	e.File = "f.yaml"
	assert.Equal(t, "f.yaml: listen: not host:port\nf.yaml:4: log.level: loud\nf.yaml: empty", e.Error())
	assert.ErrorIs(t, e, ErrInvalidConfig)
}
