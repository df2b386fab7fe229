package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/delivery/archive"
	"github.com/callrec/callrec/internal/sipua"
	"github.com/callrec/callrec/internal/waveform"
	"github.com/callrec/callrec/sipadapter"
)

// Check thresholds.
const (
	durationTolerance = 150 * time.Millisecond
	pitchTolerance    = 0.05 // fraction of the expected pitch
	crossTalkMax      = 0.10 // share of the other party's pitch in a stereo channel
	mixShareMin       = 0.10 // share of each party's pitch in a mono mix
	heardMin          = 0.90 // correlation of received audio with the prompt
	absentMax         = 0.50 // correlation of the recording with the prompt
	pauseMin          = 200 * time.Millisecond
	silenceRMS        = 100
)

// check is one verified fact about a call.
type check struct {
	name   string
	ok     bool
	detail string
}

// delivered is a recording as the receiving server stored it.
type delivered struct {
	wavPath, jsonPath, pngPath string
	size                       int64
	sha256                     string // of the stored file
	meta                       delivery.Metadata
	audio                      waveform.Audio
	duration                   time.Duration
}

// loadDelivered reads recording id as the archive filed it.
func (d *demo) loadDelivered(id string) (*delivered, error) {
	if id == "" || filepath.Base(id) != id || strings.HasPrefix(id, ".") {
		return nil, fmt.Errorf("recording id %q is not a file name", id)
	}
	indexed, err := d.env.arch.Store().Get(context.Background(), id, nil)
	if err != nil {
		return nil, err
	}
	wav := d.env.arch.AudioFile(indexed)
	rec := &delivered{
		wavPath:  wav,
		jsonPath: strings.TrimSuffix(wav, filepath.Ext(wav)) + ".json",
		pngPath:  filepath.Join(d.opts.out, id+".png"),
	}
	raw, err := os.ReadFile(rec.wavPath)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	rec.size, rec.sha256 = int64(len(raw)), hex.EncodeToString(sum[:])
	side, err := os.ReadFile(rec.jsonPath)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(side, &rec.meta); err != nil {
		return nil, fmt.Errorf("%s: %w", rec.jsonPath, err)
	}
	if rec.audio, err = waveform.DecodeWAV(bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("%s: %w", rec.wavPath, err)
	}
	rec.duration = rec.audio.Duration()
	return rec, nil
}

// check records the outcome of one check of the call.
func (r *result) check(name string, ok bool, format string, args ...any) {
	r.checks = append(r.checks, check{name, ok, fmt.Sprintf(format, args...)})
}

// verify runs the checks of a call.
func (d *demo) verify(r *result) {
	sc, add := r.sc, r.check
	if r.decided == nil {
		add("decision", false, "the B2BUA reported no decision")
	} else {
		add("decision", r.decided.Verdict == sc.wantVerdict, "%s, expected %s", r.decided.Verdict, sc.wantVerdict)
	}
	add("final response", r.code == sc.wantCode, "the %s's phone got %s, expected %d", sc.callerName, codeText(r.code), sc.wantCode)
	if !sc.wantRecorded {
		d.verifyRefused(r)
		return
	}
	routed := r.callee != nil && r.callee.Target() == sc.destination
	add("routed", routed, "the %s's phone was called at %s", sc.calleeName, calledAt(r.callee))
	hung := r.ended != nil && r.ended.HungUp == sc.hangUp && r.hangUpErr == nil
	detail := fmt.Sprintf("the B2BUA saw the %s hang up, as the demo had the %s do", endedBy(r.ended), sc.hangUp)
	if r.hangUpErr != nil {
		detail += fmt.Sprintf(" (BYE failed: %v)", r.hangUpErr)
	}
	add("hang-up", hung, "%s", detail)
	d.verifyHeard(r)
	rec := r.rec
	if rec == nil {
		add("delivered", false, "no recording reached the receiving server (recording id %q)", r.recordingID)
		return
	}
	add("delivered", rec.meta.Size == rec.size, "%s (%d bytes; the metadata says %d) with %s",
		rec.wavPath, rec.size, rec.meta.Size, filepath.Base(rec.jsonPath))
	add("SHA-256", rec.sha256 == rec.meta.SHA256, "stored file %s, metadata %s", short(rec.sha256), short(rec.meta.SHA256))
	wantCh := 2
	if d.opts.mono {
		wantCh = 1
	}
	wantDir := delivery.Direction(sc.direction.String())
	add("metadata", rec.meta.CallID == r.callID && rec.meta.Direction == wantDir &&
		rec.meta.Channels == wantCh && len(rec.audio.Channels) == wantCh && rec.audio.SampleRate == sipua.SampleRate &&
		rec.meta.AnnouncementID == fmt.Sprint(d.opts.announcement) &&
		!rec.meta.GuidanceStart.IsZero() && !rec.meta.GuidanceStart.Before(rec.meta.Answer),
		"%s call %s, %d channel(s) at %d Hz, announcement %s, billing start %s",
		rec.meta.Direction, rec.meta.CallID, len(rec.audio.Channels), rec.audio.SampleRate,
		rec.meta.AnnouncementID, rec.meta.GuidanceStart.Format("15:04:05.000"))
	if sc.wantDivertedFrom != "" {
		add("forwarded", rec.meta.DivertedFrom == sc.wantDivertedFrom && rec.meta.DiversionReason != "",
			"diverted from %q (%s), expected %s", rec.meta.DivertedFrom, rec.meta.DiversionReason, sc.wantDivertedFrom)
	}
	talk, ok := r.span(sipadapter.EventRecordingStarted, sipadapter.EventEnded)
	add("duration", ok && absDur(rec.duration-talk) <= durationTolerance,
		"%.3fs of audio for %.3fs of talk (planned %v)", rec.duration.Seconds(), talk.Seconds(), d.opts.duration)
	d.verifyArchived(r)
	d.verifyChannels(r)
	d.verifyNoGuidance(r)
	if err := d.picture(r); err != nil {
		add("picture", false, "%v", err)
	} else {
		add("picture", true, "%s", rec.pngPath)
	}
}

