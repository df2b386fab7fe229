package recorder

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzParseRTP checks the allocation-free parser against pion/rtp: what it
// accepts, pion accepts with the same fields and payload; what it rejects
// wraps ErrMalformed.
func FuzzParseRTP(f *testing.F) {
	for _, p := range []*rtp.Packet{
		{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 7, Timestamp: 160, SSRC: 0xCA110000}, Payload: []byte{1, 2, 3}},
		{Header: rtp.Header{Version: 2, Marker: true, PayloadType: 101, CSRC: []uint32{1, 2}}, Payload: []byte{1, 0x8a, 0, 160}},
		{Header: rtp.Header{Version: 2, Padding: true, PaddingSize: 3}, Payload: []byte{9}},
	} {
		raw, err := p.Marshal()
		require.NoError(f, err)
		f.Add(raw)
	}
	ext := &rtp.Packet{Header: rtp.Header{Version: 2}, Payload: []byte{5}}
	require.NoError(f, ext.SetExtension(1, []byte{0xaa}))
	raw, err := ext.Marshal()
	require.NoError(f, err)
	f.Add(raw)

	f.Fuzz(func(t *testing.T, b []byte) {
		h, payload, err := parseRTP(b)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformed)
			return
		}
		// parseRTP skips the header extension by its length; pion also
		// parses RFC 8285 elements. Zeros are padding elements to both.
		c := bytes.Clone(b)
		if c[0]&0x10 != 0 {
			off := 12 + 4*int(c[0]&0x0f)
			clear(c[off+4 : off+4+4*int(binary.BigEndian.Uint16(c[off+2:]))])
		}
		var p rtp.Packet
		require.NoError(t, p.Unmarshal(c), "pion rejects what parseRTP accepts")
		assert.Equal(t, header{marker: p.Marker, pt: p.PayloadType, seq: p.SequenceNumber, ts: p.Timestamp, ssrc: p.SSRC}, h)
		assert.Equal(t, p.Payload, payload)
		assert.EqualValues(t, 2, p.Version)
	})
}

func TestParseRTPErrors(t *testing.T) {
	valid := []byte{0x80, 0, 0, 1, 0, 0, 0, 160, 0xCA, 0x11, 0, 0, 0xff}
	tests := map[string]struct {
		b    []byte
		want error
	}{
		"short":               {b: valid[:11], want: errShort},
		"version 0":           {b: append([]byte{0x00}, valid[1:]...), want: errVersion},
		"csrc past the end":   {b: append([]byte{0x83}, valid[1:]...), want: errCSRC},
		"extension past end":  {b: append([]byte{0x90}, valid[1:]...), want: errExtension},
		"padding of zero":     {b: append(append([]byte{0xa0}, valid[1:12]...), 0), want: errPadding},
		"padding past header": {b: append(append([]byte{0xa0}, valid[1:12]...), 5), want: errPadding},
		"padding, no payload": {b: append([]byte{0xa0}, valid[1:12]...), want: errPadding},
		"rtcp sender report":  {b: append([]byte{0x80, 200}, valid[2:]...), want: errRTCP},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, _, err := parseRTP(tt.b)
			require.True(t, errors.Is(err, tt.want), "got %v, want %v", err, tt.want)
			require.ErrorIs(t, err, ErrMalformed)
		})
	}
	h, payload, err := parseRTP(valid)
	require.NoError(t, err)
	assert.Equal(t, header{seq: 1, ts: 160, ssrc: 0xCA110000}, h)
	assert.Equal(t, []byte{0xff}, payload)
}

func TestSeqTracker(t *testing.T) {
	tests := map[string]struct {
		start uint16 // first sequence number; 10 if zero
		seqs  []uint16
		want  []seqClass
		lost  uint64
	}{
		"in order":  {seqs: []uint16{11, 12, 13}, want: []seqClass{seqNew, seqNew, seqNew}},
		"gap":       {seqs: []uint16{11, 14}, want: []seqClass{seqNew, seqNew}, lost: 2},
		"reordered": {seqs: []uint16{12, 11, 13}, want: []seqClass{seqNew, seqReordered, seqNew}},
		"reordered before the first": {
			seqs: []uint16{9, 11},
			want: []seqClass{seqReordered, seqNew},
		},
		"duplicate":         {seqs: []uint16{11, 11, 10, 10}, want: []seqClass{seqNew, seqDuplicate, seqDuplicate, seqDuplicate}},
		"old duplicate":     {seqs: []uint16{11, 90, 11}, want: []seqClass{seqNew, seqNew, seqDuplicate}, lost: 78},
		"wrap-around":       {start: 65533, seqs: []uint16{65534, 65535, 0, 1}, want: []seqClass{seqNew, seqNew, seqNew, seqNew}},
		"dup across wrap":   {start: 65534, seqs: []uint16{65535, 0, 65535, 0}, want: []seqClass{seqNew, seqNew, seqDuplicate, seqDuplicate}},
		"loss across wrap":  {start: 65534, seqs: []uint16{2}, want: []seqClass{seqNew}, lost: 3},
		"stale":             {seqs: []uint16{5000}, want: []seqClass{seqStale}},
		"restart after two": {seqs: []uint16{5000, 5001, 5002}, want: []seqClass{seqStale, seqRestart, seqNew}},
		"restart backwards": {seqs: []uint16{11, 12, 60000, 60001, 60002}, want: []seqClass{seqNew, seqNew, seqStale, seqRestart, seqNew}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var s seqTracker
			s.reset(max(tt.start, 10), true)
			for i, seq := range tt.seqs {
				require.Equal(t, tt.want[i], s.update(seq), "packet %d (seq %d)", i, seq)
			}
			assert.Equal(t, tt.lost, s.lost())
		})
	}
}

func TestEventDigit(t *testing.T) {
	assert.Equal(t, "0123456789*#ABCD", string(func() []rune {
		var r []rune
		for e := range uint8(16) {
			r = append(r, eventDigit(e))
		}
		return r
	}()))
	assert.Zero(t, eventDigit(16))
}

func TestFramesOf(t *testing.T) {
	assert.EqualValues(t, 8000, framesOf(1e9))
	assert.EqualValues(t, 0, framesOf(124999))
	assert.EqualValues(t, -1, framesOf(-1))
	assert.EqualValues(t, -1, framesOf(-125000))
	assert.EqualValues(t, 3600*8000*24*365, framesOf(3600*1e9*24*365), "a year of frames does not overflow")
}
