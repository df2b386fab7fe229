package main

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/callrec/callrec/dialplan"
	"github.com/callrec/callrec/sipadapter"
	"github.com/emiago/sipgo/sip"
)

// lineEntry is one configured contract line.
type lineEntry struct {
	line     sipadapter.Line
	source   netip.Prefix // the line matches only from here; zero: anywhere
	priority bool
}

func (e lineEntry) from(addr netip.Addr) bool {
	return !e.source.IsValid() || e.source.Contains(addr)
}

// lineTable resolves lines from the configuration file: first by user (the
// From user of an outgoing call, the called number of an incoming one),
// then by the first source-only entry whose network holds the sender. It
// is immutable and implements [sipadapter.LineResolver].
type lineTable struct {
	byUser   map[string]lineEntry
	bySource []lineEntry
}

// lineKey is a user's lookup key: the national digits of a number, or the
// user as written when it is a name rather than a number.
func lineKey(user string) string {
	if n, err := dialplan.Normalize(user); err == nil {
		return n
	}
	return user
}

func (t *lineTable) lookup(user string, src netip.AddrPort) (lineEntry, bool) {
	addr := src.Addr().Unmap()
	if e, ok := t.byUser[lineKey(user)]; ok && e.from(addr) {
		return e, true
	}
	for _, e := range t.bySource {
		if e.from(addr) {
			return e, true
		}
	}
	return lineEntry{}, false
}

// Line returns the configured line of user, or an error wrapping
// [sipadapter.ErrUnknownLine].
func (t *lineTable) Line(_ context.Context, user string, src netip.AddrPort) (sipadapter.Line, error) {
	if e, ok := t.lookup(user, src); ok {
		return e.line, nil
	}
	return sipadapter.Line{}, fmt.Errorf("%w: user %q from %s", sipadapter.ErrUnknownLine, user, src)
}

// checkLines validates the lines and their defaults.
func (fc *fileConfig) checkLines(c *checker) *lineTable {
	defAnn := fc.Recording.Announcement
	if defAnn == 0 {
		defAnn = defaultAnnouncement
	}
	if defAnn < 1 || defAnn > maxAnnouncementID {
		c.addf("recording.announcement", "%d is not an announcement 1–%d", defAnn, maxAnnouncementID)
	}
	defChannels := c.oneOf("recording.channels", fc.Recording.Channels, channelsStereo, channelsStereo, channelsMono)

	t := &lineTable{byUser: make(map[string]lineEntry)}
	firstKey := make(map[string]string) // user key → lines[i] that has it
	for i, l := range fc.Lines {
		key := fmt.Sprintf("lines[%d]", i)
		e := lineEntry{priority: l.Priority, line: sipadapter.Line{Number: l.Number, Announcement: l.Announcement}}
		if l.Kind == "" {
			c.addf(key+".kind", "missing: mobile or fixed")
		} else if err := e.line.Kind.UnmarshalText([]byte(l.Kind)); err != nil {
			c.addf(key+".kind", "%q is not mobile or fixed", l.Kind)
		}
		if l.Number != "" {
			if _, err := dialplan.Normalize(l.Number); err != nil {
				c.addf(key+".number", "%v", err)
			}
		}
		if e.line.Announcement == 0 {
			e.line.Announcement = defAnn
		} else if e.line.Announcement < 1 || e.line.Announcement > maxAnnouncementID {
			c.addf(key+".announcement", "%d is not an announcement 1–%d", e.line.Announcement, maxAnnouncementID)
		}
		e.line.Mono = c.oneOf(key+".channels", l.Channels, defChannels, channelsStereo, channelsMono) == channelsMono
		if err := e.line.Record.UnmarshalText([]byte(l.Record)); err != nil {
			c.addf(key+".record", "%q is not prefix, all or on-demand", l.Record)
		}
		if l.Source != "" {
			e.source = c.prefix(key+".source", l.Source)
		}
		switch {
		case l.User == "" && l.Source == "":
			c.addf(key, "needs a user, a source or both")
		case l.User == "":
			t.bySource = append(t.bySource, e)
		default:
			k := lineKey(l.User)
			if prev, dup := firstKey[k]; dup {
				c.addf(key+".user", "%q is already the user of %s", l.User, prev)
				continue
			}
			firstKey[k] = key
			t.byUser[k] = e
		}
	}
	return t
}

// priorityRules decide which calls are disaster-priority calls, besides
// those carrying a Resource-Priority header (which sipadapter honours
// itself).
type priorityRules struct {
	sources []netip.Prefix      // any request from here
	inside  []netip.Prefix      // the inside side's networks
	callers map[string]struct{} // From users, trusted only from inside
	lines   *lineTable          // lines flagged priority, trusted only from inside
}

func (p filePriority) check(c *checker, inside []netip.Prefix) *priorityRules {
	r := &priorityRules{inside: inside, callers: make(map[string]struct{}, len(p.Callers))}
	for i, s := range p.Sources {
		if pfx := c.prefix(fmt.Sprintf("priority.sources[%d]", i), s); pfx.IsValid() {
			r.sources = append(r.sources, pfx)
		}
	}
	for i, u := range p.Callers {
		if u == "" {
			c.addf(fmt.Sprintf("priority.callers[%d]", i), "empty")
			continue
		}
		r.callers[lineKey(u)] = struct{}{}
	}
	return r
}

func containsAddr(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// match reports whether req is a priority call. A From user proves nothing
// when it comes from outside, so callers and lines count only from the
// inside networks.
func (p *priorityRules) match(req *sip.Request) bool {
	src, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return false
	}
	addr := src.Addr().Unmap()
	if containsAddr(p.sources, addr) {
		return true
	}
	from := req.From()
	if from == nil || !containsAddr(p.inside, addr) {
		return false
	}
	user := from.Address.User
	if _, ok := p.callers[lineKey(user)]; ok {
		return true
	}
	e, ok := p.lines.lookup(user, src)
	return ok && e.priority
}
