package dialplan

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecideOutgoingModesAndCallerID(t *testing.T) {
	allLine := Line{Kind: LineFixed, Number: "03-9999-0000", Mode: RecordAll}
	all050 := Line{Kind: LineFixed, Number: "050-9999-0000", Mode: RecordAll}
	allMobile := Line{Kind: LineMobile, Number: "090-9999-0000", Mode: RecordAll}
	onDemand := Line{Kind: LineFixed, Number: "03-9999-0000", Mode: RecordOnDemand}
	type want struct {
		verdict            Verdict
		destination        string
		prefixed, onDemand bool
		withhold, present  bool
	}
	tests := map[string]struct {
		line    Line
		dialled string
		roaming bool
		want    want
	}{
		// record: all — unprefixed calls the prefix allows are recorded.
		"all: unprefixed tokyo":           {allLine, "03-1234-5678", false, want{VerdictRecord, "0312345678", false, false, false, false}},
		"all: unprefixed mobile":          {allMobile, "090-1234-5678", false, want{VerdictRecord, "09012345678", false, false, false, false}},
		"all: unprefixed international":   {allLine, "010-1-212-555-1234", false, want{VerdictRecord, "01012125551234", false, false, false, false}},
		"all: prefixed as usual":          {allLine, "0077-27-03-1234-5678", false, want{VerdictRecord, "0312345678", true, false, false, false}},
		"all: emergency unrecorded":       {allLine, "110", false, want{VerdictConnectUnrecorded, "110", false, false, false, false}},
		"all: 1XY unrecorded":             {allLine, "117", false, want{VerdictConnectUnrecorded, "117", false, false, false, false}},
		"all: other carrier unrecorded":   {allLine, "0088-03-1234-5678", false, want{VerdictConnectUnrecorded, "00880312345678", false, false, false, false}},
		"all: hash unrecorded":            {allLine, "#8000", false, want{VerdictConnectUnrecorded, "#8000", false, false, false, false}},
		"all: extension unrecorded":       {allLine, "201", false, want{VerdictConnectUnrecorded, "201", false, false, false, false}},
		"all: wrong length unrecorded":    {allLine, "03-1234-567", false, want{VerdictConnectUnrecorded, "031234567", false, false, false, false}},
		"all: 050 line to 0120":           {all050, "0120-123-456", false, want{VerdictConnectUnrecorded, "0120123456", false, false, false, false}},
		"all: roaming unrecorded":         {allMobile, "090-1234-5678", true, want{VerdictConnectUnrecorded, "09012345678", false, false, false, false}},
		"all: 184 unprefixed recorded":    {allLine, "184-03-1234-5678", false, want{VerdictRecord, "0312345678", false, false, true, false}},
		"all: 186 unprefixed recorded":    {allLine, "186-090-1234-5678", false, want{VerdictRecord, "09012345678", false, false, false, true}},
		"all: 184 to police unrecorded":   {allLine, "184-110", false, want{VerdictConnectUnrecorded, "184110", false, false, false, false}},
		"all: 184 to 1XY-like unrecorded": {allLine, "1841234", false, want{VerdictConnectUnrecorded, "1841234", false, false, false, false}},
		// 184/186 in front of the prefix, any mode.
		"184 before prefix":             {fixedLine, "184-0077-27-03-1234-5678", false, want{VerdictRecord, "0312345678", true, false, true, false}},
		"186 before prefix":             {mobileLine, "186-0077-26-090-1234-5678", false, want{VerdictRecord, "09012345678", true, false, false, true}},
		"184 before prefix, emergency":  {fixedLine, "184-0077-27-110", false, want{VerdictEmergency, "110", true, false, false, false}},
		"184 before the wrong prefix":   {mobileLine, "184-0077-27-03-1234-5678", false, want{VerdictPrefixLineMismatch, "0312345678", true, false, false, false}},
		"184 unprefixed, prefix mode":   {fixedLine, "184-03-1234-5678", false, want{VerdictConnectUnrecorded, "1840312345678", false, false, false, false}},
		"184 before prefix, roaming":    {mobileLine, "184-0077-26-090-1234-5678", true, want{VerdictConnectUnrecorded, "18409012345678", true, false, false, false}},
		"184 after prefix still not ok": {fixedLine, "0077-27-184-03-1234-5678", false, want{VerdictNotRecordable, "1840312345678", true, false, false, false}},
		// on-demand.
		"on-demand: unprefixed":       {onDemand, "03-1234-5678", false, want{VerdictConnectUnrecorded, "0312345678", false, true, false, false}},
		"on-demand: prefixed records": {onDemand, "0077-27-03-1234-5678", false, want{VerdictRecord, "0312345678", true, false, false, false}},
		"on-demand: not to police":    {onDemand, "119", false, want{VerdictConnectUnrecorded, "119", false, false, false, false}},
		"on-demand: not an extension": {onDemand, "201", false, want{VerdictConnectUnrecorded, "201", false, false, false, false}},
	}
	p := newPlan(t, Config{})
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			d, err := p.DecideOutgoing(OutgoingCall{Line: tt.line, Dialled: tt.dialled, Roaming: tt.roaming})
			require.NoError(t, err)
			assert.Equal(t, tt.want.verdict, d.Verdict, "verdict (reason: %s)", d.Reason)
			assert.Equal(t, tt.want.destination, d.Destination, "destination")
			assert.Equal(t, tt.want.prefixed, d.Prefixed, "prefixed")
			assert.Equal(t, tt.want.onDemand, d.OnDemand, "on demand")
			assert.Equal(t, tt.want.withhold, d.WithholdCallerID, "withhold")
			assert.Equal(t, tt.want.present, d.PresentCallerID, "present")
			assert.Equal(t, tt.want.verdict == VerdictRecord, d.Record)
			assert.NotEmpty(t, d.Reason)
			assert.NotEmpty(t, d.ReasonJA)
		})
	}
	_, err := p.DecideOutgoing(OutgoingCall{Line: Line{Kind: LineFixed, Mode: RecordMode(9)}, Dialled: "0312345678"})
	assert.ErrorIs(t, err, ErrInvalidRecordMode)
}

