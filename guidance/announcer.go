package guidance

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Mode selects who hears the announcement.
type Mode uint8

// The guidance modes. The zero value is ModeBoth, the service as described:
// both parties hear the announcement at the same time.
const (
	// ModeBoth plays the announcement to both parties simultaneously.
	ModeBoth Mode = iota
	// ModeCallerOnly plays it to the caller only; the callee hears silence
	// meanwhile.
	ModeCallerOnly
	// ModeCalleeOnly plays it to the callee only; the caller hears silence
	// meanwhile.
	ModeCalleeOnly
	// ModeOff plays no announcement: guidance starts and ends at once.
	ModeOff
)

// String returns the mode's name, e.g. "both" or "caller-only".
func (m Mode) String() string {
	switch m {
	case ModeBoth:
		return "both"
	case ModeCallerOnly:
		return "caller-only"
	case ModeCalleeOnly:
		return "callee-only"
	case ModeOff:
		return "off"
	default:
		return fmt.Sprintf("Mode(%d)", uint8(m))
	}
}

// EventType identifies an [Event].
type EventType uint8

// The events an [Announcer] reports.
const (
	// GuidanceStarted: the announcement starts playing; the call's billing
	// starts at the event's Time.
	GuidanceStarted EventType = iota + 1
	// GuidanceEnded: the announcement is over (or was interrupted);
	// relaying has resumed and the recording starts at the event's Time.
	GuidanceEnded
)

// String returns "GuidanceStarted" or "GuidanceEnded".
func (t EventType) String() string {
	switch t {
	case GuidanceStarted:
		return "GuidanceStarted"
	case GuidanceEnded:
		return "GuidanceEnded"
	default:
		return fmt.Sprintf("EventType(%d)", uint8(t))
	}
}

// Event is a guidance milestone, reported through [Config].OnEvent.
type Event struct {
	Type EventType
	// Time is when it happened, by package time's clock.
	Time time.Time
	// Announcement is the announcement ID, or 0 for [Announcer.PlayPrompt].
	Announcement int
	// Mode is the Announcer's mode.
	Mode Mode
	// Interrupted reports, on GuidanceEnded, that the guidance was cut short
	// because the Play context ended.
	Interrupted bool
	// ToCaller and ToCallee are the Streams passed to Play, which tell the
	// calls of a shared Announcer apart.
	ToCaller, ToCallee *Stream
}

// Result summarises one guidance.
type Result struct {
	// Announcement is the announcement ID, or 0 for PlayPrompt.
	Announcement int
	// Started is the GuidanceStarted time: the billing start.
	Started time.Time
	// Ended is the GuidanceEnded time: relaying resumed and the recording
	// may start.
	Ended time.Time
	// Packets is the number of packets injected per listening party.
	Packets int
	// Interrupted reports that the Play context ended first.
	Interrupted bool
	// WriteErrors counts failed packet writes; guidance carries on through
	// them so that the other party and the timing are unaffected.
	WriteErrors int
}

// Config configures an [Announcer]. The zero value plays the embedded
// prompts to both parties with no beep.
type Config struct {
	// Mode selects who hears the announcement.
	Mode Mode
	// Carrier is the carrier name in the announcement texts; empty means
	// DefaultCarrier. With another name the embedded prompts, which say
	// DefaultCarrier, are not used: supply Prompts for the announcements
	// you play.
	Carrier string
	// Prompts replaces the recordings of announcements by ID (1–5), e.g.
	// professionally recorded prompts loaded with LoadPrompt.
	Prompts map[int]*Prompt
	// Beep mixes a periodic tone into the relayed audio after guidance.
	Beep Beep
	// Logger receives guidance records; nil discards.
	Logger *slog.Logger
	// OnEvent, if set, is called synchronously from Play with each Event.
	// It must not block: packets are due every 20 ms.
	OnEvent func(Event)
}

// Announcer plays the recording announcement of a call into its two
// outbound [Stream]s and reports when guidance starts and ends. One
// Announcer serves any number of calls concurrently; its prompts are
// decoded and validated once, in [NewAnnouncer].
type Announcer struct {
	mode    Mode
	prompts [NumAnnouncements]*Prompt
	beep    *beepTone
	log     *slog.Logger
	onEvent func(Event)
}

