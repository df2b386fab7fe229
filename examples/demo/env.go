package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/delivery/archive"
	"github.com/callrec/callrec/dialplan"
	"github.com/callrec/callrec/guidance"
	"github.com/callrec/callrec/internal/sipua"
	"github.com/callrec/callrec/sipadapter"
)

// The demo's numbers: the company's fixed line (its 03 number), a customer
// in Tokyo, and the pitches that tell their voices apart in a recording.
const (
	companyNumber  = "03-6700-1234"
	customerNumber = "03-3212-4567"
	// forwardedMobile is where the network forwards calls to companyNumber
	// in the forwarded-call scenario.
	forwardedMobile = "090-5555-6666"
	companyPitch    = 130 // the company's staff, on the inside
	customerPitch   = 210 // the customer, on the outside
	mediaPorts      = 200 // RTP ports the B2BUA may use, from a random base
	// The archive's demo logins (loopback only): an administrator, and an
	// agent assigned to the company's line.
	demoAdmin    = "admin"
	demoAgent    = "agent"
	demoPassword = "callrec-demo"
)

// env is everything the demo runs in one process: the customer's receiving
// server, the delivery queue, the recording B2BUA and the two user agents.
type env struct {
	opts      options
	work      string // spool and recordings in progress; removed at the end
	announcer *guidance.Announcer
	hub       *hub

	arch    *archive.Archive
	httpLn  net.Listener
	httpSrv *http.Server
	httpErr chan error
	sink    *delivery.HTTPSink
	queue   *delivery.Queue
	b2bua   *sipadapter.B2BUA
	served  chan error
	cdr     *os.File

	inside  *sipua.UA // the company's PBX with its staff's phone
	outside *sipua.UA // the network with the customer's phone
}

// start brings everything up on 127.0.0.1 with free ports. On error it
// undoes what it started.
func start(opts options, log *slog.Logger) (e *env, err error) {
	e = &env{opts: opts, hub: newHub()}
	defer func() {
		if err != nil {
			err = errors.Join(err, e.close(), e.closeArchive())
		}
	}()
	if err := os.MkdirAll(opts.out, 0o750); err != nil {
		return e, fmt.Errorf("output directory: %w", err)
	}
	if e.work, err = os.MkdirTemp("", "callrec-demo-"); err != nil {
		return e, err
	}
	spool, records := filepath.Join(e.work, "spool"), filepath.Join(e.work, "recordings")
	if err := os.MkdirAll(records, 0o750); err != nil {
		return e, err
	}
	if e.cdr, err = os.Create(filepath.Join(opts.out, "cdr.jsonl")); err != nil {
		return e, err
	}

	// The customer's equipment: the recordings archive in -out/archive,
	// receiving on /ingest/ and serving its web UI on the same address.
	if e.arch, err = archive.Open(context.Background(), archive.Config{Dir: filepath.Join(opts.out, "archive"), Logger: log}); err != nil {
		return e, err
	}
	for _, u := range []archive.User{
		{Name: demoAdmin, Role: archive.RoleAdmin},
		{Name: demoAgent, Role: archive.RoleAgent, Lines: []string{companyNumber}},
	} {
		if err := e.arch.SetUser(context.Background(), u, demoPassword); err != nil {
			return e, err
		}
	}
	// Plain HTTP on loopback only, hence cookies without Secure.
	web, err := e.arch.Web(archive.WebConfig{InsecureCookies: true})
	if err != nil {
		return e, err
	}
	if e.httpLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return e, err
	}
	e.httpSrv = &http.Server{Handler: web, ReadHeaderTimeout: 5 * time.Second}
	e.httpErr = make(chan error, 1)
	go func() { e.httpErr <- e.httpSrv.Serve(e.httpLn) }()

	// Delivery: a durable spool and an HTTP sink, reporting each delivery.
	if e.sink, err = delivery.NewHTTPSink(delivery.HTTPSinkConfig{URL: "http://" + e.httpLn.Addr().String() + "/ingest/recordings"}); err != nil {
		return e, err
	}
	if e.queue, err = delivery.New(delivery.Config{Dir: spool, Sink: sipadapter.NotifySink(e.sink, e.hub.add), Logger: log}); err != nil {
		return e, err
	}
	if err := e.queue.Start(); err != nil {
		return e, err
	}

	// The two parties' phones.
	if e.inside, err = sipua.New(sipua.Config{
		Name: "company-pbx", User: digits(companyNumber), Source: sipua.Voice{Pitch: companyPitch, Seed: 1},
		RingTime: 300 * time.Millisecond, Logger: log,
	}); err != nil {
		return e, err
	}
	if e.outside, err = sipua.New(sipua.Config{
		Name: "customer", User: digits(customerNumber), Source: sipua.Voice{Pitch: customerPitch, Seed: 2},
		RingTime: 500 * time.Millisecond, Logger: log,
	}); err != nil {
		return e, err
	}

	// The recording B2BUA between them.
	if e.announcer, err = guidance.NewAnnouncer(guidance.Config{Logger: log}); err != nil {
		return e, err
	}
	plan, err := dialplan.New(dialplan.Config{CompanyNumbers: []string{companyNumber}})
	if err != nil {
		return e, err
	}
	base := 40000 + 2*rand.IntN(9000)
	if e.b2bua, err = sipadapter.New(sipadapter.Config{
		Inside: sipadapter.SideConfig{
			Listen: "127.0.0.1:0", NextHop: e.inside.Addr().String(),
			Networks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		},
		// The network's History-Info is believed from its address only.
		Outside: sipadapter.SideConfig{Listen: "127.0.0.1:0", NextHop: e.outside.Addr().String(),
			Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}},
		MediaPortMin: base, MediaPortMax: base + mediaPorts - 2,
		Plan: plan, Lines: sipadapter.LineResolverFunc(e.line),
		RecordDir: records, Delivery: e.queue, Announcer: e.announcer,
		Events: e.hub.add, CDR: e.cdr, Logger: log,
	}); err != nil {
		return e, err
	}
	e.served = make(chan error, 1)
	go func() { e.served <- e.b2bua.Serve(context.Background()) }()
	return e, nil
}