// verifyArchived checks the archive's side: the recording is indexed, its
// file still matches the SHA-256, and the company line's agent finds it by
// a part of the customer's number.
func (d *demo) verifyArchived(r *result) {
	ctx := context.Background()
	a, id := d.env.arch, r.rec.meta.ID
	agentLines := []string{digits(companyNumber)}
	part := digits(customerNumber)[4:]
	got, err := a.Store().Get(ctx, id, agentLines)
	if err == nil {
		err = a.Verify(ctx, got)
	}
	found := false
	if err == nil {
		var p archive.Page
		p, err = a.Store().Search(ctx, archive.Query{Number: part, Lines: agentLines})
		for _, rec := range p.Recordings {
			found = found || rec.ID == id
		}
	}
	detail := fmt.Sprintf("indexed, SHA-256 verified, found by the agent's search for %q", part)
	if err != nil {
		detail = err.Error()
	}
	r.check("archived", err == nil && found, "%s", detail)
}

func (d *demo) verifyRefused(r *result) {
	add := r.check
	reason, warning := "", ""
	if r.rejection != nil {
		reason, warning = r.rejection.Reason, r.rejection.Warning
	}
	want := r.sc.wantVerdict.String()
	add("reason given", strings.Contains(reason, want) && strings.Contains(warning, want),
		"the Reason and Warning headers name the verdict %q", want)
	_, rang := r.at[sipadapter.EventRinging]
	add("not forwarded", r.callee == nil && !rang, "the %s never saw the call", r.sc.calleeName)
	add("not recorded", r.recordingID == "", "no recording was made (id %q)", r.recordingID)
}

// verifyHeard checks that both parties received the announcement.
func (d *demo) verifyHeard(r *result) {
	add := r.check
	prompt, err := d.env.announcer.Prompt(d.opts.announcement)
	if err != nil {
		add("guidance heard", false, "%v", err)
		return
	}
	var parts []string
	ok := true
	for _, p := range []struct {
		name string
		call *sipua.Call
	}{{r.sc.callerName, r.caller}, {r.sc.calleeName, r.callee}} {
		if p.call == nil {
			ok = false
			parts = append(parts, p.name+": no call")
			continue
		}
		rx, want := p.call.Received(), p.call.Codec().RoundTrip(prompt.Samples())
		off, score := sipua.Find(rx, want)
		whole := off >= 0 && off+len(want) <= len(rx) // not just a part of it
		ok = ok && whole && score >= heardMin
		extent := "whole"
		if !whole {
			extent = "partly"
		}
		parts = append(parts, fmt.Sprintf("%s %s, correlation %.3f at %.2fs", p.name, extent, score, float64(off)/sipua.SampleRate))
	}
	add("guidance heard", ok, "the announcement in each phone's audio: %s", strings.Join(parts, "; "))
}

// verifyChannels checks whose voice is in which channel by its pitch.
func (d *demo) verifyChannels(r *result) {
	add := r.check
	sc, ch := r.sc, r.rec.audio.Channels
	if d.opts.mono {
		p := sipua.EstimatePitch(ch[0])
		a, b := p.Share(sc.callerPitch, pitchTolerance), p.Share(sc.calleePitch, pitchTolerance)
		add("channels", a >= mixShareMin && b >= mixShareMin,
			"the mix holds both voices: %s %.0f Hz in %.0f%% of voiced frames, %s %.0f Hz in %.0f%%",
			sc.callerName, sc.callerPitch, 100*a, sc.calleeName, sc.calleePitch, 100*b)
		return
	}
	if len(ch) != 2 {
		add("channels", false, "%d channels, expected 2", len(ch))
		return
	}
	left, right := sipua.EstimatePitch(ch[0]), sipua.EstimatePitch(ch[1])
	ok := near(left.Hz, sc.callerPitch) && near(right.Hz, sc.calleePitch) &&
		left.Share(sc.calleePitch, pitchTolerance) <= crossTalkMax && right.Share(sc.callerPitch, pitchTolerance) <= crossTalkMax
	add("channels", ok, "left %.0f Hz (the caller, %s, speaks at %.0f Hz), right %.0f Hz (the callee, %s, at %.0f Hz)",
		left.Hz, sc.callerName, sc.callerPitch, right.Hz, sc.calleeName, sc.calleePitch)
}

