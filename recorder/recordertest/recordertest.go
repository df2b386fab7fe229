package recordertest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/go-audio/wav"
	"github.com/pion/rtp"
	"github.com/zaf/g711"

	"github.com/callrec/callrec/recorder"
)

// Audio is a decoded 16-bit PCM WAV file: one slice of samples per channel,
// as floats on the int16 scale.
type Audio struct {
	SampleRate int
	Channels   [][]float64
}

// Decode decodes a WAV file with github.com/go-audio/wav, an implementation
// independent of the recorder's own writer.
func Decode(data []byte) (Audio, error) {
	d := wav.NewDecoder(bytes.NewReader(data))
	if !d.IsValidFile() {
		return Audio{}, errors.New("recordertest: go-audio/wav rejects the file")
	}
	buf, err := d.FullPCMBuffer()
	if err != nil {
		return Audio{}, fmt.Errorf("recordertest: decode: %w", err)
	}
	if d.BitDepth != 16 {
		return Audio{}, fmt.Errorf("recordertest: %d-bit samples, want 16", d.BitDepth)
	}
	n := buf.Format.NumChannels
	a := Audio{SampleRate: buf.Format.SampleRate, Channels: make([][]float64, n)}
	for ch := range a.Channels {
		a.Channels[ch] = make([]float64, 0, len(buf.Data)/n)
	}
	for i, v := range buf.Data {
		a.Channels[i%n] = append(a.Channels[i%n], float64(v))
	}
	return a, nil
}

// ReadFile decodes the WAV file at path.
func ReadFile(path string) (Audio, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Audio{}, err
	}
	return Decode(data)
}

// Duration returns the length of the audio.
func (a Audio) Duration() time.Duration {
	if len(a.Channels) == 0 || a.SampleRate == 0 {
		return 0
	}
	return time.Duration(len(a.Channels[0])) * time.Second / time.Duration(a.SampleRate)
}

// Segment returns the samples of channel ch between from and to, clipped
// to the audio; nil when nothing is left.
func (a Audio) Segment(ch int, from, to time.Duration) []float64 {
	if ch < 0 || ch >= len(a.Channels) {
		return nil
	}
	x := a.Channels[ch]
	i := max(int(from*time.Duration(a.SampleRate)/time.Second), 0)
	j := min(int(to*time.Duration(a.SampleRate)/time.Second), len(x))
	if i >= j {
		return nil
	}
	return x[i:j]
}

// Power returns the power of frequency freq in x by the Goertzel algorithm,
// normalised by the square of the length: a sine of amplitude A at freq
// gives about A²/4.
func Power(x []float64, freq float64, rate int) float64 {
	if len(x) == 0 {
		return 0
	}
	c := 2 * math.Cos(2*math.Pi*freq/float64(rate))
	var s1, s2 float64
	for _, v := range x {
		s1, s2 = v+c*s1-s2, s1
	}
	n := float64(len(x))
	return (s1*s1 + s2*s2 - c*s1*s2) / (n * n)
}

// RMS returns the root mean square of x; 0 for no samples.
func RMS(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	var sum float64
	for _, v := range x {
		sum += v * v
	}
	return math.Sqrt(sum / float64(len(x)))
}

// Thresholds of CheckTone and CheckSilent, on the int16 scale.
const (
	// ToneRMS is the level above which a span carries a signal.
	ToneRMS = 1000
	// SilenceRMS is the level below which a span is digital silence (a
	// decoded G.711 silence is 0 for PCMU 0xff, ±8 for PCMA 0xd5).
	SilenceRMS = 10
	// Dominance is how much more power the expected frequency must have
	// than the other one.
	Dominance = 100
)

// CheckTone returns an error unless channel ch carries a signal between
// from and to in which freq dominates other.
func CheckTone(a Audio, ch int, from, to time.Duration, freq, other float64) error {
	x := a.Segment(ch, from, to)
	if len(x) == 0 {
		return fmt.Errorf("channel %d [%v, %v) is beyond the audio (%v)", ch, from, to, a.Duration())
	}
	if r := RMS(x); r < ToneRMS {
		return fmt.Errorf("channel %d [%v, %v) is silent (rms %.1f)", ch, from, to, r)
	}
	if pf, po := Power(x, freq, a.SampleRate), Power(x, other, a.SampleRate); pf < Dominance*po {
		return fmt.Errorf("channel %d [%v, %v): %v Hz (%.3g) does not dominate %v Hz (%.3g)", ch, from, to, freq, pf, other, po)
	}
	return nil
}

