package sipadapter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/sipadapter/relay"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// B2BUA is the recording back-to-back user agent. It is created with [New],
// runs with [B2BUA.Serve] and stops with [B2BUA.Close].
type B2BUA struct {
	cfg    Config
	log    *slog.Logger
	anchor *relay.Anchor
	sides  [2]*side
	// recBufs holds the packet copies of every call's recording queue.
	recBufs *sync.Pool
	// wavBufs lends every call's recording its output buffers, so that a
	// recording keeps one 8 KiB buffer instead of two while it is active.
	wavBufs recorder.BufferPool

	ctx    context.Context // cancelled when stopping: ends every call
	cancel context.CancelFunc
	wg     sync.WaitGroup // calls

	mu       sync.Mutex
	calls    map[string]*call // by legKey of each leg
	active   int              // calls in the table
	recorded int              // calls holding a recording slot
	closed   bool
	draining bool // Drain called: new calls get 503
	serving  bool

	// mediaMu makes an ordinary call's check of the priority reserve and
	// its allocation of media ports one step; mediaCap is the number of
	// calls the port range can relay and mediaReserve how many of them are
	// kept for priority calls.
	mediaMu      sync.Mutex
	mediaCap     int
	mediaReserve int

	cdrMu    sync.Mutex
	strandMu sync.Mutex
	stranded map[string]stranded // by recording ID; see strand
	stopOnce sync.Once
	served   chan struct{}
	ready    chan struct{} // closed once both sides' UDP sockets serve
}

// side is one SIP endpoint: its own user agent (transport and transaction
// layers), server and client, so that requests toward a side leave from
// that side's socket.
type side struct {
	which  Side
	cfg    SideConfig
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	cli    *sipgo.Client
	dua    *sipgo.DialogUA
	udp    net.PacketConn
	tcp    net.Listener
	addr   netip.AddrPort
	laddr  sip.Addr
	allow  []netip.Prefix
	nextTr string
}