// verifyNoGuidance checks that the announcement is not in the file.
func (d *demo) verifyNoGuidance(r *result) {
	add := r.check
	prompt, err := d.env.announcer.Prompt(d.opts.announcement)
	if err != nil {
		add("no guidance in file", false, "%v", err)
		return
	}
	worst := 0.0
	for _, ch := range r.rec.audio.Channels {
		_, score := sipua.Find(ch, prompt.Samples())
		worst = max(worst, score)
	}
	add("no guidance in file", worst < absentMax, "best correlation with the announcement %.3f", worst)
}

// picture draws the call from the billing start: the announcement (not in
// the file) as an amber band, then the recording with its pauses.
func (d *demo) picture(r *result) error {
	rec := r.rec
	lead := time.Duration(0)
	gStart, okStart := r.at[sipadapter.EventGuidanceStarted]
	recStart, okRec := r.at[sipadapter.EventRecordingStarted]
	if okStart && okRec && recStart.After(gStart) {
		lead = recStart.Sub(gStart)
	}
	pad := int(lead * sipua.SampleRate / time.Second)
	audio := waveform.Audio{SampleRate: rec.audio.SampleRate}
	for _, ch := range rec.audio.Channels {
		audio.Channels = append(audio.Channels, append(make([]int16, pad), ch...))
	}
	var spans []waveform.Span
	if lead > 0 {
		g, _ := r.span(sipadapter.EventGuidanceStarted, sipadapter.EventGuidanceEnded)
		spans = append(spans, waveform.Span{
			Start: 0, End: min(g, lead), Kind: waveform.Guidance,
			Label: fmt.Sprintf("announcement %d (billing start; not recorded)", d.opts.announcement),
		})
	}
	for _, p := range pauses(rec.audio.Channels) {
		spans = append(spans, waveform.Span{Start: lead + p[0], End: lead + p[1], Kind: waveform.Pause})
	}
	labels := []string{"caller (L): " + r.sc.callerName, "callee (R): " + r.sc.calleeName}
	if d.opts.mono {
		labels = []string{"caller + callee (mono)"}
	}
	var buf bytes.Buffer
	err := waveform.Render(&buf, audio, waveform.Options{
		Title: fmt.Sprintf("callrec demo call %d: %s %s, recording from %.2fs",
			r.sc.n, r.sc.direction, r.sc.dialled, lead.Seconds()),
		Labels: labels, Spans: spans,
	})
	if err != nil {
		return err
	}
	return os.WriteFile(rec.pngPath, buf.Bytes(), 0o644)
}

// pauses returns the spans of at least pauseMin where every channel is
// silent, in 20 ms steps.
func pauses(chs [][]int16) [][2]time.Duration {
	const step = sipua.SampleRate / 50
	var out [][2]time.Duration
	n := 0
	for _, ch := range chs {
		n = max(n, len(ch))
	}
	run := -1
	flush := func(end int) {
		if run >= 0 && time.Duration(end-run)*time.Second/sipua.SampleRate >= pauseMin {
			out = append(out, [2]time.Duration{
				time.Duration(run) * time.Second / sipua.SampleRate, time.Duration(end) * time.Second / sipua.SampleRate,
			})
		}
		run = -1
	}
	for i := 0; i+step <= n; i += step {
		silent := true
		for _, ch := range chs {
			if i+step <= len(ch) && sipua.RMS(ch[i:i+step]) > silenceRMS {
				silent = false
			}
		}
		switch {
		case silent && run < 0:
			run = i
		case !silent:
			flush(i)
		}
	}
	flush(n - n%step)
	return out
}

func near(got, want float64) bool { return math.Abs(got-want) <= pitchTolerance*want }

func absDur(d time.Duration) time.Duration { return max(d, -d) }

func short(sum string) string {
	if len(sum) > 16 {
		return sum[:16] + "…"
	}
	return sum
}

func calledAt(c *sipua.Call) string {
	if c == nil {
		return "(never)"
	}
	return c.Target()
}

func endedBy(e *sipadapter.Event) string {
	if e == nil {
		return "(not ended)"
	}
	return string(e.HungUp)
}