// CheckSilent returns an error unless channel ch is silent between from
// and to.
func CheckSilent(a Audio, ch int, from, to time.Duration) error {
	x := a.Segment(ch, from, to)
	if len(x) == 0 {
		return fmt.Errorf("channel %d [%v, %v) is beyond the audio (%v)", ch, from, to, a.Duration())
	}
	if r := RMS(x); r >= SilenceRMS {
		return fmt.Errorf("channel %d [%v, %v) is not silent (rms %.1f)", ch, from, to, r)
	}
	return nil
}

// Tone generates RTP packets of a sine wave, 20 ms each, with consecutive
// sequence numbers and timestamps. Change the exported fields between
// packets to simulate a sender's faults (an SSRC change, a timestamp jump).
type Tone struct {
	Freq        float64
	Codec       recorder.Codec // CodecPCMU or CodecPCMA
	PayloadType uint8
	SSRC        uint32
	Seq         uint16 // sequence number of the next packet
	TS          uint32 // timestamp of the next packet
	n           int    // samples generated, for the phase
}

// PacketSamples is the number of samples in a Tone packet.
const PacketSamples = 160

// NewTone returns a generator of PCMU packets (payload type 0) of freq Hz at
// amplitude 8000, from sequence number 1000 and timestamp 16000.
func NewTone(freq float64, ssrc uint32) *Tone {
	return &Tone{Freq: freq, Codec: recorder.CodecPCMU, SSRC: ssrc, Seq: 1000, TS: 16000}
}

// Next returns the next packet and advances the sequence number and
// timestamp.
func (g *Tone) Next() *rtp.Packet {
	payload := make([]byte, PacketSamples)
	for i := range payload {
		s := int16(8000 * math.Sin(2*math.Pi*g.Freq*float64(g.n+i)/recorder.SampleRate))
		if g.Codec == recorder.CodecPCMA {
			payload[i] = g711.EncodeAlawFrame(s)
		} else {
			payload[i] = g711.EncodeUlawFrame(s)
		}
	}
	p := &rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: g.PayloadType, SequenceNumber: g.Seq, Timestamp: g.TS, SSRC: g.SSRC},
		Payload: payload,
	}
	g.n += PacketSamples
	g.Seq++
	g.TS += PacketSamples
	return p
}

// Skip advances the generator by one packet, as if it had been lost.
func (g *Tone) Skip() { g.Next() }

// File is an in-memory io.ReadWriteSeeker for a recording's output; Data
// is the file.
type File struct {
	Data []byte
	off  int64
}

// Write writes at the current offset, growing Data as needed.
func (f *File) Write(p []byte) (int, error) {
	if end := f.off + int64(len(p)); end > int64(len(f.Data)) {
		f.Data = append(f.Data, make([]byte, end-int64(len(f.Data)))...)
	}
	n := copy(f.Data[f.off:], p)
	f.off += int64(n)
	return n, nil
}

// Read reads from the current offset.
func (f *File) Read(p []byte) (int, error) {
	if f.off >= int64(len(f.Data)) {
		return 0, io.EOF
	}
	n := copy(p, f.Data[f.off:])
	f.off += int64(n)
	return n, nil
}

// Seek implements io.Seeker.
func (f *File) Seek(off int64, whence int) (int64, error) {
	off, err := seek(f.off, int64(len(f.Data)), off, whence)
	if err == nil {
		f.off = off
	}
	return off, err
}

// Truncate cuts Data to size, or extends it with zeros, as
// os.File.Truncate does; the offset stays.
func (f *File) Truncate(size int64) error {
	if size < 0 {
		return errors.New("recordertest: negative size")
	}
	if size <= int64(len(f.Data)) {
		f.Data = f.Data[:size]
	} else {
		f.Data = append(f.Data, make([]byte, size-int64(len(f.Data)))...)
	}
	return nil
}

// Discard is an io.WriteSeeker that keeps nothing but the size of what was
// written, for benchmarks and long calls. It cannot be read back, so a
// recording's Result.SHA256 stays empty.
type Discard struct {
	Size int64 // size of the file
	off  int64
}

// Write counts p.
func (d *Discard) Write(p []byte) (int, error) {
	d.off += int64(len(p))
	d.Size = max(d.Size, d.off)
	return len(p), nil
}

// Seek implements io.Seeker.
func (d *Discard) Seek(off int64, whence int) (int64, error) {
	off, err := seek(d.off, d.Size, off, whence)
	if err == nil {
		d.off = off
	}
	return off, err
}

func seek(cur, size, off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += cur
	case io.SeekEnd:
		off += size
	default:
		return cur, errors.New("recordertest: invalid whence")
	}
	if off < 0 {
		return cur, errors.New("recordertest: negative offset")
	}
	return off, nil
}
