package delivery_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/delivery/deliverytest"
	"github.com/callrec/callrec/delivery/receiver"
)

// TestOutage queues 500 recordings while the customer's server answers 503,
// brings it back, and checks that every recording arrives exactly as written
// and only once.
func TestOutage(t *testing.T) {
	const n = 500
	for _, method := range []string{http.MethodPut, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			rcv, srv := newReceiver(t, receiver.Config{}, nil)
			rcv.SetDown(time.Now().Add(time.Hour))
			sink, err := delivery.NewHTTPSink(delivery.HTTPSinkConfig{URL: srv.URL + "/rec", Method: method})
			require.NoError(t, err)
			defer sink.Close()
			q := newQueue(t, delivery.Config{Sink: sink, Workers: 8,
				Backoff: delivery.Backoff{Base: 2 * time.Millisecond, Cap: 20 * time.Millisecond},
				Circuit: delivery.Circuit{Threshold: 5, MinOpen: 5 * time.Millisecond, MaxOpen: 20 * time.Millisecond}})
			require.NoError(t, q.Start())

			src := t.TempDir()
			want := map[string]string{} // call ID → sha256
			for i := range n {
				callID := fmt.Sprintf("outage-%03d@example.com", i)
				p, sum := writeSource(t, src, callID, 200+i*3)
				want[callID] = sum
				require.NoError(t, q.Enqueue(deliverCtx(t), delivery.Recording{AudioPath: p, Metadata: delivery.Metadata{CallID: callID}}))
			}
			waitFor(t, "the circuit to open", 10*time.Second, func() bool { return q.Stats().Circuit != delivery.CircuitClosed })
			st := q.Stats()
			assert.Zero(t, st.Delivered)
			assert.Equal(t, n, st.Queued)
			assert.Positive(t, st.OldestAge)

			rcv.SetDown(time.Time{})
			waitFor(t, "all recordings delivered", 60*time.Second, func() bool { return q.Stats().Delivered == n })

			st = q.Stats()
			assert.Zero(t, st.Queued)
			assert.Zero(t, st.DeadLettered)
			assert.Positive(t, st.Retried)
			ids, err := rcv.IDs()
			require.NoError(t, err)
			require.Len(t, ids, n, "one stored recording per enqueued recording")
			seen := map[string]bool{}
			for _, id := range ids {
				audio, md, err := rcv.Load(id)
				require.NoError(t, err)
				sum := sha256.Sum256(audio)
				require.Equal(t, want[md.CallID], hex.EncodeToString(sum[:]), md.CallID)
				require.Equal(t, deliverytest.Audio(md.CallID, len(audio)), audio)
				require.False(t, seen[md.CallID], "duplicate %s", md.CallID)
				seen[md.CallID] = true
			}
			assert.Len(t, seen, n)
			rs := rcv.Stats()
			assert.Equal(t, n, rs.Stored)
			assert.Positive(t, rs.Failed)
			t.Logf("queue %+v; receiver %+v", st, rs)
		})
	}
}