// NewAnnouncer validates cfg and returns an Announcer. Errors wrap
// [ErrInvalidConfig] and name the offending field.
func NewAnnouncer(cfg Config) (*Announcer, error) {
	if cfg.Mode > ModeOff {
		return nil, fmt.Errorf("%w: Config.Mode: unknown mode %d", ErrInvalidConfig, uint8(cfg.Mode))
	}
	if err := checkCarrier("Config.Carrier", cfg.Carrier); err != nil {
		return nil, err
	}
	beep, err := newBeepTone(cfg.Beep)
	if err != nil {
		return nil, fmt.Errorf("Config.%w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Announcer{
		mode:    cfg.Mode,
		beep:    beep,
		log:     log.With("component", "guidance"),
		onEvent: cfg.OnEvent,
	}
	for id, p := range cfg.Prompts {
		if _, err := Lookup(id); err != nil {
			return nil, fmt.Errorf("%w: Config.Prompts: %w", ErrInvalidConfig, err)
		}
		if p == nil || p.Len() == 0 {
			return nil, fmt.Errorf("%w: Config.Prompts[%d]: nil or empty prompt", ErrInvalidConfig, id)
		}
		a.prompts[id-1] = p
	}
	if cfg.Carrier == "" || cfg.Carrier == DefaultCarrier {
		for i := range a.prompts {
			if a.prompts[i] != nil {
				continue
			}
			if a.prompts[i], err = EmbeddedPrompt(i + 1); err != nil {
				return nil, err
			}
		}
	}
	return a, nil
}

// Prompt returns the recording the Announcer plays for announcement id, or
// an error wrapping [ErrUnknownAnnouncement] or [ErrNoPrompt].
func (a *Announcer) Prompt(id int) (*Prompt, error) {
	if _, err := Lookup(id); err != nil {
		return nil, err
	}
	if p := a.prompts[id-1]; p != nil {
		return p, nil
	}
	return nil, fmt.Errorf("%w: %d (custom carrier without Config.Prompts[%d])", ErrNoPrompt, id, id)
}

// Play plays announcement id to the parties the mode selects, through the
// Streams toward the caller and toward the callee, and returns when the
// guidance is over. See [Announcer.PlayPrompt].
func (a *Announcer) Play(ctx context.Context, id int, toCaller, toCallee *Stream) (Result, error) {
	p, err := a.Prompt(id)
	if err != nil {
		return Result{Announcement: id}, err
	}
	return a.play(ctx, id, p, toCaller, toCallee)
}

// PlayPrompt plays p as the guidance; use it for prompts outside the five
// announcements. Call it (or [Announcer.Play]) when the callee answers, in
// every mode, ModeOff included, since it also starts the beep.
//
// Both Streams withhold the parties' audio from GuidanceStarted to
// GuidanceEnded, whichever party hears the prompt; the listening parties
// receive packet n of the prompt at Started + n×20 ms, all at the same
// time. At the end (or when ctx ends, e.g. because a party hung up) the
// Streams resume relaying with sequence and timestamp continuity and the
// beep, if configured, starts. A nil Stream is allowed for a party that does
// not hear the prompt. PlayPrompt returns after GuidanceEnded, so its
// return is the signal to start recording; an interrupted guidance returns
// an error wrapping [ErrInterrupted] and the context's error, with the
// Result filled in.
func (a *Announcer) PlayPrompt(ctx context.Context, p *Prompt, toCaller, toCallee *Stream) (Result, error) {
	if p == nil || p.Len() == 0 {
		return Result{}, fmt.Errorf("%w: nil or empty prompt", ErrPromptLength)
	}
	return a.play(ctx, 0, p, toCaller, toCallee)
}

// leg is one Stream taking part in a guidance.
type leg struct {
	s   *Stream
	cfg PlayerConfig
	pl  *Player // nil for a party that does not hear the prompt
}

func (a *Announcer) play(ctx context.Context, id int, p *Prompt, toCaller, toCallee *Stream) (Result, error) {
	res := Result{Announcement: id}
	if err := a.checkStreams(toCaller, toCallee); err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("%w: %w", ErrInterrupted, err)
	}
	// The announcement's attributes go on each record: a Logger.With here
	// would be built for every call even when Info is filtered out.
	log := a.log
	emit := func(t EventType, at time.Time) {
		if a.onEvent != nil {
			a.onEvent(Event{Type: t, Time: at, Announcement: id, Mode: a.mode, Interrupted: res.Interrupted, ToCaller: toCaller, ToCallee: toCallee})
		}
	}
	res.Started = time.Now()
	if a.mode == ModeOff {
		for _, s := range []*Stream{toCaller, toCallee} {
			if s != nil {
				s.pass(a.beep)
			}
		}
		res.Ended = res.Started
		emit(GuidanceStarted, res.Started)
		emit(GuidanceEnded, res.Ended)
		return res, nil
	}

	legs, err := a.begin(p, res.Started, toCaller, toCallee)
	if err != nil {
		return res, err
	}
	emit(GuidanceStarted, res.Started)
	log.Info("guidance started", "announcement", id, "mode", a.mode, "duration", p.Duration())

	sent, perr := pace(ctx, res.Started, p.Packets(), func(int) bool {
		for i := range legs {
			l := &legs[i]
			if l.pl == nil {
				continue
			}
			pkt, _ := l.pl.Next()
			if err := l.s.w.WriteRTP(pkt); err != nil {
				if res.WriteErrors == 0 {
					log.Warn("guidance packet write failed", "announcement", id, "mode", a.mode, "seq", pkt.SequenceNumber, "error", err)
				}
				res.WriteErrors++
			}
		}
		return true
	})

	res.Ended = time.Now()
	res.Packets = sent
	res.Interrupted = perr != nil
	last := res.Started.Add(time.Duration(sent-1) * PacketDuration)
	for _, l := range legs {
		injected := 0
		if l.pl != nil {
			injected = sent
		}
		l.s.end(l.cfg, injected, last, a.beep)
	}
	emit(GuidanceEnded, res.Ended)
	log.Info("guidance ended", "announcement", id, "mode", a.mode, "packets", sent, "interrupted", res.Interrupted, "write_errors", res.WriteErrors)
	if perr != nil {
		return res, fmt.Errorf("%w: %w", ErrInterrupted, perr)
	}
	return res, nil
}