// line resolves the company's one contract line: a fixed line with the
// announcement and channel layout chosen by the flags.
func (e *env) line(_ context.Context, number string, _ netip.AddrPort) (sipadapter.Line, error) {
	n, err := dialplan.Normalize(number)
	if err != nil || n != digits(companyNumber) {
		return sipadapter.Line{}, fmt.Errorf("%w: %q", sipadapter.ErrUnknownLine, number)
	}
	return sipadapter.Line{
		Kind: dialplan.LineFixed, Number: n, Announcement: e.opts.announcement, Mono: e.opts.mono,
	}, nil
}

// close stops everything but the archive in order: phones, B2BUA
// (recordings enqueued), delivery (deliveries in flight finish); then
// removes the work directory. closeArchive stops the archive after it,
// which -serve keeps running meanwhile.
func (e *env) close() error {
	var errs []error
	for _, ua := range []*sipua.UA{e.inside, e.outside} {
		if ua != nil {
			errs = append(errs, ua.Close())
		}
	}
	if e.b2bua != nil {
		errs = append(errs, e.b2bua.Close())
		if e.served != nil {
			// ErrClosed: closed before Serve began, which is no failure.
			if err := <-e.served; !errors.Is(err, sipadapter.ErrClosed) {
				errs = append(errs, err)
			}
		}
	}
	if e.queue != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, e.queue.Shutdown(ctx))
		cancel()
	}
	if e.sink != nil {
		errs = append(errs, e.sink.Close())
	}
	if e.cdr != nil {
		errs = append(errs, e.cdr.Close())
	}
	if e.work != "" {
		errs = append(errs, os.RemoveAll(e.work))
	}
	return errors.Join(errs...)
}

// closeArchive stops the archive's HTTP server and closes its index.
func (e *env) closeArchive() error {
	var errs []error
	if e.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, e.httpSrv.Shutdown(ctx))
		cancel()
		if err := <-e.httpErr; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	} else if e.httpLn != nil {
		errs = append(errs, e.httpLn.Close())
	}
	if e.arch != nil {
		errs = append(errs, e.arch.Close())
	}
	return errors.Join(errs...)
}

// hub collects the B2BUA's and the delivery's events per call and passes
// them on to whoever waits for that call. It is safe for concurrent use;
// add never blocks.
type hub struct {
	mu    sync.Mutex
	calls map[string]chan sipadapter.Event
	stray int
}

func newHub() *hub { return &hub{calls: make(map[string]chan sipadapter.Event)} }

// watch returns the channel of the events of callID; it must be called
// before the call starts.
func (h *hub) watch(callID string) <-chan sipadapter.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch := make(chan sipadapter.Event, 64)
	h.calls[callID] = ch
	return ch
}

// strays returns how many events were dropped: of calls nobody watched, or
// beyond a watcher's buffer.
func (h *hub) strays() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stray
}

func (h *hub) add(ev sipadapter.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch, ok := h.calls[ev.CallID]
	if !ok {
		h.stray++
		return
	}
	select {
	case ch <- ev:
	default:
		h.stray++
	}
}

// digits strips the hyphens of a number as printed.
func digits(number string) string {
	n, err := dialplan.Normalize(number)
	if err != nil {
		return number
	}
	return n
}
