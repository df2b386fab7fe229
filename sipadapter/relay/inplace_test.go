package relay_test

import (
	"testing"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/sipadapter/relay"
)

// growFilter rewrites the sequence number and adds a CSRC, so the header
// grows by 4 bytes and cannot be rewritten in the read buffer.
type growFilter struct{}

func (growFilter) Relay(p *rtp.Packet) bool {
	p.SequenceNumber += 1000
	p.CSRC = append(p.CSRC, 0xC5C5C5C5)
	return true
}

// TestFilterRewriteKeepsPayload: a filtered packet arrives with the
// rewritten header and the payload as sent, both when the header keeps its
// layout (rewritten in the read buffer) and when the filter makes it grow.
func TestFilterRewriteKeepsPayload(t *testing.T) {
	for name, f := range map[string]relay.Filter{"same layout": passFilter{}, "header grows": growFilter{}} {
		t.Run(name, func(t *testing.T) {
			a := newTestAnchor(t, 4, nil)
			s, err := a.Open()
			require.NoError(t, err)
			defer s.Close()
			caller, callee := newPeer(t), newPeer(t)
			s.SetRemote(relay.Caller, caller.addr())
			s.SetRemote(relay.Callee, callee.addr())
			s.SetFilter(relay.Callee, f)
			payloads := []string{"first payload bytes", "second, a longer payload than the first"}
			for i, pl := range payloads {
				caller.send(s.Local(relay.Caller), packet(uint16(10+i), pl))
				got, _ := callee.recv()
				assert.Equal(t, pl, string(got.Payload), "packet %d payload", i)
				if _, grows := f.(growFilter); grows {
					assert.Equal(t, uint16(1010+i), got.SequenceNumber)
					assert.Equal(t, []uint32{0xC5C5C5C5}, got.CSRC)
				} else {
					assert.Equal(t, uint16(11+i), got.SequenceNumber)
					assert.Empty(t, got.CSRC)
				}
				assert.Equal(t, uint32(0xCA110000), got.SSRC)
			}
		})
	}
}
