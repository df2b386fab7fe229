package sipadapter

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"
	"github.com/zaf/g711"
)

// peer is an in-process SIP user agent with one RTP socket: it can place a
// call, answer calls, send a tone and keep every payload it receives, so
// that tests can decode what a party heard.
type peer struct {
	t     testing.TB
	ua    *sipgo.UserAgent
	cli   *sipgo.Client
	srv   *sipgo.Server
	sipLn net.PacketConn
	addr  netip.AddrPort
	rtp   *net.UDPConn
	hz    float64       // the tone it sends
	early time.Duration // when answering: 183 with SDP and early media this long before the 200

	servers *sipgo.DialogServerCache
	clients *sipgo.DialogClientCache

	mu         sync.Mutex
	remote     netip.AddrPort // media target from the peer's SDP
	heard      [][]byte       // payloads received, in order
	events     int            // telephone-event (PT 101) packets received
	heardAt    []time.Time    // when each arrived
	heardEarly int            // how many of them arrived before the 200 OK
	sending    bool
	invites    []*sip.Request
	answered   *sipgo.DialogServerSession
	// challenge, when set, may answer an INVITE with a final response
	// (a digest challenge) instead of taking the call.
	challenge func(req *sip.Request) *sip.Response
	byeReqs   []*sip.Request // BYEs received

	// sdpPort, when set, is the RTP port its SDP names instead of its
	// socket's: a party behind NAT.
	sdpPort int

	byes   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newPeer(t testing.TB, sipPort int, hz float64) *peer {
	t.Helper()
	ln, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", sipPort))
	require.NoError(t, err)
	addr := ln.LocalAddr().(*net.UDPAddr).AddrPort()
	ua, err := sipgo.NewUA(sipgo.WithUserAgentHostname("127.0.0.1"))
	require.NoError(t, err)
	srv, err := sipgo.NewServer(ua)
	require.NoError(t, err)
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(int(addr.Port())))
	require.NoError(t, err)
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: int(addr.Port())}}
	p := &peer{
		t: t, ua: ua, cli: cli, srv: srv, sipLn: ln, addr: addr, rtp: conn, hz: hz,
		servers: sipgo.NewDialogServerCache(cli, contact), clients: sipgo.NewDialogClientCache(cli, contact),
		byes: make(chan struct{}, 4), ctx: ctx, cancel: cancel,
	}
	srv.OnInvite(p.onInvite)
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { _ = p.servers.ReadAck(req, tx) })
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		if err := p.servers.ReadBye(req, tx); err != nil {
			if err := p.clients.ReadBye(req, tx); err != nil {
				_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
				return
			}
		}
		p.stopSending()
		p.mu.Lock()
		p.byeReqs = append(p.byeReqs, req)
		p.mu.Unlock()
		p.byes <- struct{}{}
	})
	p.wg.Add(2)
	go func() { defer p.wg.Done(); _ = srv.ServeUDP(ln) }()
	go p.receive()
	t.Cleanup(p.close)
	return p
}

func (p *peer) close() {
	p.cancel()
	_ = p.rtp.Close()
	_ = p.sipLn.Close()
	_ = p.ua.Close()
	p.wg.Wait()
}

func (p *peer) sdp() []byte {
	port := p.rtp.LocalAddr().(*net.UDPAddr).Port
	p.mu.Lock()
	if p.sdpPort != 0 {
		port = p.sdpPort
	}
	p.mu.Unlock()
	return fmt.Appendf(nil, "v=0\r\no=peer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n", port)
}

func (p *peer) setRemote(body []byte) {
	info, err := parseSDP(body)
	require.NoError(p.t, err)
	p.mu.Lock()
	p.remote = info.addr
	p.mu.Unlock()
}