// New validates cfg, binds both sides' UDP and TCP listeners and returns
// the B2BUA. Nothing is served until [B2BUA.Serve].
func New(cfg Config) (*B2BUA, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	anchor, err := relay.New(relay.Config{
		Addr: cfg.MediaAddr, PortMin: cfg.MediaPortMin, PortMax: cfg.MediaPortMax,
		InactivityTimeout: cfg.InactivityTimeout, Clock: cfg.Clock, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: media: %w", ErrInvalidConfig, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &B2BUA{
		cfg: cfg, log: cfg.Logger.With("component", "sipadapter"), anchor: anchor,
		ctx: ctx, cancel: cancel, calls: make(map[string]*call), served: make(chan struct{}), recBufs: newRecordBufs(),
		ready: make(chan struct{}), mediaCap: mediaCapacity(cfg),
	}
	// Never the whole range: ordinary calls keep at least one session.
	b.mediaReserve = min(cfg.PriorityReserve, max(b.mediaCap-1, 0))
	for _, w := range []Side{Inside, Outside} {
		sc := cfg.Inside
		if w == Outside {
			sc = cfg.Outside
		}
		s, err := b.newSide(w, sc)
		if err != nil {
			b.closeSides()
			cancel()
			return nil, err
		}
		b.sides[w] = s
	}
	return b, nil
}

func (b *B2BUA) newSide(w Side, sc SideConfig) (*side, error) {
	udp, tcp, err := listenBoth(sc.Listen)
	if err != nil {
		return nil, fmt.Errorf("sipadapter: %s listen %s: %w", w, sc.Listen, err)
	}
	if err := b.sizeReceiveBuffer(w, udp); err != nil {
		_ = udp.Close()
		_ = tcp.Close()
		return nil, err
	}
	addr := udp.LocalAddr().(*net.UDPAddr).AddrPort()
	log := b.log.With("side", w.String())
	tcp = newLimitListener(tcp, b.cfg.TCP, log)
	parser := newSIPParser(b.cfg.MaxMessageSize)
	host := addr.Addr().String()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("callrec"), sipgo.WithUserAgentHostname(host), sipgo.WithUserAgentParser(parser),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log), sip.WithTransportLayerReadFilter(novelSchemeFilter)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log),
			sip.WithTransactionLayerUnhandledResponseHandler(func(res *sip.Response) { strayResponse(log, res) })))
	if err != nil {
		_ = udp.Close()
		_ = tcp.Close()
		return nil, err
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		_ = ua.Close()
		_ = udp.Close()
		_ = tcp.Close()
		return nil, err
	}
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname(host), sipgo.WithClientPort(int(addr.Port())), sipgo.WithClientLogger(log))
	if err != nil {
		_ = ua.Close()
		_ = udp.Close()
		_ = tcp.Close()
		return nil, err
	}
	s := &side{
		which: w, cfg: sc, ua: ua, srv: srv, cli: cli, udp: udp, tcp: tcp, addr: addr,
		laddr: sip.Addr{IP: net.IP(addr.Addr().AsSlice()), Port: int(addr.Port())},
		allow: sc.Networks, nextTr: sc.Transport,
	}
	s.dua = &sipgo.DialogUA{Client: cli, ContactHDR: s.contact(sc.Transport)}
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) { b.onInvite(s, req, tx) })
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { b.onAck(s, req, tx) })
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) { b.onBye(s, req, tx) })
	srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) { b.onOptions(s, req, tx) })
	srv.OnCancel(func(req *sip.Request, tx sip.ServerTransaction) {
		// The transaction layer answers a CANCEL that matches an INVITE; one
		// that reaches us matches nothing.
		if b.admit(s, req, tx) {
			respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		}
	})
	srv.OnNoRoute(func(req *sip.Request, tx sip.ServerTransaction) {
		if !b.admit(s, req, tx) {
			return
		}
		res := sip.NewResponseFromRequest(req, sip.StatusMethodNotAllowed, "Method Not Allowed", nil)
		res.AppendHeader(sip.NewHeader("Allow", allowedMethods))
		_ = tx.Respond(res)
	})
	return s, nil
}

const allowedMethods = "INVITE, ACK, BYE, CANCEL, OPTIONS"

// drainPoll is how often [B2BUA.Drain] looks whether calls are left.
const drainPoll = 50 * time.Millisecond

// listenBoth binds UDP and TCP on the same address; with port 0 it retries
// until the UDP port it got is free for TCP too.
func listenBoth(addr string) (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 20 {
		udp, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, err
		}
		tcp, err := net.Listen("tcp", udp.LocalAddr().String())
		if err == nil {
			return udp, tcp, nil
		}
		_ = udp.Close()
		lastErr = err
		if ap, perr := netip.ParseAddrPort(addr); perr != nil || ap.Port() != 0 {
			break
		}
	}
	return nil, nil, lastErr
}

func (s *side) contact(transport string) sip.ContactHeader {
	uri := sip.Uri{Scheme: "sip", Host: s.addr.Addr().String(), Port: int(s.addr.Port())}
	if transport == "tcp" {
		uri.UriParams = sip.NewParams()
		uri.UriParams.Add("transport", "tcp")
	}
	return sip.ContactHeader{Address: uri}
}

// setLaddr makes a UDP request leave from the side's listening socket, so
// that the peer sees one address for everything this side sends.
func (s *side) setLaddr(req *sip.Request) {
	if sip.NetworkToLower(req.Transport()) == "udp" {
		s.laddr.Copy(&req.Laddr)
	}
}

// Addr returns the address side w listens on (UDP and TCP).
func (b *B2BUA) Addr(w Side) netip.AddrPort { return b.sides[w].addr }

