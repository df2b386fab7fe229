package dialplan

import (
	"errors"
	"strings"
	"testing"
)

func FuzzOutgoing(f *testing.F) {
	for _, seed := range []string{
		"0077-27-03-1234-5678", "0077-26-090-1234-5678", "０３－１２３４－５６７８", "+81 (0)3 1234 5678",
		"sip:0077270312345678@pbx;user=phone", "0077-27-110", "0077-27-#8000", "tel:%2B81", "((", "+", "",
		"0077-27-010-1-212-555-1234", "0077-27-0200-1234-567890", "\xff\xfe", "03ー1234ー5678",
	} {
		f.Add(seed, false, false, uint8(RecordPrefix))
		f.Add(seed, true, true, uint8(RecordAll))
		f.Add("184-"+seed, false, false, uint8(RecordAll))
		f.Add("186-"+seed, true, false, uint8(RecordOnDemand))
	}
	p, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, dialled string, mobile, roaming bool, mode uint8) {
		line := Line{Kind: LineFixed, Mode: RecordMode(mode % 3)}
		if mobile {
			line.Kind = LineMobile
		}
		call := OutgoingCall{Line: line, Dialled: dialled, Roaming: roaming}
		d, err := p.DecideOutgoing(call)
		again, err2 := p.DecideOutgoing(call)
		if d != again || (err == nil) != (err2 == nil) {
			t.Fatalf("not deterministic: %+v / %+v", d, again)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidNumber) || d.Verdict != VerdictInvalid || d.Record {
				t.Fatalf("error %v with decision %+v", err, d)
			}
			return
		}
		if d.Reason == "" || d.ReasonJA == "" {
			t.Fatalf("decision without a reason: %+v", d)
		}
		if d.Record {
			if d.Verdict != VerdictRecord || !(d.Prefixed || line.Mode == RecordAll) || roaming || !isDigits(d.Destination) || !d.Class.Reachable() {
				t.Fatalf("bad record decision for %q: %+v", dialled, d)
			}
		} else if d.WithholdCallerID || d.PresentCallerID {
			t.Fatalf("caller-ID code taken off an unrecorded call %q: %+v", dialled, d)
		}
		if d.WithholdCallerID && d.PresentCallerID {
			t.Fatalf("184 and 186 at once: %+v", d)
		}
		if d.OnDemand && (line.Mode != RecordOnDemand || d.Verdict != VerdictConnectUnrecorded || roaming) {
			t.Fatalf("on-demand outside an on-demand line's unrecorded call: %+v", d)
		}
		if line.Mode != RecordPrefix && !d.Record && !d.Refused() && d.Class == ClassEmergency && d.Verdict != VerdictConnectUnrecorded {
			t.Fatalf("emergency call not connected: %+v", d)
		}
		if d.Prefixed && !roaming && d.Destination != "" && d.Destination[0] != '0' {
			switch d.Verdict {
			case VerdictNotRecordable, VerdictEmergency, VerdictPrefixLineMismatch:
			default:
				t.Fatalf("prefixed non-national destination %q got %s", d.Destination, d.Verdict)
			}
		}
		if line.Mode == RecordAll && !roaming && !d.Prefixed && !d.Record && d.Class.Reachable() && d.Class != ClassFreecall && d.Class != ClassNaviDial &&
			!strings.HasPrefix(d.Destination, "18") {
			t.Fatalf("record-all line left %q unrecorded: %+v", dialled, d)
		}
		if d.Refused() && !d.Prefixed && d.Verdict != VerdictInvalid {
			t.Fatalf("unprefixed call refused: %+v", d)
		}
		if n, err := Normalize(d.Dialled); err != nil || n != d.Dialled {
			t.Fatalf("Dialled %q is not normalised (%v)", d.Dialled, err)
		}
	})
}

func FuzzNormalize(f *testing.F) {
	for _, seed := range []string{"03-1234-5678", "+1 212", "sip:%23@x", "（０３）", "+81(0)3"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Normalize(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidNumber) {
				t.Fatalf("error not ErrInvalidNumber: %v", err)
			}
			return
		}
		if !isNormalized(n) {
			t.Fatalf("Normalize(%q) = %q, not digits, '#', '*'", s, n)
		}
		if again, err := Normalize(n); err != nil || again != n {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", s, n, again, err)
		}
	})
}

func FuzzIncoming(f *testing.F) {
	for _, seed := range []string{"0312345678", "0120-111-222", "2001", "sip:0800@x", "+81 3", "7123", "", "\xff"} {
		f.Add(seed, seed)
		f.Add("09012345678", seed)
	}
	p, err := New(Config{CompanyNumbers: []string{"03-1234-5678", "0120-111-222"}, IncomingExtensions: []string{"2001"},
		IncomingExtensionPattern: "7[0-9]{3}"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, called, forwardedFrom string) {
		d, err := p.DecideIncoming(IncomingCall{Called: called, ForwardedFrom: forwardedFrom})
		if err != nil {
			if !errors.Is(err, ErrInvalidNumber) || d.Record {
				t.Fatalf("error %v with decision %+v", err, d)
			}
			return
		}
		if d.Refused() || d.Reason == "" {
			t.Fatalf("incoming call refused or unexplained: %+v", d)
		}
		if !d.Record {
			return
		}
		// Recorded only for a company number, as called or as forwarded from.
		company := map[string]bool{"0312345678": true, "0120111222": true, "2001": true}
		if !company[d.Destination] && !company[d.ForwardedFrom] && !(len(d.Destination) == 4 && d.Destination[0] == '7') {
			t.Fatalf("recorded a call that is not the company's: %+v", d)
		}
	})
}
