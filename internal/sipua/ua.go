package sipua

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// Defaults applied by [New] to zero fields of [Config].
const (
	DefaultListen     = "127.0.0.1:0"
	DefaultMaxReceive = 10 * time.Minute
)

// Config configures a [UA]. The zero value is a UA named "sipua" on a free
// loopback port that sends a [Voice], answers at once and waits for the
// caller to hang up.
type Config struct {
	// Name appears in the User-Agent header and the logs. Default "sipua".
	Name string
	// User is the UA's own number: the From user of the calls it places and
	// the user of its Contact. Default Name.
	User string
	// Listen is the loopback host:port the UA listens on for SIP over UDP;
	// port 0 picks a free one (see [UA.Addr]). Default "127.0.0.1:0".
	Listen string
	// Source is the audio every call sends from its answer on. Default a
	// [Voice] with its default pitch.
	Source Source
	// Codecs are the codecs offered, and accepted in answers, in order of
	// preference. Default PCMU, PCMA. Telephone-event is always offered.
	Codecs []Codec
	// RingTime is how long an incoming call rings (after 180 Ringing)
	// before it is answered. Default: answered at once.
	RingTime time.Duration
	// Reject, when set, answers incoming calls with this final failure
	// status (400–699) instead of answering them, e.g. 486.
	Reject int
	// HangUpAfter ends an incoming call with BYE this long after it was
	// answered. Default: the UA waits for the caller to hang up.
	HangUpAfter time.Duration
	// MaxReceive bounds the received audio kept per call; later audio is
	// counted but not kept. Default 10 min.
	MaxReceive time.Duration
	// Logger receives the UA's logs. Default: discard.
	Logger *slog.Logger

	// The settings below make the UA behave as particular phones and
	// networks do, for the tests of a B2BUA.

	// Mute, when set, makes calls send no RTP at all (a party that only
	// listens) until [Call.Mute] turns their audio on.
	Mute bool
	// EarlyMedia, with RingTime, makes an incoming call ring with 183
	// Session Progress carrying the answer's SDP, and send its audio
	// during the ring time, instead of 180 Ringing.
	EarlyMedia bool
	// SDPPort, when set, is the RTP port the UA's session descriptions
	// name instead of its socket's, as for a phone behind NAT; the RTP
	// still leaves from the socket.
	SDPPort int
	// OnInvite, when set, sees every INVITE that starts a call before the
	// UA handles it; a response it returns is sent instead of answering,
	// for example a digest challenge. It is called concurrently.
	OnInvite func(req *sip.Request) *sip.Response
	// OnRTP, when set, sees every RTP packet the UA's calls receive, in
	// arrival order per call, with its arrival time. pkt and its payload
	// are valid only during the call.
	OnRTP func(pkt *rtp.Packet, at time.Time)
}

