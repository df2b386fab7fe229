package recorder_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/recorder/recordertest"
)

// FuzzLegWrite feeds arbitrary bytes to both legs as a stream of packets and
// checks that nothing panics, every error is ErrMalformed, the counters add
// up, and the result is a WAV file of the call's length that go-audio/wav
// decodes.
//
// The input is a sequence of records: a control byte (bit 0: leg, bits 1-3:
// arrival step in 10 ms units, bit 4: arrival goes back 30 ms instead),
// a length byte, then that many bytes of packet.
func FuzzLegWrite(f *testing.F) {
	var seed []byte
	caller, callee := newTone(440, 1), newTone(1000, 1)
	for i := range 8 {
		for side, g := range []*recordertest.Tone{caller, callee} {
			p := g.Next()
			p.Payload = p.Payload[:40]
			switch i {
			case 3:
				p.PayloadType = 101
				p.Payload = []byte{1, 0x8a, 0, 160}
			case 5:
				p.SequenceNumber -= 2
			case 6:
				p.SSRC++
				p.Marker = true
			}
			raw, err := p.Marshal()
			require.NoError(f, err)
			seed = append(seed, byte(side|4), byte(len(raw)))
			seed = append(seed, raw...)
		}
	}
	f.Add(seed)
	f.Add([]byte{0, 12, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{1, 3, 0xff, 0xff, 0xff})

	f.Fuzz(func(t *testing.T, data []byte) {
		f := &recordertest.File{}
		now := t0
		rec, err := recorder.New(recorder.Config{
			Writer:             f,
			Clock:              func() time.Time { return now },
			CalleePayloadTypes: recorder.PayloadTypes{0: recorder.CodecPCMU, 8: recorder.CodecPCMA, 13: recorder.CodecComfortNoise, 101: recorder.CodecTelephoneEvent},
		})
		require.NoError(t, err)
		var writes [2]uint64
		arrival := t0
		for len(data) >= 2 {
			ctl, n := data[0], int(data[1])
			data = data[2:]
			n = min(n, len(data))
			raw := data[:n]
			data = data[n:]
			if ctl&0x10 != 0 {
				arrival = arrival.Add(-30 * time.Millisecond)
			} else {
				arrival = arrival.Add(time.Duration(ctl>>1&7) * 10 * time.Millisecond)
			}
			side := ctl & 1
			leg := rec.Caller()
			if side == 1 {
				leg = rec.Callee()
			}
			writes[side]++
			if err := leg.Write(raw, arrival); err != nil && !errors.Is(err, recorder.ErrMalformed) {
				t.Fatalf("write: %v", err)
			}
			if arrival.After(now) {
				now = arrival
			}
		}
		res, err := rec.Close(context.Background())
		require.NoError(t, err)

		for side, s := range []recorder.Stats{res.Caller, res.Callee} {
			require.Equal(t, writes[side], s.Received+s.Malformed, "side %d: %+v", side, s)
			require.Equal(t, s.Received, s.Decoded+s.ComfortNoise+s.EventPackets+s.Skipped+s.Late+s.Duplicated, "side %d: %+v", side, s)
			require.LessOrEqual(t, s.Reordered, s.Received)
		}
		require.LessOrEqual(t, len(res.DTMF), int(res.Caller.DTMFEvents+res.Callee.DTMFEvents))
		require.EqualValues(t, len(f.Data), res.Size)
		require.EqualValues(t, recorder.HeaderSize+res.Frames*4, res.Size)
		require.GreaterOrEqual(t, res.Duration, now.Sub(t0).Truncate(time.Second/recorder.SampleRate))
		a := decodeWAV(t, f.Data)
		require.EqualValues(t, res.Frames, len(a.Channels[0]))
	})
}

// TestWriteRTPMatchesWrite checks that the parsed and raw entry points
// record the same file.
func TestWriteRTPMatchesWrite(t *testing.T) {
	record := func(useRTP bool) []byte {
		f := &recordertest.File{}
		c := newCall(t, func(cfg *recorder.Config) { cfg.Path, cfg.Writer = "", f })
		for i := range 50 {
			d := time.Duration(i) * 20 * time.Millisecond
			for _, side := range []struct {
				leg *recorder.Leg
				p   *rtp.Packet
			}{{c.rec.Caller(), c.caller.Next()}, {c.rec.Callee(), c.callee.Next()}} {
				if i%7 == 3 {
					side.p.Padding, side.p.PaddingSize = true, 4
				}
				if useRTP {
					raw := marshal(t, side.p)
					var parsed rtp.Packet
					require.NoError(t, parsed.Unmarshal(raw))
					require.NoError(t, side.leg.WriteRTP(&parsed, at(d)))
				} else {
					require.NoError(t, side.leg.Write(marshal(t, side.p), at(d)))
				}
			}
		}
		c.close(time.Second)
		return f.Data
	}
	raw, parsed := record(false), record(true)
	require.Equal(t, raw, parsed)
	assertTone(t, decodeWAV(t, raw), left, 0, time.Second, 440, 1000)

	rec, err := recorder.New(recorder.Config{Writer: &recordertest.Discard{}})
	require.NoError(t, err)
	require.ErrorIs(t, rec.Caller().WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 1}}, time.Time{}), recorder.ErrMalformed)
	require.ErrorIs(t, rec.Caller().WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 200}}, time.Time{}), recorder.ErrMalformed)
	require.NoError(t, rec.Caller().WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2}, Payload: []byte{0xff}}, time.Time{}),
		"a zero arrival means the clock's now")
	res, err := rec.Close(context.Background())
	require.NoError(t, err)
	require.EqualValues(t, 2, res.Caller.Malformed)
	require.EqualValues(t, 1, res.Caller.Decoded)
}
