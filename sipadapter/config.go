package sipadapter

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/dialplan"
	"github.com/callrec/callrec/guidance"
	"github.com/callrec/callrec/sipadapter/relay"
	"github.com/emiago/sipgo/sip"
)

// Side is one of the two networks the B2BUA sits between.
type Side uint8

const (
	// Inside is the company's side: its PBX or mobile core. Calls arriving
	// here are outgoing calls of the company's lines.
	Inside Side = iota
	// Outside is the network. Calls arriving here are incoming calls.
	Outside
)

// String returns "inside" or "outside".
func (s Side) String() string {
	if s == Inside {
		return "inside"
	}
	return "outside"
}

func (s Side) other() Side { return s ^ 1 }

// SideConfig configures one side's SIP endpoint.
type SideConfig struct {
	// Listen is the host:port the side listens on, for UDP and TCP alike. The
	// host must be an IP address; port 0 picks a free port (see
	// [B2BUA.Addr]). Required.
	Listen string
	// NextHop is the host:port that calls arriving on the other side are
	// sent to through this side. Required.
	NextHop string
	// Transport is the transport toward NextHop: "udp" (default) or "tcp".
	Transport string
	// Networks lists the source networks requests are accepted from; others
	// get 403. Required for [Inside] (the PBX's addresses); empty on
	// [Outside] accepts any source.
	Networks []netip.Prefix
	// Username and Password, when Password is set, answer a digest
	// challenge (401 or 407, RFC 3261 §22) from NextHop to an INVITE sent
	// through this side: the B2BUA, which originates that leg, re-sends the
	// INVITE with credentials (a trunk registered to the carrier). Without
	// them, or when they are refused, the caller gets 403 (see the package
	// documentation).
	Username, Password string
	// Trusted lists the source networks whose network-asserted headers are
	// believed: History-Info and Diversion of a forwarded incoming call
	// ([Outside]), P-Visited-Network-ID and P-Access-Network-Info of a
	// roaming mobile ([Inside]). Empty means Networks; a side with neither
	// trusts no source, and those headers are ignored.
	Trusted []netip.Prefix
	// NAT, for parties on this side behind NAT whose media arrives from
	// another address or port than their SDP names, latches each call's
	// leg to the first source heard within a 2 s learning window after the
	// SDP (and after the answer), as rtpengine's learning does. Without it
	// (strict, the default) a leg accepts RTP only from exactly the SDP
	// address and RTCP only from its a=rtcp address or the next port, so
	// that no stranger can take over a call's media.
	NAT bool
}

// Delivery is where finished recordings go; *delivery.Queue implements it.
// Enqueue must be durable on return and take ownership of the audio file.
type Delivery interface {
	Enqueue(ctx context.Context, rec delivery.Recording) error
}

// Defaults applied by [New] to zero fields of [Config].
const (
	DefaultInactivityTimeout = 60 * time.Second
	DefaultMaxCallDuration   = 4 * time.Hour
	DefaultMaxDialogs        = 1000
	DefaultMaxMessageSize    = 16 << 10
	DefaultRetryAfter        = 30 * time.Second
	DefaultRingTimeout       = 3 * time.Minute
)

