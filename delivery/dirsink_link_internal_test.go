//go:build unix

package delivery

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// spooledItem returns an item whose audio is the file src, as the queue
// builds them (with its path), with the digest and size of want.
func spooledItem(t *testing.T, src string, want []byte) Item {
	t.Helper()
	sum, err := fileSHA256(src)
	require.NoError(t, err)
	if string(want) != string(mustRead(t, src)) {
		sum = "00" + sum[2:]
	}
	md := Metadata{ID: newID(time.Now()), CallID: "call-1", AudioExt: ".wav", SHA256: sum,
		Size: int64(len(want)), Enqueued: time.Now()}
	return Item{Metadata: md, Attempt: 1, path: src, open: func() (io.ReadCloser, error) { return os.Open(src) }}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	return b
}

func deliveredAudio(t *testing.T, root string) []string {
	t.Helper()
	var wavs []string
	require.NoError(t, filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && filepath.Ext(path) == ".wav" {
			wavs = append(wavs, path)
		}
		return err
	}))
	return wavs
}

// TestDirSinkLinksSpooledAudio: on the spool's file system the delivered
// audio is the spooled file itself, with the sink's permissions, and a
// redelivery replaces it.
func TestDirSinkLinksSpooledAudio(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "audio.wav")
	require.NoError(t, os.WriteFile(src, callAudio[:4096], 0o640))
	sink, err := NewDirSink(DirSinkConfig{Dir: filepath.Join(root, "out")})
	require.NoError(t, err)
	item := spooledItem(t, src, callAudio[:4096])
	for range 2 {
		require.NoError(t, sink.Deliver(context.Background(), item))
	}
	wavs := deliveredAudio(t, filepath.Join(root, "out"))
	require.Len(t, wavs, 1)
	sfi, err := os.Stat(src)
	require.NoError(t, err)
	dfi, err := os.Stat(wavs[0])
	require.NoError(t, err)
	assert.True(t, os.SameFile(sfi, dfi), "linked, not copied")
	assert.Equal(t, os.FileMode(0o640), dfi.Mode().Perm())
	assert.FileExists(t, filepath.Join(filepath.Dir(wavs[0]), item.Metadata.BaseName()+".json"))
	left, err := os.ReadDir(filepath.Dir(wavs[0]))
	require.NoError(t, err)
	assert.Len(t, left, 2, "no temporary names left")
}

// TestDirSinkLinkChecksDigest: spooled audio that no longer matches its
// digest is refused for good, as a copy is, and nothing is linked.
func TestDirSinkLinkChecksDigest(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "audio.wav")
	require.NoError(t, os.WriteFile(src, callAudio[:4096], 0o640))
	sink, err := NewDirSink(DirSinkConfig{Dir: filepath.Join(root, "out")})
	require.NoError(t, err)
	corrupt := append([]byte{9}, callAudio[1:4096]...)
	err = sink.Deliver(context.Background(), spooledItem(t, src, corrupt))
	require.ErrorIs(t, err, ErrChecksumMismatch)
	assert.True(t, IsPermanent(err))
	assert.Empty(t, deliveredAudio(t, filepath.Join(root, "out")))
}

// TestDirSinkCopiesAcrossFileSystems: when the destination is another
// file system (a link fails with EXDEV), the audio is copied.
func TestDirSinkCopiesAcrossFileSystems(t *testing.T) {
	other := "/dev/shm"
	root := t.TempDir()
	var a, b syscall.Stat_t
	if syscall.Stat(other, &a) != nil || syscall.Stat(root, &b) != nil || a.Dev == b.Dev {
		t.Skipf("%s is not a file system other than %s's", other, root)
	}
	srcDir, err := os.MkdirTemp(other, "dirsink-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(srcDir) })
	src := filepath.Join(srcDir, "audio.wav")
	require.NoError(t, os.WriteFile(src, callAudio[:4096], 0o640))
	sink, err := NewDirSink(DirSinkConfig{Dir: filepath.Join(root, "out")})
	require.NoError(t, err)
	require.NoError(t, sink.Deliver(context.Background(), spooledItem(t, src, callAudio[:4096])))
	wavs := deliveredAudio(t, filepath.Join(root, "out"))
	require.Len(t, wavs, 1)
	assert.Equal(t, callAudio[:4096], mustRead(t, wavs[0]))
	sfi, err := os.Stat(src)
	require.NoError(t, err)
	dfi, err := os.Stat(wavs[0])
	require.NoError(t, err)
	assert.False(t, os.SameFile(sfi, dfi))
}
