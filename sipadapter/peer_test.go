package sipadapter

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/callrec/callrec/internal/sipua"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"
	"github.com/zaf/g711"
)

// peerLevel is the amplitude of a peer's tone, of full scale.
const peerLevel = 6000.0 / math.MaxInt16

// peer is a party of the tests' calls: a [sipua.UA] test phone that sends
// a µ-law tone, and the tests' view of it: every payload it received, the
// INVITEs it got and the BYEs that ended its calls, so that tests can
// decode what a party heard.
type peer struct {
	t    testing.TB
	ua   *sipua.UA
	addr netip.AddrPort

	mu         sync.Mutex
	heard      [][]byte       // PCMU payloads received, in order
	heardAt    []time.Time    // when each arrived
	heardEarly int            // how many of them arrived before the answer of the call it placed
	events     int            // telephone-event packets received
	invites    []*sip.Request // INVITEs that started calls to it
	// challenge, when set, may answer an INVITE with a final response
	// (a digest challenge) instead of taking the call.
	challenge func(req *sip.Request) *sip.Response
	calls     []*sipua.Call // placed and answered, in order
	answered  *sipua.Call   // the call it answered last
	byes      []sipua.End   // the ends of its calls the other side hung up

	byeCh chan struct{}
	wg    sync.WaitGroup
}

// peerOption changes a peer's phone settings.
type peerOption func(*sipua.Config)

// muted makes a peer silent until its call is unmuted.
func muted(c *sipua.Config) { c.Mute = true }

// earlyMedia makes a peer answer with 183 and SDP and send its tone this
// long before the 200.
func earlyMedia(d time.Duration) peerOption {
	return func(c *sipua.Config) { c.RingTime, c.EarlyMedia = d, true }
}

// behindNAT makes a peer's SDP name port instead of its RTP socket's.
func behindNAT(port int) peerOption { return func(c *sipua.Config) { c.SDPPort = port } }

// newPeer starts a peer on sipPort (0: any) that answers every call at
// once and sends a tone of hz from the answer on; hz 0 sends no RTP at all.
func newPeer(t testing.TB, sipPort int, hz float64, opts ...peerOption) *peer {
	t.Helper()
	p := &peer{t: t, byeCh: make(chan struct{}, 16)}
	cfg := sipua.Config{
		Name: "peer", User: lineFixed, Listen: fmt.Sprintf("127.0.0.1:%d", sipPort),
		Codecs: []sipua.Codec{sipua.PCMU}, Source: sipua.Tone(hz, peerLevel), Mute: hz == 0,
		OnInvite: p.onInvite, OnRTP: p.onRTP,
	}
	for _, o := range opts {
		o(&cfg)
	}
	ua, err := sipua.New(cfg)
	require.NoError(t, err)
	p.ua, p.addr = ua, ua.Addr()
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// close hangs up the peer's calls and stops it.
func (p *peer) close() {
	_ = p.ua.Close()
	p.wg.Wait()
}

func (p *peer) onInvite(req *sip.Request) *sip.Response {
	p.mu.Lock()
	p.invites = append(p.invites, req)
	challenge := p.challenge
	p.mu.Unlock()
	if challenge != nil {
		return challenge(req)
	}
	return nil
}

func (p *peer) onRTP(pkt *rtp.Packet, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch pkt.PayloadType {
	case sipua.TelephoneEventPT:
		p.events++
	case sipua.PCMU.PayloadType():
		p.heard = append(p.heard, bytes.Clone(pkt.Payload))
		p.heardAt = append(p.heardAt, at)
	}
}

// accept takes the calls the phone answered until it is closed.
func (p *peer) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ua.Accept(context.Background())
		if err != nil {
			return
		}
		p.mu.Lock()
		p.calls = append(p.calls, c)
		p.answered = c
		p.mu.Unlock()
		p.watch(c)
	}
}

// watch notes the end of c when the other side hung up.
func (p *peer) watch(c *sipua.Call) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		<-c.Done()
		if end := c.End(); end.By == sipua.Remote {
			p.mu.Lock()
			p.byes = append(p.byes, end)
			p.mu.Unlock()
			select {
			case p.byeCh <- struct{}{}:
			default:
			}
		}
	}()
}

// call places a call to user@to and returns once answered and ACKed. A
// final failure response comes back as a *sipua.StatusError.
func (p *peer) call(ctx context.Context, to netip.AddrPort, user string, hdrs ...sip.Header) (*sipua.Call, error) {
	c, err := p.ua.Dial(ctx, fmt.Sprintf("sip:%s@%s", user, to), hdrs...)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.calls = append(p.calls, c)
	p.heardEarly = 0
	for _, at := range p.heardAt {
		if at.Before(c.Answered()) {
			p.heardEarly++
		}
	}
	p.mu.Unlock()
	p.watch(c)
	return c, nil
}

// answeredCall returns the call p answered last, waiting for it.
func (p *peer) answeredCall(t testing.TB) *sipua.Call {
	t.Helper()
	return p.waitCall(t, func() *sipua.Call { return p.answered })
}

// lastCall returns the call p placed or answered last, waiting for one.
func (p *peer) lastCall(t testing.TB) *sipua.Call {
	t.Helper()
	return p.waitCall(t, func() *sipua.Call {
		if len(p.calls) == 0 {
			return nil
		}
		return p.calls[len(p.calls)-1]
	})
}

// waitCall waits until pick, called with p.mu held, returns a call.
func (p *peer) waitCall(t testing.TB, pick func() *sipua.Call) *sipua.Call {
	t.Helper()
	var c *sipua.Call
	require.Eventually(t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		c = pick()
		return c != nil
	}, 5*time.Second, time.Millisecond, "peer %s has no such call", p.addr)
	return c
}

// heardTones decodes what the peer received and classifies each packet as
// the tone at one of hzs (the index) or -1.
func (p *peer) heardTones(hzs ...float64) []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]int, len(p.heard))
	for i, payload := range p.heard {
		x := make([]float64, len(payload))
		for j, c := range payload {
			x[j] = float64(g711.DecodeUlawFrame(c))
		}
		out[i] = -1
		for k, hz := range hzs {
			if share, active := toneShareWindow(x, hz); active && share > 0.6 {
				out[i] = k
			}
		}
	}
	return out
}

// toneShareWindow is the share of one packet's energy at hz.
func toneShareWindow(x []float64, hz float64) (float64, bool) {
	var e float64
	for _, v := range x {
		e += v * v
	}
	if e/float64(len(x)) < 100*100 {
		return 0, false
	}
	coeff := 2 * math.Cos(2*math.Pi*hz/8000)
	var s1, s2 float64
	for _, v := range x {
		s := v + coeff*s1 - s2
		s2, s1 = s1, s
	}
	return 2 * (s1*s1 + s2*s2 - coeff*s1*s2) / float64(len(x)) / e, true
}

// waitBye waits until the other side hung up one of p's calls.
func (p *peer) waitBye(t testing.TB, timeout time.Duration) {
	t.Helper()
	select {
	case <-p.byeCh:
	case <-time.After(timeout):
		t.Fatalf("peer %s: no BYE within %v", p.addr, timeout)
	}
}

// failureResponse returns the final failure response of a call that err says was
// refused with one.
func failureResponse(t testing.TB, err error) *sip.Response {
	t.Helper()
	var se *sipua.StatusError
	require.ErrorAs(t, err, &se, "the call was refused with a final response")
	return se.Response
}
