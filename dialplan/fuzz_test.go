package dialplan

import (
	"errors"
	"testing"
)

func FuzzOutgoing(f *testing.F) {
	for _, seed := range []string{
		"0077-27-03-1234-5678", "0077-26-090-1234-5678", "０３－１２３４－５６７８", "+81 (0)3 1234 5678",
		"sip:0077270312345678@pbx;user=phone", "0077-27-110", "0077-27-#8000", "tel:%2B81", "((", "+", "",
		"0077-27-010-1-212-555-1234", "0077-27-0200-1234-567890", "\xff\xfe", "03ー1234ー5678",
	} {
		f.Add(seed, false, false)
		f.Add(seed, true, true)
	}
	p, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, dialled string, mobile, roaming bool) {
		line := Line{Kind: LineFixed}
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
			if d.Verdict != VerdictRecord || !d.Prefixed || roaming || !isDigits(d.Destination) || !d.Class.Reachable() {
				t.Fatalf("bad record decision for %q: %+v", dialled, d)
			}
		}
		if d.Prefixed && !roaming && d.Destination != "" && d.Destination[0] != '0' {
			switch d.Verdict {
			case VerdictNotRecordable, VerdictEmergency, VerdictPrefixLineMismatch:
			default:
				t.Fatalf("prefixed non-national destination %q got %s", d.Destination, d.Verdict)
			}
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
