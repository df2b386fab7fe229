package dialplan

import "testing"

// BenchmarkOutgoing measures one decision on already normalised input across
// a mix of verdicts, which is what a switch does per call attempt.
func BenchmarkOutgoing(b *testing.B) {
	p, err := New(Config{CompanyNumbers: []string{"0312345678"}})
	if err != nil {
		b.Fatal(err)
	}
	calls := []OutgoingCall{
		{Line: Line{Kind: LineFixed, Number: "0399990000"}, Dialled: "0077270312345678"},
		{Line: Line{Kind: LineMobile, Number: "09099990000"}, Dialled: "00772609012345678"},
		{Line: Line{Kind: LineFixed, Number: "05099990000"}, Dialled: "0077270120123456"},
		{Line: Line{Kind: LineFixed}, Dialled: "007727110"},
		{Line: Line{Kind: LineFixed}, Dialled: "0312345678"},
		{Line: Line{Kind: LineFixed}, Dialled: "201"},
		{Line: Line{Kind: LineMobile}, Dialled: "00772603123456789"},
		{Line: Line{Kind: LineFixed}, Dialled: "00772701012125551234"},
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := p.DecideOutgoing(calls[i%len(calls)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNormalize measures the slow path: a number as a person types it.
func BenchmarkNormalize(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Normalize("+81 (0)3-1234-5678"); err != nil {
			b.Fatal(err)
		}
	}
}