func TestDecideIncomingFreecallExtensionForwarded(t *testing.T) {
	p := newPlan(t, Config{
		CompanyNumbers:           []string{"03-1234-5678", "0120-111-222", "0800-111-2222"},
		IncomingExtensions:       []string{"2001"},
		IncomingExtensionPattern: `7[0-9]{3}`,
	})
	tests := map[string]struct {
		call      IncomingCall
		verdict   Verdict
		class     Class
		forwarded string
	}{
		"freecall 0120 in the R-URI":          {IncomingCall{Called: "0120-111-222"}, VerdictRecord, ClassFreecall, ""},
		"freecall 0800 in the R-URI":          {IncomingCall{Called: "+81 800 111 2222"}, VerdictRecord, ClassFreecall, ""},
		"translated, freecall in History":     {IncomingCall{Called: "06-6000-0000", ForwardedFrom: "0120111222"}, VerdictRecord, ClassGeographic, "0120111222"},
		"another company's freecall":          {IncomingCall{Called: "0120-999-999"}, VerdictConnectUnrecorded, ClassFreecall, ""},
		"forwarded to a mobile":               {IncomingCall{Called: "080-5555-6666", ForwardedFrom: "sip:0312345678@ims"}, VerdictRecord, ClassMobile, "0312345678"},
		"forwarded from a stranger":           {IncomingCall{Called: "080-5555-6666", ForwardedFrom: "0399998888"}, VerdictConnectUnrecorded, ClassMobile, "0399998888"},
		"listed extension":                    {IncomingCall{Called: "2001"}, VerdictRecord, ClassExtension, ""},
		"pattern extension":                   {IncomingCall{Called: "7123"}, VerdictRecord, ClassExtension, ""},
		"unlisted extension":                  {IncomingCall{Called: "2002"}, VerdictConnectUnrecorded, ClassExtension, ""},
		"pattern never matches a national no": {IncomingCall{Called: "0312340000"}, VerdictConnectUnrecorded, ClassGeographic, ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			d, err := p.DecideIncoming(tt.call)
			require.NoError(t, err)
			assert.Equal(t, tt.verdict, d.Verdict, d.Reason)
			assert.Equal(t, tt.class, d.Class)
			assert.Equal(t, tt.forwarded, d.ForwardedFrom)
			assert.Equal(t, tt.verdict == VerdictRecord, d.Record)
			assert.NotEmpty(t, d.ReasonJA)
		})
	}
	open := newPlan(t, Config{})
	d, err := open.DecideIncoming(IncomingCall{Called: "0120-111-222"})
	require.NoError(t, err)
	assert.False(t, d.Record, "without configured numbers no freecall number is the company's")

	// Outgoing rules do not change: a 050 line still cannot reach freecall.
	d, err = p.DecideOutgoing(OutgoingCall{Line: ipLine, Dialled: "0077-27-0120-111-222"})
	require.NoError(t, err)
	assert.Equal(t, VerdictRestrictedFrom050, d.Verdict)
	d, err = p.DecideOutgoing(OutgoingCall{Line: fixedLine, Dialled: "2001"})
	require.NoError(t, err)
	assert.Equal(t, VerdictConnectUnrecorded, d.Verdict, "outgoing extension calls stay unrecorded")
}

func TestNewValidatesIncomingExtensions(t *testing.T) {
	for name, cfg := range map[string]Config{
		"junk":          {IncomingExtensions: []string{"front desk"}},
		"national":      {IncomingExtensions: []string{"0312345678"}},
		"emergency":     {IncomingExtensions: []string{"110"}},
		"hash":          {IncomingExtensions: []string{"#12"}},
		"bad pattern":   {IncomingExtensionPattern: "("},
		"mobile number": {CompanyNumbers: []string{"090-1234-5678"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(cfg)
			assert.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
}

func TestRecordModeText(t *testing.T) {
	for _, m := range []RecordMode{RecordPrefix, RecordAll, RecordOnDemand} {
		b, err := m.MarshalText()
		require.NoError(t, err)
		var back RecordMode
		require.NoError(t, back.UnmarshalText(b))
		assert.Equal(t, m, back)
	}
	var m RecordMode
	assert.Error(t, m.UnmarshalText([]byte("sometimes")))
}