// Serve repairs and enqueues recordings a previous run left behind, then
// serves both sides until ctx is done or [B2BUA.Close] is called. Stopping
// ends every call (BYE to both parties, recordings closed and enqueued)
// before Serve returns nil. When a side's UDP or TCP listener fails, Serve
// stops the same way and returns the failure, wrapping [ErrListener]. It
// returns [ErrClosed] after Close and [ErrServing] when already serving.
func (b *B2BUA) Serve(ctx context.Context) error {
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		return ErrClosed
	case b.serving:
		b.mu.Unlock()
		return ErrServing
	}
	b.serving = true
	b.mu.Unlock()
	defer close(b.served)
	if err := b.recover(ctx); err != nil {
		b.log.Error("recovering partial recordings", "error", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { b.retryStranded(b.ctx) })
	failed := make(chan error, 2*len(b.sides)) // never blocks a listener
	for w, s := range b.sides {
		wg.Go(func() { failed <- b.listenerFailed(Side(w), "udp", s.srv.ServeUDP(s.udp)) })
		wg.Go(func() { failed <- b.listenerFailed(Side(w), "tcp", s.srv.ServeTCP(s.tcp)) })
	}
	b.awaitListeners(ctx)
	var errs []error
	for stopping := false; !stopping; {
		select {
		case <-ctx.Done():
			stopping = true
		case <-b.ctx.Done():
			stopping = true
		case err := <-failed:
			if err != nil {
				b.log.Error("listener failed: stopping", "error", err)
				errs, stopping = append(errs, err), true
			}
		}
	}
	b.stop()
	wg.Wait()
	close(failed)
	for err := range failed {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// listenerFailed returns why side w's listener on network stopped serving,
// wrapping [ErrListener], or nil when it stopped because the B2BUA is
// stopping (which closes the sockets under it).
func (b *B2BUA) listenerFailed(w Side, network string, err error) error {
	if b.ctx.Err() != nil {
		return nil
	}
	if err == nil {
		err = errors.New("stopped serving")
	}
	return fmt.Errorf("%w: %s %s: %w", ErrListener, w, network, err)
}

// awaitListeners waits until both sides' UDP listeners are registered
// with their transport layers, so that requests sent from a side's socket
// (Laddr) find it, then lets INVITEs through.
func (b *B2BUA) awaitListeners(ctx context.Context) {
	defer close(b.ready)
	for _, s := range b.sides {
		for range 200 {
			if c, _ := s.ua.TransportLayer().GetConnection("udp", s.addr.String()); c != nil {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-b.ctx.Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
}

// Close ends every call (BYE to both parties, recordings closed and
// enqueued), stops serving and waits for [B2BUA.Serve] to return. It is
// idempotent.
func (b *B2BUA) Close() error {
	b.mu.Lock()
	serving := b.serving
	b.closed = true
	b.mu.Unlock()
	b.stop()
	if serving {
		<-b.served
	}
	return nil
}

// stop refuses new calls, hangs up every call, waits for them to finish
// and closes both sides. It runs once.
func (b *B2BUA) stop() {
	b.stopOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		calls := make([]*call, 0, len(b.calls))
		seen := map[*call]bool{}
		for _, c := range b.calls {
			if !seen[c] {
				seen[c] = true
				calls = append(calls, c)
			}
		}
		b.mu.Unlock()
		b.cancel()
		for _, c := range calls {
			c.hangup(CauseShutdown, PartyB2BUA)
		}
		b.wg.Wait()
		b.closeSides()
	})
}

func (b *B2BUA) closeSides() {
	for _, s := range b.sides {
		if s == nil {
			continue
		}
		_ = s.udp.Close()
		_ = s.tcp.Close()
		_ = s.ua.Close()
	}
}

// Drain stops taking calls and waits for the calls in progress to end by
// themselves. From its call on, every new INVITE is answered 503 Service
// Unavailable with Retry-After, priority calls included: a draining
// instance is going away, and the 503 lets the previous hop try another
// one now rather than have the call cut when the instance stops. OPTIONS
// gets 503 too, so a SIP load balancer probing with OPTIONS (Kamailio's
// dispatcher) takes the instance out of rotation. Calls in progress, their
// re-INVITEs and BYEs are served as usual.
//
// Drain returns nil once no call is left, or ctx's error when ctx ends
// first; [B2BUA.Close] then ends the remaining calls. Draining cannot be
// undone. The first call logs "draining: new calls are refused" at Info
// once new calls are refused.
func (b *B2BUA) Drain(ctx context.Context) error {
	b.mu.Lock()
	first := !b.draining
	b.draining = true
	calls := b.active
	b.mu.Unlock()
	if first {
		// Logged after the flag is set, so that this line's time bounds
		// from above the setup time of every call the instance admitted.
		b.log.Info("draining: new calls are refused", "calls", calls)
	}
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for {
		if calls, _ := b.ActiveCalls(); calls == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-b.ctx.Done():
			return ErrClosed
		case <-tick.C:
		}
	}
}

func (b *B2BUA) isDraining() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.draining
}

// ActiveCalls returns the number of calls in progress and how many of them
// are recorded.
func (b *B2BUA) ActiveCalls() (calls, recorded int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.active, b.recorded
}

func legKey(w Side, callID string) string { return w.String() + "|" + callID }

func (b *B2BUA) lookup(w Side, req *sip.Request) *call {
	cid := req.CallID()
	if cid == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls[legKey(w, cid.Value())]
}

func (b *B2BUA) emit(e Event) {
	if b.cfg.Events != nil {
		b.cfg.Events(e)
	}
}

func (b *B2BUA) writeCDR(c CDR) {
	if b.cfg.CDR == nil {
		return
	}
	line, err := c.line()
	if err != nil {
		b.log.Error("encoding cdr", "error", err)
		return
	}
	// One Write per line, serialised so that lines never interleave (as
	// slog's handlers do).
	b.cdrMu.Lock()
	defer b.cdrMu.Unlock()
	if _, err := b.cfg.CDR.Write(line); err != nil {
		b.log.Error("writing cdr", "error", err)
	}
}

func (s *side) allowed(req *sip.Request) bool {
	if len(s.allow) == 0 {
		return true
	}
	ap, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, p := range s.allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	_ = tx.Respond(res)
}

func retryAfter(d time.Duration) sip.Header {
	return sip.NewHeader("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
}

// admit applies the side's source networks to every request; a refused
// request gets 403 (an ACK gets nothing). A request from an allowed source
// must pass conform too.
func (b *B2BUA) admit(s *side, req *sip.Request, tx sip.ServerTransaction) bool {
	if s.allowed(req) {
		return b.conform(s, req, tx)
	}
	b.log.Warn("request from a source outside the allowed networks", "method", req.Method, "source", req.Source())
	if !req.IsAck() {
		respond(tx, req, sip.StatusForbidden, "Forbidden", warning(s, "source not allowed"))
	}
	return false
}

func (b *B2BUA) onOptions(s *side, req *sip.Request, tx sip.ServerTransaction) {
	if !b.admit(s, req, tx) {
		return
	}
	if b.isDraining() {
		respond(tx, req, sip.StatusServiceUnavailable, "Service Unavailable", retryAfter(b.cfg.RetryAfter),
			warning(s, "draining"))
		return
	}
	respond(tx, req, sip.StatusOK, "OK",
		sip.NewHeader("Allow", allowedMethods), sip.NewHeader("Accept", "application/sdp"))
}

func (b *B2BUA) onAck(s *side, req *sip.Request, tx sip.ServerTransaction) {
	if !b.admit(s, req, tx) {
		return
	}
	if c := b.lookup(s.which, req); c != nil {
		c.readAck(s.which, req, tx)
	}
}

func (b *B2BUA) onBye(s *side, req *sip.Request, tx sip.ServerTransaction) {
	if !b.admit(s, req, tx) {
		return
	}
	c := b.lookup(s.which, req)
	if c == nil {
		respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	c.readBye(s.which, req, tx)
}

func (b *B2BUA) onInvite(s *side, req *sip.Request, tx sip.ServerTransaction) {
	select {
	case <-b.ready:
	case <-b.ctx.Done():
	}
	if !b.admit(s, req, tx) {
		return
	}
	if to := req.To(); to != nil {
		if _, ok := to.Params.Get("tag"); ok {
			if c := b.lookup(s.which, req); c != nil {
				c.reinvite(s.which, req, tx)
				return
			}
			respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
			return
		}
	}
	cid := req.CallID()
	if cid == nil || req.From() == nil || req.To() == nil || req.CSeq() == nil || req.Contact() == nil {
		respond(tx, req, sip.StatusBadRequest, "Bad Request", warning(s, "missing mandatory header"))
		return
	}
	priority := b.isPriority(req)
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		respond(tx, req, sip.StatusServiceUnavailable, "Service Unavailable", retryAfter(b.cfg.RetryAfter))
		return
	case b.active >= b.dialogLimit(priority):
		b.mu.Unlock()
		respond(tx, req, sip.StatusServiceUnavailable, "Service Unavailable", retryAfter(b.cfg.RetryAfter),
			warning(s, "too many calls"))
		return
	case b.calls[legKey(s.which, cid.Value())] != nil:
		b.mu.Unlock()
		respond(tx, req, sip.StatusLoopDetected, "Loop Detected")
		return
	}
	c := newCall(b, s, req)
	b.calls[legKey(s.which, cid.Value())] = c
	b.active++
	b.wg.Add(1)
	b.mu.Unlock()
	c.setup(req, tx)
}

// register adds a call's callee leg to the call table.
func (b *B2BUA) register(w Side, callID string, c *call) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls[legKey(w, callID)] = c
}

// forget removes one leg of c from the call table, if it is still c's, so
// that a new call may use its Call-ID; unregister does the rest.
func (b *B2BUA) forget(w Side, callID string, c *call) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if k := legKey(w, callID); b.calls[k] == c {
		delete(b.calls, k)
	}
}