// Config configures a [B2BUA]. Fields marked required have no default;
// every other zero field means its documented default.
type Config struct {
	// Inside and Outside are the two SIP sides. Required.
	Inside, Outside SideConfig

	// MediaAddr is the IP address the RTP relay binds to and advertises in
	// SDP. Default: the Inside listen address.
	MediaAddr netip.Addr
	// MediaPortMin and MediaPortMax bound the relay's even RTP ports (two
	// pairs per call). Default 20000–29998.
	MediaPortMin, MediaPortMax int

	// Plan decides per call. Required.
	Plan *dialplan.Plan
	// Lines resolves an inside caller, or the called company number of an
	// incoming call, to its contract line. Required.
	Lines LineResolver

	// RecordDir holds recordings while calls are in progress, and partial
	// ones after a crash until they are repaired and enqueued. Required.
	RecordDir string
	// Delivery receives finished recordings. Required.
	Delivery Delivery
	// InstanceID names this B2BUA among several that deliver to the same
	// place (instances behind a load balancer). It goes into every
	// recording ID and into the metadata's Instance, which sinks add to
	// the names they store under, so that no two instances ever write the
	// same name. At most 64 characters of [A-Za-z0-9._-], not starting
	// with a dot. Default: none.
	InstanceID string
	// Announcer plays the recording announcement after answer. Default:
	// the embedded prompts to both parties (guidance.NewAnnouncer with a
	// zero Config).
	Announcer *guidance.Announcer
	// JitterWindow is the recorder's reordering window; zero means the
	// recorder's default.
	JitterWindow time.Duration

	// InactivityTimeout ends a call with BYE to both sides when no RTP has
	// arrived from either party for this long. Default 60 s; negative
	// disables.
	InactivityTimeout time.Duration
	// MaxCallDuration ends a call with BYE to both sides this long after it
	// was answered. Default 4 h; negative disables.
	MaxCallDuration time.Duration
	// RingTimeout gives up on an unanswered call (CANCEL toward the callee,
	// 408 to the caller). Default 3 min.
	RingTimeout time.Duration

	// MaxRecordedCalls is the number of concurrently recorded calls above
	// which recording counts as congested. Zero means no limit.
	MaxRecordedCalls int
	// MinSpoolFree is the free space, in bytes, of the delivery spool below
	// which recording counts as congested; SpoolFree reports it. Zero
	// disables the check.
	MinSpoolFree uint64
	// SpoolFree reports the spool's free bytes. Default: Delivery's
	// DiskSpace method when it has one (as *delivery.Queue does).
	SpoolFree func() (uint64, error)
	// Priority reports whether a call is a disaster-priority call, in
	// addition to any carrying a Resource-Priority header (RFC 4412).
	// Priority calls are connected unrecorded when recording is congested;
	// other recorded calls get 503 with Retry-After.
	Priority func(req *sip.Request) bool
	// RetryAfter is the Retry-After of 503 answers. Default 30 s.
	RetryAfter time.Duration

	// MaxDialogs bounds concurrent calls; beyond it INVITEs get 503.
	// Default 1000.
	MaxDialogs int
	// PriorityReserve is the number of calls, out of MaxDialogs and out of
	// the media sessions the port range holds, kept for disaster-priority
	// calls: ordinary calls get 503 when only the reserve is left, priority
	// calls are connected (unrecorded if recording is congested) as long as
	// the process can relay their media. Default 5 % of MaxDialogs, at least
	// one (none when MaxDialogs is 1); negative keeps no reserve.
	PriorityReserve int
	// HomeNetworkIDs are the P-Visited-Network-ID values of the company's
	// own (Japanese) networks that carry no MCC; any other value, or an MCC
	// other than 440/441 there or in P-Access-Network-Info, marks an
	// outgoing call from a trusted inside source as roaming abroad: never
	// recorded.
	HomeNetworkIDs []string
	// OnDemand configures the recording of [dialplan.RecordOnDemand] lines.
	OnDemand OnDemandConfig
	// MaxMessageSize bounds a SIP message in bytes. Default 16 KiB.
	MaxMessageSize int
	// SIPReceiveBuffer is the receive buffer, in bytes, asked for each
	// side's SIP UDP socket (SO_RCVBUF): it holds the signalling of every
	// call that arrives while the process is busy, which the kernel's
	// default (about 160 datagrams) does not at hundreds of calls. Default
	// 4 MiB; the kernel caps it at net.core.rmem_max on Linux, and [New]
	// logs a warning when it granted less. Negative keeps the system's
	// default.
	SIPReceiveBuffer int
	// TCP bounds the SIP-over-TCP connections each side accepts: idle
	// timeout, total and per-source counts.
	TCP TCPLimits
	// RecordingReserve is the recording time the spool's free space must
	// hold for each recorded call in progress and the new one, at the
	// stereo rate (32,000 bytes/s; a mono recording writes half), on top of
	// MinSpoolFree; a call it does not fit gets 503 like any congestion.
	// Calls longer than it still write into the rest of the free space.
	// Default 2 min (3.84 MB a call); negative disables. Needs SpoolFree.
	RecordingReserve time.Duration
	// StrandedRetry is how often a recording whose Close or Enqueue failed
	// (left in RecordDir) is repaired and enqueued again while the B2BUA
	// runs. Default 30 s.
	StrandedRetry time.Duration

	// Events, when set, receives every call's events in order per call.
	// It is called synchronously and must return quickly.
	Events func(Event)
	// CDR, when set, receives one JSON line per call when it ends.
	CDR io.Writer

	// Clock is the B2BUA's one clock: it times calls, RTP arrivals (and so
	// the recording's timeline) and timeouts, and is the relay's clock.
	// Default: relay.SystemClock. The guidance paces on package time, which
	// relay.SystemClock reads, so billing and recording start share one
	// clock; a fake Clock (tests of timeouts) moves only the B2BUA's own
	// timers and stamps.
	Clock relay.Clock
	// Logger receives the B2BUA's logs; nil discards.
	Logger *slog.Logger

	// beforeSidecar, set by tests, runs just before a recording's sidecar
	// is written: it stands in for a slow disk.
	beforeSidecar func()
	// recordWriter, set by tests, supplies the file a recording is written
	// to in place of the recorder creating it at path: it stands in for a
	// disk that stalls mid-call.
	recordWriter func(path string) (io.WriteSeeker, error)
}