func (c Config) withDefaults() (Config, error) {
	if c.Name == "" {
		c.Name = "sipua"
	}
	if c.User == "" {
		c.User = c.Name
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	ap, err := netip.ParseAddrPort(c.Listen)
	switch {
	case err != nil:
		return c, fmt.Errorf("%w: Listen %q: %v", ErrInvalidConfig, c.Listen, err)
	case !ap.Addr().IsLoopback():
		return c, fmt.Errorf("%w: Listen %q is not a loopback address", ErrInvalidConfig, c.Listen)
	case c.Reject != 0 && (c.Reject < 400 || c.Reject > 699):
		return c, fmt.Errorf("%w: Reject %d is not a final failure status", ErrInvalidConfig, c.Reject)
	case c.SDPPort < 0 || c.SDPPort > 65535:
		return c, fmt.Errorf("%w: SDPPort %d is not a port", ErrInvalidConfig, c.SDPPort)
	case c.EarlyMedia && c.RingTime == 0:
		return c, fmt.Errorf("%w: EarlyMedia needs a RingTime", ErrInvalidConfig)
	}
	durations := map[string]time.Duration{"RingTime": c.RingTime, "HangUpAfter": c.HangUpAfter, "MaxReceive": c.MaxReceive}
	for name, d := range durations {
		if d < 0 {
			return c, fmt.Errorf("%w: %s %v is negative", ErrInvalidConfig, name, d)
		}
	}
	for _, k := range c.Codecs {
		if k != PCMU && k != PCMA {
			return c, fmt.Errorf("%w: Codecs has unknown codec %d", ErrInvalidConfig, k)
		}
	}
	if len(c.Codecs) == 0 {
		c.Codecs = []Codec{PCMU, PCMA}
	}
	if c.Source == nil {
		c.Source = Voice{}
	}
	if c.MaxReceive == 0 {
		c.MaxReceive = DefaultMaxReceive
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// acceptBacklog is how many answered incoming calls wait for [UA.Accept].
const acceptBacklog = 64

// UA is a SIP user agent on the loopback interface that places and answers
// audio calls. Create it with [New]; it serves until [UA.Close]. Its methods
// are safe for concurrent use.
type UA struct {
	cfg  Config
	log  *slog.Logger
	sua  *sipgo.UserAgent
	srv  *sipgo.Server
	dua  *sipgo.DialogUA
	conn net.PacketConn
	addr netip.AddrPort

	ctx      context.Context // cancelled by Close
	cancel   context.CancelFunc
	wg       sync.WaitGroup // handlers, dials and call timers
	served   chan struct{}
	incoming chan *Call

	mu     sync.Mutex
	calls  map[string]*Call // by Call-ID
	closed bool

	closeOnce sync.Once
}

// New validates cfg, binds the SIP socket and starts serving it.
func New(cfg Config) (*UA, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenPacket("udp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("sipua: listen %s: %w", cfg.Listen, err)
	}
	addr := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	host := addr.Addr().String()
	sua, err := sipgo.NewUA(sipgo.WithUserAgent(cfg.Name), sipgo.WithUserAgentHostname(host))
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("sipua: %w", err)
	}
	log := cfg.Logger.With("component", "sipua", "ua", cfg.Name)
	srv, err := sipgo.NewServer(sua, sipgo.WithServerLogger(log))
	var cli *sipgo.Client
	if err == nil {
		// Requests leave from the listening socket, so the peer sees one
		// address for everything the UA sends.
		cli, err = sipgo.NewClient(sua, sipgo.WithClientLogger(log), sipgo.WithClientHostname(host),
			sipgo.WithClientPort(int(addr.Port())), sipgo.WithClientConnectionAddr(addr.String()))
	}
	if err != nil {
		_ = sua.Close()
		_ = conn.Close()
		return nil, fmt.Errorf("sipua: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	u := &UA{
		cfg: cfg, log: log, sua: sua, srv: srv, conn: conn, addr: addr, ctx: ctx, cancel: cancel,
		served: make(chan struct{}), incoming: make(chan *Call, acceptBacklog), calls: make(map[string]*Call),
		dua: &sipgo.DialogUA{Client: cli, ContactHDR: sip.ContactHeader{
			Address: sip.Uri{Scheme: "sip", User: cfg.User, Host: host, Port: int(addr.Port())},
		}},
	}
	u.serve()
	return u, nil
}

// serve registers the handlers, starts the listener and waits until the
// transport layer knows it, so that requests sent next leave from it.
func (u *UA) serve() {
	u.srv.OnInvite(u.onInvite)
	u.srv.OnAck(u.onAck)
	u.srv.OnBye(u.onBye)
	u.srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
	})
	go func() {
		defer close(u.served)
		_ = u.srv.ServeUDP(u.conn)
	}()
	tl := u.sua.TransportLayer()
	for range 1000 {
		if c, err := tl.GetConnection("udp", u.addr.String()); err == nil && c != nil {
			return
		}
		time.Sleep(time.Millisecond)
	}
	u.log.Warn("listener not registered with the transport layer after 1 s")
}

// Addr returns the address the UA listens on.
func (u *UA) Addr() netip.AddrPort { return u.addr }

// URI returns a SIP URI for user at the UA's address, to dial it directly.
func (u *UA) URI(user string) string {
	return (&sip.Uri{Scheme: "sip", User: user, Host: u.addr.Addr().String(), Port: int(u.addr.Port())}).String()
}

// Accept returns the next incoming call once it is answered and
// acknowledged. Calls that nobody accepts still run; up to 64 wait here.
func (u *UA) Accept(ctx context.Context) (*Call, error) {
	select {
	case c := <-u.incoming:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-u.ctx.Done():
		return nil, ErrClosed
	}
}

// Close hangs up every call, stops serving and waits. It is idempotent.
func (u *UA) Close() error {
	u.closeOnce.Do(func() {
		u.mu.Lock()
		u.closed = true
		u.mu.Unlock()
		// Calls being set up give up; then every call left is established.
		u.cancel()
		u.wg.Wait()
		u.mu.Lock()
		calls := make([]*Call, 0, len(u.calls))
		for _, c := range u.calls {
			calls = append(calls, c)
		}
		u.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for _, c := range calls {
			wg.Go(func() { _ = c.Hangup(ctx) })
		}
		wg.Wait()
		_ = u.sua.Close()
		_ = u.conn.Close()
		<-u.served
	})
	return nil
}

// begin registers an operation that Close waits for; it reports false once
// the UA is closed.
func (u *UA) begin() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return false
	}
	u.wg.Add(1)
	return true
}