func (b *B2BUA) unregister(c *call) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// A call is in the table under its two legs' keys at most: deleting
	// those, rather than looking through the table, keeps the end of a
	// call as cheap at a thousand calls as at one, and b.mu short for the
	// requests that wait on it.
	for _, k := range [2]string{legKey(c.in.which, c.callID), legKey(c.out.which, c.bCallID)} {
		if b.calls[k] == c {
			delete(b.calls, k)
		}
	}
	b.active--
	if c.slot {
		b.recorded--
	}
}

// takeRecordingSlot reserves one of the recorded-call slots, or reports why
// recording is congested.
func (b *B2BUA) takeRecordingSlot() error {
	if b.cfg.MinSpoolFree > 0 {
		free, err := b.cfg.SpoolFree()
		if err != nil {
			return fmt.Errorf("spool free space: %w", err)
		}
		if free < b.cfg.MinSpoolFree {
			return fmt.Errorf("spool free space %d below %d", free, b.cfg.MinSpoolFree)
		}
	}
	free, reserve, err := b.spoolFreeForReserve()
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cfg.MaxRecordedCalls > 0 && b.recorded >= b.cfg.MaxRecordedCalls {
		return fmt.Errorf("%d recorded calls in progress", b.recorded)
	}
	if reserve {
		if err := b.checkReserve(free, b.recorded); err != nil {
			return err
		}
	}
	b.recorded++
	return nil
}

func (b *B2BUA) isPriority(req *sip.Request) bool {
	if req.GetHeader("Resource-Priority") != nil {
		return true
	}
	return b.cfg.Priority != nil && b.cfg.Priority(req)
}

var errNoAnswer = errors.New("no answer")