// checkStreams verifies that every party the mode plays to has a Stream.
func (a *Announcer) checkStreams(toCaller, toCallee *Stream) error {
	switch {
	case toCaller != nil && toCaller == toCallee:
		return fmt.Errorf("%w: the same Stream for caller and callee", ErrNoStream)
	case toCaller == nil && (a.mode == ModeBoth || a.mode == ModeCallerOnly):
		return fmt.Errorf("%w: nil Stream toward the caller in mode %v", ErrNoStream, a.mode)
	case toCallee == nil && (a.mode == ModeBoth || a.mode == ModeCalleeOnly):
		return fmt.Errorf("%w: nil Stream toward the callee in mode %v", ErrNoStream, a.mode)
	}
	return nil
}

// begin switches the Streams to guidance and prepares a Player for each
// listening party. On failure it restores the Streams already switched.
func (a *Announcer) begin(p *Prompt, now time.Time, toCaller, toCallee *Stream) ([]leg, error) {
	legs := make([]leg, 0, 2)
	for i, s := range []*Stream{toCaller, toCallee} {
		if s == nil {
			continue
		}
		cfg, err := s.begin(now)
		if err == nil {
			l := leg{s: s, cfg: cfg}
			if a.hears(i == 0) {
				l.pl, err = NewPlayer(p, cfg)
			}
			legs = append(legs, l)
		}
		if err != nil {
			for _, l := range legs {
				l.s.abort()
			}
			return nil, err
		}
	}
	return legs, nil
}

// hears reports whether the caller (or else the callee) hears the prompt.
func (a *Announcer) hears(caller bool) bool {
	return a.mode == ModeBoth || (caller && a.mode == ModeCallerOnly) || (!caller && a.mode == ModeCalleeOnly)
}
