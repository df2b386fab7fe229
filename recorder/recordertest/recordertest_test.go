package recordertest

import (
	"io"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sine(freq, amp float64, n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = amp * math.Sin(2*math.Pi*freq*float64(i)/8000)
	}
	return x
}

func TestPowerAndRMS(t *testing.T) {
	x := sine(440, 1000, 8000)
	assert.InDelta(t, 1000*1000/4.0, Power(x, 440, 8000), 1000)
	assert.Less(t, Power(x, 1000, 8000), 1.0)
	assert.InDelta(t, 1000/math.Sqrt2, RMS(x), 1)
	assert.Zero(t, RMS(nil))
	assert.Zero(t, Power(nil, 440, 8000))
}

func TestChecks(t *testing.T) {
	a := Audio{SampleRate: 8000, Channels: [][]float64{sine(440, 8000, 8000), make([]float64, 8000)}}
	assert.Equal(t, time.Second, a.Duration())
	assert.NoError(t, CheckTone(a, 0, 0, time.Second, 440, 1000))
	assert.ErrorContains(t, CheckTone(a, 0, 0, time.Second, 1000, 440), "does not dominate")
	assert.ErrorContains(t, CheckTone(a, 1, 0, time.Second, 440, 1000), "silent")
	assert.ErrorContains(t, CheckTone(a, 0, 2*time.Second, 3*time.Second, 440, 1000), "beyond")
	assert.NoError(t, CheckSilent(a, 1, 0, time.Second))
	assert.ErrorContains(t, CheckSilent(a, 0, 0, time.Second), "not silent")
	assert.ErrorContains(t, CheckSilent(a, 2, 0, time.Second), "beyond")
}

func TestFileAndDiscard(t *testing.T) {
	f := &File{}
	_, err := f.Write([]byte("hello world"))
	require.NoError(t, err)
	off, err := f.Seek(-5, io.SeekEnd)
	require.NoError(t, err)
	assert.EqualValues(t, 6, off)
	_, err = f.Write([]byte("WORLD!"))
	require.NoError(t, err)
	_, err = f.Seek(0, io.SeekStart)
	require.NoError(t, err)
	got, err := io.ReadAll(f)
	require.NoError(t, err)
	assert.Equal(t, "hello WORLD!", string(got))
	_, err = f.Seek(-1, io.SeekStart)
	assert.Error(t, err)

	d := &Discard{}
	_, err = d.Write(make([]byte, 100))
	require.NoError(t, err)
	_, err = d.Seek(10, io.SeekStart)
	require.NoError(t, err)
	_, err = d.Write(make([]byte, 5))
	require.NoError(t, err)
	assert.EqualValues(t, 100, d.Size)
	_, err = d.Seek(0, 7)
	assert.Error(t, err)
}

func TestTone(t *testing.T) {
	g := NewTone(1000, 42)
	p := g.Next()
	assert.EqualValues(t, 1000, p.SequenceNumber)
	assert.EqualValues(t, 16000, p.Timestamp)
	assert.Len(t, p.Payload, PacketSamples)
	g.Skip()
	assert.EqualValues(t, 1002, g.Seq)
	assert.EqualValues(t, 16000+2*PacketSamples, g.TS)
}
