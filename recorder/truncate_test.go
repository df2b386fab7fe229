package recorder_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/go-audio/wav"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/recorder"
)

// fillingFile is a real file on a disk that fills after limit bytes: the
// write that crosses the limit writes what fits and fails with err, as
// write(2) does on a full file system, and so does every later one.
type fillingFile struct {
	*os.File
	limit int64
	err   error
}

func (f *fillingFile) Write(p []byte) (int, error) {
	off, err := f.File.Seek(0, 1)
	if err != nil {
		return 0, err
	}
	if room := f.limit - off; int64(len(p)) > room {
		n, _ := f.File.Write(p[:max(room, 0)])
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: f.err}
	}
	return f.File.Write(p)
}

// TestTruncatedAtLastGoodFrame: the disk fills mid-call. Writes report
// ErrWrite from then on; Close finishes the file at the last frame written
// whole, reports ErrTruncated with the reason, and the file is a valid WAV
// whose sizes match its length, whose audio is the call's up to the cut,
// and whose SHA-256 the Result carries.
func TestTruncatedAtLastGoodFrame(t *testing.T) {
	for _, tc := range []struct {
		errno  syscall.Errno
		reason string
	}{{syscall.ENOSPC, recorder.ReasonNoSpace}, {syscall.EIO, recorder.ReasonIOError}} {
		t.Run(tc.reason, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "call.wav")
			f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
			require.NoError(t, err)
			defer f.Close()
			// 1.5 s of stereo and an odd 1,001 bytes: the failing write is
			// cut mid-frame.
			const limit = recorder.HeaderSize + 48000 + 1001
			out := &fillingFile{File: f, limit: limit, err: tc.errno}
			c := newCall(t, func(cfg *recorder.Config) { cfg.Path, cfg.Writer = "", out })
			var writeErr error
			var sent time.Duration
			for ; sent < 4*time.Second; sent += 20 * time.Millisecond {
				e1 := c.rec.Caller().Write(marshal(t, c.caller.Next()), at(sent))
				e2 := c.rec.Callee().Write(marshal(t, c.callee.Next()), at(sent))
				if writeErr == nil && (e1 != nil || e2 != nil) {
					writeErr = fmt.Errorf("%w %w", e1, e2)
				}
			}
			require.ErrorIs(t, writeErr, recorder.ErrWrite, "the failure reaches the writer of the packets")
			c.clk.Set(at(sent))
			res, err := c.rec.Close(context.Background())
			require.ErrorIs(t, err, recorder.ErrTruncated)
			require.ErrorIs(t, err, recorder.ErrWrite)
			require.ErrorIs(t, err, tc.errno)
			assert.True(t, res.Truncated)
			assert.Equal(t, tc.reason, res.TruncatedReason)

			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.EqualValues(t, len(raw), res.Size, "the Result describes the file")
			assert.LessOrEqual(t, len(raw), limit)
			assert.Greater(t, len(raw), limit-8<<10-4, "at most one write buffer is lost")
			assert.Zero(t, (len(raw)-recorder.HeaderSize)%4, "whole frames only")
			le := binary.LittleEndian
			assert.EqualValues(t, len(raw)-8, le.Uint32(raw[4:8]), "RIFF size matches the file")
			assert.EqualValues(t, len(raw)-recorder.HeaderSize, le.Uint32(raw[40:44]), "data size matches the file")
			sum := sha256.Sum256(raw)
			assert.Equal(t, hex.EncodeToString(sum[:]), res.SHA256)

			a := readWAV(t, path)
			assert.Equal(t, res.Duration, a.Duration())
			assert.Equal(t, res.Frames, int64(len(raw)-recorder.HeaderSize)/4)
			assert.Greater(t, res.Duration, time.Second)
			assertTone(t, a, left, 0, res.Duration-40*time.Millisecond, 440, 1000)
			assertTone(t, a, right, 0, res.Duration-40*time.Millisecond, 1000, 440)

			// An independent decoder agrees.
			rf, err := os.Open(path)
			require.NoError(t, err)
			defer rf.Close()
			d := wav.NewDecoder(rf)
			require.True(t, d.IsValidFile())
			buf, err := d.FullPCMBuffer()
			require.NoError(t, err)
			assert.EqualValues(t, 2*res.Frames, len(buf.Data), "samples decoded")
			assert.EqualValues(t, 4*res.Frames, d.PCMLen())
		})
	}
}

// TestTruncateReason names the errors a disk reports.
func TestTruncateReason(t *testing.T) {
	for err, want := range map[error]string{
		&os.PathError{Op: "write", Err: syscall.ENOSPC}: recorder.ReasonNoSpace,
		syscall.EDQUOT:                   recorder.ReasonQuota,
		fmt.Errorf("x: %w", syscall.EIO): recorder.ReasonIOError,
		syscall.EFBIG:                    recorder.ReasonTooLarge,
		syscall.EROFS:                    recorder.ReasonReadOnly,
		errDiskFull:                      recorder.ReasonWriteFail,
	} {
		assert.Equal(t, want, recorder.TruncateReason(err), "%v", err)
	}
}

// TruncateReason names why a recording was cut short, for metadata and
// metric labels.
func ExampleTruncateReason() {
	err := fmt.Errorf("%w: %w", recorder.ErrWrite, &os.PathError{Op: "write", Path: "call.wav", Err: syscall.ENOSPC})
	fmt.Println(recorder.TruncateReason(err))
	// Output: no_space
}