func (c Config) withDefaults() (Config, error) {
	for _, s := range []struct {
		name string
		cfg  *SideConfig
	}{{"Inside", &c.Inside}, {"Outside", &c.Outside}} {
		if err := s.cfg.validate(s.name); err != nil {
			return c, err
		}
	}
	if len(c.Inside.Networks) == 0 {
		return c, fmt.Errorf("%w: Inside.Networks is empty: list the PBX's source networks", ErrInvalidConfig)
	}
	switch {
	case c.Plan == nil:
		return c, fmt.Errorf("%w: Plan is nil", ErrInvalidConfig)
	case c.Lines == nil:
		return c, fmt.Errorf("%w: Lines is nil", ErrInvalidConfig)
	case c.RecordDir == "":
		return c, fmt.Errorf("%w: RecordDir is empty", ErrInvalidConfig)
	case c.Delivery == nil:
		return c, fmt.Errorf("%w: Delivery is nil", ErrInvalidConfig)
	case !validInstanceID(c.InstanceID):
		return c, fmt.Errorf("%w: InstanceID %q is not 1–%d characters of [A-Za-z0-9._-] not starting with a dot",
			ErrInvalidConfig, c.InstanceID, maxInstanceID)
	case c.MaxRecordedCalls < 0:
		return c, fmt.Errorf("%w: MaxRecordedCalls %d is negative", ErrInvalidConfig, c.MaxRecordedCalls)
	case c.MaxDialogs < 0:
		return c, fmt.Errorf("%w: MaxDialogs %d is negative", ErrInvalidConfig, c.MaxDialogs)
	case c.MaxMessageSize < 0:
		return c, fmt.Errorf("%w: MaxMessageSize %d is negative", ErrInvalidConfig, c.MaxMessageSize)
	case c.RetryAfter < 0:
		return c, fmt.Errorf("%w: RetryAfter %v is negative", ErrInvalidConfig, c.RetryAfter)
	case c.RingTimeout < 0:
		return c, fmt.Errorf("%w: RingTimeout %v is negative", ErrInvalidConfig, c.RingTimeout)
	}
	for _, s := range []struct {
		name string
		cfg  *SideConfig
	}{{"Inside", &c.Inside}, {"Outside", &c.Outside}} {
		for _, p := range s.cfg.Trusted {
			if !p.IsValid() {
				return c, fmt.Errorf("%w: %s.Trusted has an invalid prefix", ErrInvalidConfig, s.name)
			}
		}
	}
	if err := c.OnDemand.validate(); err != nil {
		return c, err
	}
	if c.Announcer == nil {
		a, err := guidance.NewAnnouncer(guidance.Config{})
		if err != nil {
			return c, fmt.Errorf("%w: Announcer: %w", ErrInvalidConfig, err)
		}
		c.Announcer = a
	}
	if !c.MediaAddr.IsValid() {
		ap, _ := netip.ParseAddrPort(c.Inside.Listen)
		c.MediaAddr = ap.Addr()
	}
	if c.MediaAddr.IsUnspecified() {
		return c, fmt.Errorf("%w: MediaAddr must be a concrete address to advertise in SDP", ErrInvalidConfig)
	}
	if c.InactivityTimeout == 0 {
		c.InactivityTimeout = DefaultInactivityTimeout
	}
	if c.MaxCallDuration == 0 {
		c.MaxCallDuration = DefaultMaxCallDuration
	}
	if c.RingTimeout == 0 {
		c.RingTimeout = DefaultRingTimeout
	}
	if c.RetryAfter == 0 {
		c.RetryAfter = DefaultRetryAfter
	}
	if c.MaxDialogs == 0 {
		c.MaxDialogs = DefaultMaxDialogs
	}
	switch {
	case c.PriorityReserve == 0:
		// Never all of them: a one-call B2BUA keeps no reserve.
		c.PriorityReserve = min(defaultPriorityReserve(c.MaxDialogs), c.MaxDialogs-1)
	case c.PriorityReserve < 0:
		c.PriorityReserve = 0
	}
	if c.PriorityReserve >= c.MaxDialogs {
		return c, fmt.Errorf("%w: PriorityReserve %d leaves no call of MaxDialogs %d to ordinary calls", ErrInvalidConfig, c.PriorityReserve, c.MaxDialogs)
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.SIPReceiveBuffer == 0 {
		c.SIPReceiveBuffer = DefaultSIPReceiveBuffer
	}
	var err error
	if c.TCP, err = c.TCP.withDefaults(); err != nil {
		return c, err
	}
	if c.StrandedRetry < 0 {
		return c, fmt.Errorf("%w: StrandedRetry %v is negative", ErrInvalidConfig, c.StrandedRetry)
	}
	if c.RecordingReserve == 0 {
		c.RecordingReserve = DefaultRecordingReserve
	}
	if c.StrandedRetry == 0 {
		c.StrandedRetry = DefaultStrandedRetry
	}
	if c.SpoolFree == nil {
		if ds, ok := c.Delivery.(interface {
			DiskSpace() (delivery.DiskSpace, error)
		}); ok {
			c.SpoolFree = func() (uint64, error) {
				s, err := ds.DiskSpace()
				return s.Free, err
			}
		}
	}
	if c.MinSpoolFree > 0 && c.SpoolFree == nil {
		return c, fmt.Errorf("%w: MinSpoolFree is set but SpoolFree is nil", ErrInvalidConfig)
	}
	if c.Clock == nil {
		c.Clock = relay.SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

func (s *SideConfig) validate(name string) error {
	if _, err := netip.ParseAddrPort(s.Listen); err != nil {
		return fmt.Errorf("%w: %s.Listen %q: %v", ErrInvalidConfig, name, s.Listen, err)
	}
	if _, port, err := net.SplitHostPort(s.NextHop); err != nil || port == "" || port == "0" {
		return fmt.Errorf("%w: %s.NextHop %q is not a host:port", ErrInvalidConfig, name, s.NextHop)
	}
	s.Transport = strings.ToLower(s.Transport)
	switch s.Transport {
	case "":
		s.Transport = "udp"
	case "udp", "tcp":
	default:
		return fmt.Errorf("%w: %s.Transport %q is not udp or tcp", ErrInvalidConfig, name, s.Transport)
	}
	if s.Username != "" && s.Password == "" {
		return fmt.Errorf("%w: %s.Username is set without a Password", ErrInvalidConfig, name)
	}
	for _, p := range s.Networks {
		if !p.IsValid() {
			return fmt.Errorf("%w: %s.Networks has an invalid prefix", ErrInvalidConfig, name)
		}
	}
	return nil
}
