package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/stretchr/testify/require"
)

// peer is a SIP user agent on 127.0.0.1 for the end-to-end tests: the PBX
// placing calls on the inside, or the network answering them on the
// outside. It answers every INVITE with a PCMU offer of its own media
// socket and records the Call-IDs of the BYEs it receives.
type peer struct {
	t      testing.TB
	addr   netip.AddrPort
	ua     *sipgo.UserAgent
	client *sipgo.Client
	uac    *sipgo.DialogClientCache
	uas    *sipgo.DialogServerCache

	mu       sync.Mutex
	answered []*answered // INVITEs this peer answered, in order
	byes     map[string]bool
	notify   chan struct{}
}

// answered is a call the peer answered: its dialog, media socket and the
// B2BUA's media address from the offer.
type answered struct {
	callID string
	media  net.PacketConn
	remote netip.AddrPort
}

func newPeer(t testing.TB) *peer {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &peer{t: t, addr: conn.LocalAddr().(*net.UDPAddr).AddrPort(), byes: map[string]bool{}, notify: make(chan struct{}, 1)}
	p.ua, err = sipgo.NewUA(sipgo.WithUserAgent("peer"), sipgo.WithUserAgentHostname("127.0.0.1"))
	require.NoError(t, err)
	srv, err := sipgo.NewServer(p.ua)
	require.NoError(t, err)
	p.client, err = sipgo.NewClient(p.ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(int(p.addr.Port())))
	require.NoError(t, err)
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: int(p.addr.Port())}}
	p.uac = sipgo.NewDialogClientCache(p.client, contact)
	p.uas = sipgo.NewDialogServerCache(p.client, contact)
	srv.OnInvite(p.onInvite)
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { _ = p.uas.ReadAck(req, tx) })
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		if err := p.uas.ReadBye(req, tx); err != nil {
			if err := p.uac.ReadBye(req, tx); err != nil {
				_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "No Dialog", nil))
				return
			}
		}
		p.mu.Lock()
		p.byes[req.CallID().Value()] = true
		p.mu.Unlock()
		p.signal()
	})
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.ServeUDP(conn) }()
	t.Cleanup(func() {
		_ = p.ua.Close()
		_ = conn.Close()
		<-served
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, a := range p.answered {
			_ = a.media.Close()
		}
	})
	return p
}

func (p *peer) signal() {
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

func (p *peer) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	ds, err := p.uas.ReadInvite(req, tx)
	if err != nil {
		return
	}
	remote, err := sdpAudio(req.Body())
	if err != nil {
		_ = ds.Respond(sip.StatusBadRequest, "Bad SDP", nil)
		return
	}
	media, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		_ = ds.Respond(sip.StatusInternalServerError, "No Media", nil)
		return
	}
	a := &answered{callID: req.CallID().Value(), media: media, remote: remote}
	p.mu.Lock()
	p.answered = append(p.answered, a)
	p.mu.Unlock()
	if err := ds.RespondSDP(offer(media)); err != nil {
		return
	}
	p.signal()
}

// waitAnswered blocks until the peer answered n calls.
func (p *peer) waitAnswered(n int) []*answered {
	p.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		p.mu.Lock()
		got := append([]*answered(nil), p.answered...)
		p.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-p.notify:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			p.t.Fatalf("peer %s answered %d calls, want %d", p.addr, len(got), n)
		}
	}
}

// waitBye blocks until the peer received a BYE for callID.
func (p *peer) waitBye(callID string) {
	p.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		p.mu.Lock()
		ok := p.byes[callID]
		p.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-p.notify:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			p.t.Fatalf("peer %s got no BYE for %s", p.addr, callID)
		}
	}
}

// outgoing is a call the peer placed.
type outgoing struct {
	sess   *sipgo.DialogClientSession
	media  net.PacketConn
	remote netip.AddrPort
}

func (o *outgoing) callID() string { return o.sess.InviteRequest.CallID().Value() }

// call places a call to user@to from fromUser and waits for the answer.
func (p *peer) call(ctx context.Context, to netip.AddrPort, user, fromUser string) *outgoing {
	p.t.Helper()
	o, err := p.dial(ctx, to, user, fromUser)
	require.NoError(p.t, err)
	return o
}

// dial places a call and returns the error of a failure response as a
// sipgo.ErrDialogResponse.
func (p *peer) dial(ctx context.Context, to netip.AddrPort, user, fromUser string) (*outgoing, error) {
	p.t.Helper()
	media, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(p.t, err)
	p.t.Cleanup(func() { _ = media.Close() })
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: fromUser, Host: "127.0.0.1"}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	sess, err := p.uac.Invite(ctx, sip.Uri{Scheme: "sip", User: user, Host: to.Addr().String(), Port: int(to.Port())},
		offer(media), from, sip.NewHeader("Content-Type", "application/sdp"))
	require.NoError(p.t, err)
	p.t.Cleanup(func() { _ = sess.Close() })
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		return nil, err
	}
	require.NoError(p.t, sess.Ack(ctx))
	remote, err := sdpAudio(sess.InviteResponse.Body())
	require.NoError(p.t, err)
	return &outgoing{sess: sess, media: media, remote: remote}, nil
}

// offer is a PCMU session description of the media socket.
func offer(media net.PacketConn) []byte {
	port := media.LocalAddr().(*net.UDPAddr).Port
	return fmt.Appendf(nil, "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n", port)
}

// sdpAudio returns the audio address of a session description.
func sdpAudio(body []byte) (netip.AddrPort, error) {
	var s sdp.SessionDescription
	if err := s.UnmarshalString(string(body)); err != nil {
		return netip.AddrPort{}, err
	}
	if len(s.MediaDescriptions) == 0 || s.ConnectionInformation == nil || s.ConnectionInformation.Address == nil {
		return netip.AddrPort{}, fmt.Errorf("no audio in %q", body)
	}
	addr, err := netip.ParseAddr(s.ConnectionInformation.Address.Address)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(addr, uint16(s.MediaDescriptions[0].MediaName.Port.Value)), nil
}

// sendRTP sends n 20 ms PCMU packets of a constant level from media to
// remote.
func sendRTP(t testing.TB, media net.PacketConn, remote netip.AddrPort, ssrc uint32, n int) {
	t.Helper()
	payload := bytes.Repeat([]byte{0x20}, 160)
	for i := range n {
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(i),
			Timestamp: uint32(i * 160), SSRC: ssrc}, Payload: payload}
		raw, err := pkt.Marshal()
		require.NoError(t, err)
		_, err = media.WriteTo(raw, net.UDPAddrFromAddrPort(remote))
		require.NoError(t, err)
		time.Sleep(2 * time.Millisecond) // paced lightly: the relay reads one socket per leg
	}
}
