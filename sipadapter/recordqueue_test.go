package sipadapter

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/sipadapter/relay"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRecordQueueOverflowCountedExactly: with the writer held up, the
// queue takes recordQueueLen packets and refuses the rest without
// blocking, counting each per party; once the writer runs, everything
// queued reaches the recording.
func TestRecordQueueOverflowCountedExactly(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	rec, err := recorder.New(recorder.Config{Path: filepath.Join(t.TempDir(), "r.wav"), Start: start,
		Clock: func() time.Time { return start.Add(20 * time.Second) }})
	require.NoError(t, err)
	q := newRecordQueue(rec, newRecordBufs())
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 1}, Payload: make([]byte, 160)}
	const extra = 7
	for i := range recordQueueLen + extra {
		party := relay.Party(i % 2)
		pkt.SequenceNumber, pkt.Timestamp = uint16(i/2), uint32(i/2*160)
		err := q.push(party, pkt, start.Add(time.Duration(i/2)*20*time.Millisecond))
		if i < recordQueueLen {
			require.NoError(t, err)
		} else {
			require.ErrorIs(t, err, errRecordQueueFull)
		}
	}
	go q.run()
	q.close()
	assert.Equal(t, [2]uint64{extra - extra/2, extra / 2}, q.lost(), "the overflow alternates caller, callee, caller…")
	res, err := rec.Close(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, recordQueueLen/2, res.Caller.Received)
	assert.EqualValues(t, recordQueueLen/2, res.Callee.Received)
}