func (u *UA) register(c *Call) {
	u.mu.Lock()
	u.calls[c.id] = c
	u.mu.Unlock()
}

func (u *UA) unregister(c *Call) {
	u.mu.Lock()
	if u.calls[c.id] == c {
		delete(u.calls, c.id)
	}
	u.mu.Unlock()
}

func (u *UA) lookup(req *sip.Request) *Call {
	cid := req.CallID()
	if cid == nil {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.calls[cid.Value()]
}

func (u *UA) newMedia() (*media, error) {
	return newMedia(u.addr.Addr(), &u.cfg)
}

// Dial places a call to target, a SIP URI such as
// "sip:0312345678@127.0.0.1:5060", and returns it once it is answered and
// acknowledged. The INVITE carries hdrs in addition to its own, for example
// a Call-ID, a From or a Resource-Priority header; the UA adds only those
// missing. A final failure response is returned as a [*StatusError];
// cancelling ctx before the answer sends CANCEL.
func (u *UA) Dial(ctx context.Context, target string, hdrs ...sip.Header) (*Call, error) {
	var uri sip.Uri
	if err := sip.ParseUri(target, &uri); err != nil || uri.Host == "" {
		return nil, fmt.Errorf("%w: %q", ErrTarget, target)
	}
	if !u.begin() {
		return nil, ErrClosed
	}
	defer u.wg.Done()
	// Close cancels a call still being set up.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(u.ctx, cancel)()
	m, err := u.newMedia()
	if err != nil {
		return nil, fmt.Errorf("sipua: media: %w", err)
	}
	c := newCall(u, Outbound, m)
	offer, err := buildSDP(c.sessionID, c.nextVersion(), m.sdpAddr, u.cfg.Codecs, true, sdp.DirectionSendRecv)
	if err != nil {
		m.close()
		return nil, fmt.Errorf("sipua: offer: %w", err)
	}
	req := sip.NewRequest(sip.INVITE, uri)
	for _, h := range hdrs {
		req.AppendHeader(h)
	}
	if req.From() == nil {
		from := &sip.FromHeader{
			Address: sip.Uri{Scheme: "sip", User: u.cfg.User, Host: u.addr.Addr().String()},
			Params:  sip.NewParams(),
		}
		from.Params.Add("tag", sip.GenerateTagN(16))
		req.AppendHeader(from)
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(offer)
	sess, err := u.dua.WriteInvite(ctx, req)
	if err != nil {
		m.close()
		return nil, fmt.Errorf("sipua: invite: %w", err)
	}
	c.client = sess
	c.setRequest(req)
	u.register(c)
	err = sess.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: c.onProgress})
	if err == nil {
		err = c.established(ctx, sess.InviteResponse.Body())
	}
	if err != nil {
		c.finish(Local, "")
		_ = sess.Close()
		var de *sipgo.ErrDialogResponse
		if errors.As(err, &de) {
			return nil, statusError(de.Res)
		}
		return nil, err
	}
	return c, nil
}