// onInvite answers with 180 then 200 and starts sending.
func (p *peer) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	p.mu.Lock()
	challenge := p.challenge
	p.mu.Unlock()
	if challenge != nil {
		if res := challenge(req); res != nil {
			p.mu.Lock()
			p.invites = append(p.invites, req)
			p.mu.Unlock()
			_ = tx.Respond(res)
			return
		}
	}
	d, err := p.servers.ReadInvite(req, tx)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.invites = append(p.invites, req)
	p.mu.Unlock()
	p.setRemote(req.Body())
	if p.early > 0 {
		_ = d.Respond(183, "Session Progress", p.sdp(), sip.NewHeader("Content-Type", "application/sdp"))
		p.startSending()
		time.Sleep(p.early)
	} else {
		_ = d.Respond(sip.StatusRinging, "Ringing", nil)
	}
	res := sip.NewSDPResponseFromRequest(d.InviteRequest, p.sdp())
	if err := d.WriteResponse(res); err != nil {
		return
	}
	p.mu.Lock()
	p.answered = d // once WriteResponse no longer touches d
	p.mu.Unlock()
	p.startSending()
}

// dialog returns the dialog of the call p answered last, waiting for it.
func (p *peer) dialog(t testing.TB) *sipgo.DialogServerSession {
	t.Helper()
	var d *sipgo.DialogServerSession
	require.Eventually(t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		d = p.answered
		return d != nil
	}, 5*time.Second, time.Millisecond, "peer %s answered no call", p.addr)
	return d
}

// call places a call to user@to and returns once answered and ACKed.
func (p *peer) call(ctx context.Context, to netip.AddrPort, user string, hdrs ...sip.Header) (*sipgo.DialogClientSession, error) {
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: user, Host: to.Addr().String(), Port: int(to.Port())})
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: lineFixed, Host: "127.0.0.1"}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	for _, h := range hdrs {
		req.AppendHeader(h)
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(p.sdp())
	d, err := p.clients.WriteInvite(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := d.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		return d, err
	}
	p.mu.Lock()
	p.heardEarly = len(p.heard)
	p.mu.Unlock()
	p.setRemote(d.InviteResponse.Body())
	if err := d.Ack(ctx); err != nil {
		return d, err
	}
	p.startSending()
	return d, nil
}

func (p *peer) startSending() {
	p.mu.Lock()
	if p.sending || p.hz == 0 {
		p.mu.Unlock()
		return
	}
	p.sending = true
	p.mu.Unlock()
	p.wg.Add(1)
	go p.send()
}

func (p *peer) stopSending() {
	p.mu.Lock()
	p.sending = false
	p.mu.Unlock()
}

// send paces a µ-law tone at 20 ms until stopped.
func (p *peer) send() {
	defer p.wg.Done()
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 0xCA110000}, Payload: make([]byte, 160)}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	n := 0
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-tick.C:
		}
		p.mu.Lock()
		sending, dst := p.sending, p.remote
		p.mu.Unlock()
		if !sending {
			return
		}
		for i := range pkt.Payload {
			pkt.Payload[i] = g711.EncodeUlawFrame(int16(6000 * math.Sin(2*math.Pi*p.hz*float64(n*160+i)/8000)))
		}
		pkt.SequenceNumber, pkt.Timestamp = uint16(n), uint32(n*160)
		n++
		b, _ := pkt.Marshal()
		_, _ = p.rtp.WriteToUDPAddrPort(b, dst)
	}
}

func (p *peer) receive() {
	defer p.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, _, err := p.rtp.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		var pkt rtp.Packet
		if pkt.Unmarshal(buf[:n]) != nil {
			continue
		}
		if pkt.PayloadType == 101 {
			p.mu.Lock()
			p.events++
			p.mu.Unlock()
		}
		if pkt.PayloadType != 0 {
			continue
		}
		p.mu.Lock()
		p.heard = append(p.heard, append([]byte(nil), pkt.Payload...))
		p.heardAt = append(p.heardAt, time.Now())
		p.mu.Unlock()
	}
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

func (p *peer) waitBye(t testing.TB, timeout time.Duration) {
	t.Helper()
	select {
	case <-p.byes:
	case <-time.After(timeout):
		t.Fatalf("peer %s: no BYE within %v", p.addr, timeout)
	}
}

// sipInvite is an INVITE from p with a chosen Call-ID.
func sipInvite(p *peer, to netip.AddrPort, user, callID string) *sip.Request {
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: user, Host: to.Addr().String(), Port: int(to.Port())})
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: lineFixed, Host: "127.0.0.1"}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	cid := sip.CallIDHeader(callID)
	req.AppendHeader(&cid)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(p.sdp())
	return req
}