func statusError(res *sip.Response) *StatusError {
	e := &StatusError{Code: res.StatusCode, Phrase: res.Reason, Response: res}
	if h := res.GetHeader("Warning"); h != nil {
		e.Warning = h.Value()
	}
	if h := res.GetHeader("Reason"); h != nil {
		e.Reason = h.Value()
	}
	return e
}

func (u *UA) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil {
		if _, ok := to.Params.Get("tag"); ok {
			u.onReinvite(req, tx)
			return
		}
	}
	if !u.begin() {
		respond(tx, req, sip.StatusServiceUnavailable, "Service Unavailable")
		return
	}
	defer u.wg.Done()
	if u.cfg.OnInvite != nil {
		if res := u.cfg.OnInvite(req); res != nil {
			_ = tx.Respond(res)
			return
		}
	}
	if u.cfg.Reject != 0 {
		respond(tx, req, u.cfg.Reject, rejectPhrase(u.cfg.Reject))
		return
	}
	oa, err := parseSDP(req.Body())
	if err != nil {
		text := strings.ReplaceAll(err.Error(), `"`, "'")
		respond(tx, req, sip.StatusBadRequest, "Bad Request", sip.NewHeader("Warning", `399 sipua "`+text+`"`))
		return
	}
	codec, ok := u.pick(oa.codecs)
	if !ok {
		respond(tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here")
		return
	}
	sess, err := u.dua.ReadInvite(req, tx)
	if err != nil {
		respond(tx, req, sip.StatusBadRequest, "Bad Request")
		return
	}
	m, err := u.newMedia()
	if err != nil {
		_ = sess.Respond(sip.StatusInternalServerError, "Server Internal Error", nil)
		return
	}
	c := newCall(u, Inbound, m)
	c.server = sess
	c.setRequest(req)
	u.register(c)
	if err := c.answer(oa, codec); err != nil {
		u.log.Debug("incoming call not established", "call_id", c.id, "error", err)
		by := Remote // cancelled, or no ACK
		if errors.Is(err, ErrClosed) {
			by = Local
		}
		c.finish(by, "")
		_ = sess.Close()
		return
	}
	select {
	case u.incoming <- c:
	default:
		u.log.Warn("accept backlog full; call runs unaccepted", "call_id", c.id)
	}
	if u.cfg.HangUpAfter > 0 && u.begin() {
		go func() {
			defer u.wg.Done()
			t := time.NewTimer(u.cfg.HangUpAfter)
			defer t.Stop()
			select {
			case <-t.C:
				ctx, cancel := context.WithTimeout(u.ctx, 5*time.Second)
				defer cancel()
				_ = c.Hangup(ctx)
			case <-c.Done():
			case <-u.ctx.Done():
			}
		}()
	}
}

// pick returns the first of the offered codecs this UA accepts.
func (u *UA) pick(offered []Codec) (Codec, bool) {
	for _, c := range offered {
		if slices.Contains(u.cfg.Codecs, c) {
			return c, true
		}
	}
	return 0, false
}

func (u *UA) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	c := u.lookup(req)
	if c == nil {
		respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	c.reinvite(req, tx)
}

func (u *UA) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if c := u.lookup(req); c != nil && c.server != nil {
		// An ACK of a re-INVITE carries a CSeq the dialog rejects; only the
		// INVITE's ACK confirms it.
		_ = c.server.ReadAck(req, tx)
	}
}

func (u *UA) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := u.lookup(req)
	if c == nil {
		respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	c.readBye(req, tx)
}

func respond(tx sip.ServerTransaction, req *sip.Request, code int, phrase string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, phrase, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	_ = tx.Respond(res)
}

func rejectPhrase(code int) string {
	switch code {
	case sip.StatusBusyHere:
		return "Busy Here"
	case sip.StatusForbidden:
		return "Forbidden"
	case sip.StatusNotFound:
		return "Not Found"
	case sip.StatusTemporarilyUnavailable:
		return "Temporarily Unavailable"
	case 603:
		return "Decline"
	case sip.StatusServiceUnavailable:
		return "Service Unavailable"
	}
	return "Rejected"
}
