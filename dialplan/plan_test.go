package dialplan

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	fixedLine  = Line{Kind: LineFixed, Number: "03-9999-0000"}
	mobileLine = Line{Kind: LineMobile, Number: "090-9999-0000"}
	ipLine     = Line{Kind: LineFixed, Number: "050-9999-0000"}
)

func newPlan(t testing.TB, cfg Config) *Plan {
	t.Helper()
	p, err := New(cfg)
	require.NoError(t, err)
	return p
}

func TestDecideOutgoing(t *testing.T) {
	type want struct {
		verdict     Verdict
		class       Class
		destination string
	}
	record := func(c Class, dest string) want { return want{VerdictRecord, c, dest} }
	tests := map[string]struct {
		line    Line
		dialled string
		roaming bool
		want    want
	}{
		// Recorded destinations.
		"fixed to tokyo":               {fixedLine, "0077-27-03-1234-5678", false, record(ClassGeographic, "0312345678")},
		"mobile to tokyo":              {mobileLine, "0077-26-03-1234-5678", false, record(ClassGeographic, "0312345678")},
		"area code 0250":               {fixedLine, "0077-27-0250-12-3456", false, record(ClassGeographic, "0250123456")},
		"tokorozawa":                   {fixedLine, "0077-27-04-2921-1234", false, record(ClassGeographic, "0429211234")},
		"tajimi 0572":                  {fixedLine, "0077-27-0572-12-3456", false, record(ClassGeographic, "0572123456")},
		"chitose 0123":                 {fixedLine, "0077-27-0123-12-3456", false, record(ClassGeographic, "0123123456")},
		"kagoshima 099":                {fixedLine, "0077-27-099-222-3333", false, record(ClassGeographic, "0992223333")},
		"ip phone":                     {fixedLine, "0077-27-050-1234-5678", false, record(ClassIPPhone, "05012345678")},
		"mobile 090":                   {mobileLine, "0077-26-090-1234-5678", false, record(ClassMobile, "09012345678")},
		"mobile 060-1":                 {mobileLine, "0077-26-060-1234-5678", false, record(ClassMobile, "06012345678")},
		"phs 070":                      {fixedLine, "0077-27-070-1234-5678", false, record(ClassMobile, "07012345678")},
		"freecall 0120":                {fixedLine, "0077-27-0120-123-456", false, record(ClassFreecall, "0120123456")},
		"freecall 0800":                {fixedLine, "0077-27-0800-123-4567", false, record(ClassFreecall, "08001234567")},
		"freecall 0800 written as 080": {fixedLine, "0077-27-080-0123-4567", false, record(ClassFreecall, "08001234567")},
		"navi dial":                    {fixedLine, "0077-27-0570-123-456", false, record(ClassNaviDial, "0570123456")},
		"international":                {fixedLine, "0077-27-010-1-212-555-1234", false, record(ClassInternational, "01012125551234")},
		"full-width input":             {fixedLine, "００７７－２７－０３－１２３４－５６７８", false, record(ClassGeographic, "0312345678")},
		"sip uri":                      {fixedLine, "sip:0077270312345678@pbx.example;user=phone", false, record(ClassGeographic, "0312345678")},
		"050 line to tokyo":            {ipLine, "0077-27-03-1234-5678", false, record(ClassGeographic, "0312345678")},
		"050 line to mobile":           {ipLine, "0077-27-090-1234-5678", false, record(ClassMobile, "09012345678")},
		"no line number":               {Line{Kind: LineFixed}, "0077-27-0120-123-456", false, record(ClassFreecall, "0120123456")},
		// Not reachable with the prefix.
		"m2m 020":                 {fixedLine, "0077-27-020-1234-5678", false, want{VerdictNotRecordable, ClassOther0A0, "02012345678"}},
		"m2m 0200":                {fixedLine, "0077-27-0200-1234-567890", false, want{VerdictNotRecordable, ClassOther0A0, "02001234567890"}},
		"fmc 0600":                {fixedLine, "0077-27-0600-123-4567", false, want{VerdictNotRecordable, ClassOther0A0, "06001234567"}},
		"unassigned 030":          {fixedLine, "0077-27-030-1234-5678", false, want{VerdictNotRecordable, ClassOther0A0, "03012345678"}},
		"0170":                    {fixedLine, "0077-27-0170-123-456", false, want{VerdictNotRecordable, ClassOther0AB0, "0170123456"}},
		"0180":                    {fixedLine, "0077-27-0180-123-456", false, want{VerdictNotRecordable, ClassOther0AB0, "0180123456"}},
		"0990":                    {fixedLine, "0077-27-0990-123-456", false, want{VerdictNotRecordable, ClassOther0AB0, "0990123456"}},
		"091":                     {fixedLine, "0077-27-091-234", false, want{VerdictNotRecordable, ClassOther0AB0, "091234"}},
		"directory 104":           {fixedLine, "0077-27-104", false, want{VerdictNotRecordable, ClassService, "104"}},
		"time 117":                {fixedLine, "0077-27-117", false, want{VerdictNotRecordable, ClassService, "117"}},
		"disaster board 171":      {mobileLine, "0077-26-171", false, want{VerdictNotRecordable, ClassService, "171"}},
		"184 withhold":            {fixedLine, "0077-27-184-03-1234-5678", false, want{VerdictNotRecordable, ClassService, "1840312345678"}},
		"186 send":                {fixedLine, "0077-27-186-03-1234-5678", false, want{VerdictNotRecordable, ClassService, "1860312345678"}},
		"112 from fixed":          {fixedLine, "0077-27-112", false, want{VerdictNotRecordable, ClassService, "112"}},
		"carrier 00XY":            {fixedLine, "0077-27-0077-12-03-1234-5678", false, want{VerdictNotRecordable, ClassCarrierCode, "0077120312345678"}},
		"carrier 002YZ":           {fixedLine, "0077-27-00212-03-1234-5678", false, want{VerdictNotRecordable, ClassCarrierCode, "002120312345678"}},
		"carrier 0091XY":          {fixedLine, "0077-27-009121-03-1234-5678", false, want{VerdictNotRecordable, ClassCarrierCode, "0091210312345678"}},
		"carrier 001":             {fixedLine, "0077-27-001-010-1-212-555-1234", false, want{VerdictNotRecordable, ClassCarrierCode, "00101012125551234"}},
		"hash dialling":           {fixedLine, "0077-27-#8000", false, want{VerdictNotRecordable, ClassService, "#8000"}},
		"star code":               {fixedLine, "0077-27-*67", false, want{VerdictNotRecordable, ClassService, "*67"}},
		"local without area code": {fixedLine, "0077-27-2345-6789", false, want{VerdictNotRecordable, ClassLocal, "23456789"}},
		"extension":               {fixedLine, "0077-27-1234", false, want{VerdictNotRecordable, ClassExtension, "1234"}},
		"911 from fixed":          {fixedLine, "0077-27-911", false, want{VerdictNotRecordable, ClassExtension, "911"}},
		"national without its 0":  {fixedLine, "0077-27-3-1234-5678", false, want{VerdictNotRecordable, ClassInvalid, "312345678"}},
		"1 and four digits":       {fixedLine, "0077-27-12345", false, want{VerdictNotRecordable, ClassInvalid, "12345"}},
		"single digit":            {mobileLine, "0077-26-9", false, want{VerdictNotRecordable, ClassInvalid, "9"}},
		// Emergency, before any other check.
		"police":                          {fixedLine, "0077-27-110", false, want{VerdictEmergency, ClassEmergency, "110"}},
		"coast guard":                     {fixedLine, "0077-27-118", false, want{VerdictEmergency, ClassEmergency, "118"}},
		"fire":                            {mobileLine, "0077-26-119", false, want{VerdictEmergency, ClassEmergency, "119"}},
		"112 from mobile":                 {mobileLine, "0077-26-112", false, want{VerdictEmergency, ClassEmergency, "112"}},
		"911 from mobile":                 {mobileLine, "0077-26-911", false, want{VerdictEmergency, ClassEmergency, "911"}},
		"emergency with the wrong prefix": {mobileLine, "0077-27-110", false, want{VerdictEmergency, ClassEmergency, "110"}},
		// Line and prefix.
		"mobile line with fixed prefix": {mobileLine, "0077-27-03-1234-5678", false, want{VerdictPrefixLineMismatch, ClassGeographic, "0312345678"}},
		"fixed line with mobile prefix": {fixedLine, "0077-26-03-1234-5678", false, want{VerdictPrefixLineMismatch, ClassGeographic, "0312345678"}},
		"050 line to 0120":              {ipLine, "0077-27-0120-123-456", false, want{VerdictRestrictedFrom050, ClassFreecall, "0120123456"}},
		"050 line to 0800":              {ipLine, "0077-27-0800-123-4567", false, want{VerdictRestrictedFrom050, ClassFreecall, "08001234567"}},
		"050 line to 0570":              {ipLine, "0077-27-0570-123-456", false, want{VerdictRestrictedFrom050, ClassNaviDial, "0570123456"}},
		// Dialling errors.
		"geographic one short":    {fixedLine, "0077-27-03-1234-567", false, want{VerdictInvalid, ClassInvalid, "031234567"}},
		"geographic one long":     {fixedLine, "0077-27-03-1234-56789", false, want{VerdictInvalid, ClassInvalid, "03123456789"}},
		"mobile one short":        {mobileLine, "0077-26-090-1234-567", false, want{VerdictInvalid, ClassInvalid, "0901234567"}},
		"mobile fourth digit 0":   {mobileLine, "0077-26-090-0123-4567", false, want{VerdictInvalid, ClassInvalid, "09001234567"}},
		"0120 one long":           {fixedLine, "0077-27-0120-123-4567", false, want{VerdictInvalid, ClassInvalid, "01201234567"}},
		"0800 one short":          {fixedLine, "0077-27-0800-123-456", false, want{VerdictInvalid, ClassInvalid, "0800123456"}},
		"0570 one long":           {fixedLine, "0077-27-0570-123-4567", false, want{VerdictInvalid, ClassInvalid, "05701234567"}},
		"international too short": {fixedLine, "0077-27-010-123456", false, want{VerdictInvalid, ClassInvalid, "010123456"}},
		"prefix alone":            {fixedLine, "0077-27", false, want{VerdictInvalid, ClassInvalid, ""}},
		// Unprefixed, extension, roaming: connected, never recorded.
		"unprefixed tokyo":             {fixedLine, "03-1234-5678", false, want{VerdictConnectUnrecorded, ClassGeographic, "0312345678"}},
		"unprefixed police":            {fixedLine, "110", false, want{VerdictConnectUnrecorded, ClassEmergency, "110"}},
		"unprefixed freecall from 050": {ipLine, "0120-123-456", false, want{VerdictConnectUnrecorded, ClassFreecall, "0120123456"}},
		"unprefixed other carrier":     {fixedLine, "0088-03-1234-5678", false, want{VerdictConnectUnrecorded, ClassCarrierCode, "00880312345678"}},
		"extension call":               {fixedLine, "201", false, want{VerdictConnectUnrecorded, ClassExtension, "201"}},
		"roaming with prefix":          {mobileLine, "0077-26-090-1234-5678", true, want{VerdictConnectUnrecorded, ClassMobile, "09012345678"}},
		"roaming without prefix":       {mobileLine, "+81 90 1234 5678", true, want{VerdictConnectUnrecorded, ClassMobile, "09012345678"}},
	}
	p := newPlan(t, Config{})
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			d, err := p.DecideOutgoing(OutgoingCall{Line: tt.line, Dialled: tt.dialled, Roaming: tt.roaming})
			require.NoError(t, err)
			assert.Equal(t, tt.want.verdict, d.Verdict, "verdict (reason: %s)", d.Reason)
			assert.Equal(t, tt.want.class, d.Class, "class")
			assert.Equal(t, tt.want.destination, d.Destination, "destination")
			assert.Equal(t, tt.want.verdict == VerdictRecord, d.Record)
			assert.Equal(t, tt.want.verdict != VerdictRecord && tt.want.verdict != VerdictConnectUnrecorded, d.Refused())
			assert.Equal(t, Outgoing, d.Direction)
			assert.Equal(t, tt.line.Kind, d.Line)
			assert.NotEmpty(t, d.Reason)
			assert.NotEmpty(t, d.ReasonJA)
			assert.True(t, strings.HasSuffix(d.Dialled, d.Destination), "the destination is the dialled number minus the prefix")
		})
	}
}

func TestDecideOutgoingReasons(t *testing.T) {
	p := newPlan(t, Config{})
	d, err := p.DecideOutgoing(OutgoingCall{Line: mobileLine, Dialled: "0077-27-03-1234-5678"})
	require.NoError(t, err)
	assert.Equal(t, "the prefix 0077-27 is for fixed lines: from a mobile line dial 0077-26", d.Reason,
		"a mismatch tells the user which prefix to use")
	assert.Equal(t, "0077-27は固定回線用のプレフィックスです。携帯電話回線からは0077-26を付けて発信してください", d.ReasonJA)
	d, err = p.DecideOutgoing(OutgoingCall{Line: mobileLine, Dialled: "0077-26-090-1234-567"})
	require.NoError(t, err)
	assert.Contains(t, d.Reason, "11 digits", "a length error says what length is expected")
	d, err = p.DecideOutgoing(OutgoingCall{Line: fixedLine, Dialled: "0077-27-110"})
	require.NoError(t, err)
	assert.Contains(t, d.ReasonJA, "緊急通報")
}

func TestDecideOutgoingRejectsJunk(t *testing.T) {
	p := newPlan(t, Config{})
	for name, c := range map[string]OutgoingCall{
		"letters in number":     {Line: fixedLine, Dialled: "0077-27-03-CALL-NOW"},
		"empty":                 {Line: fixedLine, Dialled: ""},
		"junk line number":      {Line: Line{Kind: LineFixed, Number: "office"}, Dialled: "0077-27-03-1234-5678"},
		"plus after the prefix": {Line: fixedLine, Dialled: "0077-27-+81-3-1234-5678"},
	} {
		t.Run(name, func(t *testing.T) {
			d, err := p.DecideOutgoing(c)
			require.ErrorIs(t, err, ErrInvalidNumber)
			assert.Equal(t, VerdictInvalid, d.Verdict)
			assert.Equal(t, ClassInvalid, d.Class)
			assert.False(t, d.Record)
			assert.True(t, d.Refused())
			assert.NotEmpty(t, d.Reason)
		})
	}
}

func TestDecideOutgoingNotNationalReason(t *testing.T) {
	p := newPlan(t, Config{})
	d, err := p.DecideOutgoing(OutgoingCall{Line: fixedLine, Dialled: "0077-27-3-1234-5678"})
	require.NoError(t, err)
	assert.Contains(t, d.Reason, "without the prefix")
	assert.Contains(t, d.Reason, "area code", "the caller who dropped the 0 learns how to record")
	assert.Contains(t, d.ReasonJA, "プレフィックスなし")
}

func TestDecideOutgoingRejectsUnknownLineKind(t *testing.T) {
	p := newPlan(t, Config{})
	d, err := p.DecideOutgoing(OutgoingCall{Line: Line{Kind: LineKind(7)}, Dialled: "0077-27-03-1234-5678"})
	require.ErrorIs(t, err, ErrInvalidLineKind)
	assert.Contains(t, err.Error(), "7")
	assert.Equal(t, VerdictInvalid, d.Verdict)
	assert.False(t, d.Record)
	assert.True(t, d.Refused())
	assert.NotEmpty(t, d.Reason)
	assert.NotEmpty(t, d.ReasonJA)
}

func TestDecideIncoming(t *testing.T) {
	p := newPlan(t, Config{CompanyNumbers: []string{"03-1234-5678", "050-1111-2222"}})
	tests := map[string]struct {
		call       IncomingCall
		verdict    Verdict
		class      Class
		wantCaller string
	}{
		"to the company's 03":       {IncomingCall{Called: "0312345678", Caller: "090-1111-2222"}, VerdictRecord, ClassGeographic, "09011112222"},
		"e164 called":               {IncomingCall{Called: "+81 3 1234 5678", Caller: "+81 90 1111 2222"}, VerdictRecord, ClassGeographic, "09011112222"},
		"withheld caller anonymous": {IncomingCall{Called: "03-1234-5678", Caller: "sip:anonymous@anonymous.invalid"}, VerdictRecord, ClassGeographic, ""},
		"withheld caller empty":     {IncomingCall{Called: "03-1234-5678"}, VerdictRecord, ClassGeographic, ""},
		"to the company's 050":      {IncomingCall{Called: "050-1111-2222", Caller: "0312340000"}, VerdictRecord, ClassIPPhone, "0312340000"},
		"forwarded from the 03":     {IncomingCall{Called: "090-5555-6666", ForwardedFrom: "03-1234-5678"}, VerdictRecord, ClassMobile, ""},
		"to another 03":             {IncomingCall{Called: "03-9999-8888"}, VerdictConnectUnrecorded, ClassGeographic, ""},
		"to a plain 090":            {IncomingCall{Called: "090-5555-6666"}, VerdictConnectUnrecorded, ClassMobile, ""},
		"to a plain 080":            {IncomingCall{Called: "080-5555-6666"}, VerdictConnectUnrecorded, ClassMobile, ""},
		"forwarded from another 03": {IncomingCall{Called: "090-5555-6666", ForwardedFrom: "03-9999-8888"}, VerdictConnectUnrecorded, ClassMobile, ""},
		"forwarded from junk":       {IncomingCall{Called: "090-5555-6666", ForwardedFrom: "voicemail"}, VerdictConnectUnrecorded, ClassMobile, ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			d, err := p.DecideIncoming(tt.call)
			require.NoError(t, err)
			assert.Equal(t, tt.verdict, d.Verdict, d.Reason)
			assert.Equal(t, tt.class, d.Class)
			assert.Equal(t, tt.verdict == VerdictRecord, d.Record)
			assert.Equal(t, tt.wantCaller, d.Caller)
			assert.Equal(t, Incoming, d.Direction)
			assert.False(t, d.Refused(), "incoming calls are never refused by the plan")
			assert.NotEmpty(t, d.ReasonJA)
		})
	}

	_, err := p.DecideIncoming(IncomingCall{Called: "reception"})
	assert.ErrorIs(t, err, ErrInvalidNumber)

	open := newPlan(t, Config{})
	d, err := open.DecideIncoming(IncomingCall{Called: "06-6123-4567"})
	require.NoError(t, err)
	assert.True(t, d.Record, "without configured company numbers every fixed number is the company's")
}

func TestNewValidatesConfig(t *testing.T) {
	tests := map[string]struct {
		cfg   Config
		field string
	}{
		"bad extension pattern":    {Config{ExtensionPattern: "("}, "ExtensionPattern"},
		"junk prefix":              {Config{MobilePrefix: "zero-zero"}, "MobilePrefix"},
		"prefix with hash":         {Config{FixedPrefix: "0077#27"}, "FixedPrefix"},
		"overlapping prefixes":     {Config{MobilePrefix: "0077", FixedPrefix: "0077-27"}, "overlap"},
		"company number junk":      {Config{CompanyNumbers: []string{"03-1234-5678", "head office"}}, "CompanyNumbers[1]"},
		"company number is mobile": {Config{CompanyNumbers: []string{"090-1234-5678"}}, "CompanyNumbers[0]"},
		"prefix is an area code":   {Config{FixedPrefix: "03"}, "FixedPrefix"},
		"prefix is a mobile range": {Config{MobilePrefix: "090"}, "MobilePrefix"},
		"prefix is a service code": {Config{MobilePrefix: "184"}, "MobilePrefix"},
		"incomplete carrier code":  {Config{FixedPrefix: "007"}, "FixedPrefix"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := New(tt.cfg)
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), tt.field)
		})
	}
}

func TestCustomConfig(t *testing.T) {
	p := newPlan(t, Config{
		MobilePrefix:     "0077-36",
		FixedPrefix:      "0077-37",
		ExtensionPattern: `[2-7][0-9]{3}|1[0-9]{2}`,
	})
	d, err := p.DecideOutgoing(OutgoingCall{Line: fixedLine, Dialled: "0077-37-03-1234-5678"})
	require.NoError(t, err)
	assert.Equal(t, VerdictRecord, d.Verdict)

	d, err = p.DecideOutgoing(OutgoingCall{Line: fixedLine, Dialled: "0077-27-03-1234-5678"})
	require.NoError(t, err)
	assert.Equal(t, VerdictConnectUnrecorded, d.Verdict, "the default prefix is no prefix under a custom plan")
	assert.Equal(t, ClassCarrierCode, d.Class)

	d, err = p.DecideOutgoing(OutgoingCall{Line: mobileLine, Dialled: "0077-37-03-1234-5678"})
	require.NoError(t, err)
	assert.Equal(t, VerdictPrefixLineMismatch, d.Verdict)
	assert.Equal(t, "the prefix 0077-37 is for fixed lines: from a mobile line dial 0077-36", d.Reason,
		"the reason names this plan's prefixes, not the defaults")
	assert.Contains(t, d.ReasonJA, "0077-36")
	d, err = p.DecideOutgoing(OutgoingCall{Line: fixedLine, Dialled: "0077-36-03-1234-5678"})
	require.NoError(t, err)
	assert.Equal(t, "the prefix 0077-36 is for mobile lines: from a fixed line dial 0077-37", d.Reason)

	d, err = p.DecideOutgoing(OutgoingCall{Line: fixedLine, Dialled: "2345"})
	require.NoError(t, err)
	assert.Equal(t, ClassExtension, d.Class)

	d, err = p.DecideOutgoing(OutgoingCall{Line: fixedLine, Dialled: "0077-37-110"})
	require.NoError(t, err)
	assert.Equal(t, VerdictEmergency, d.Verdict, "an extension pattern never shadows emergency numbers")

	d, err = p.DecideOutgoing(OutgoingCall{Line: fixedLine, Dialled: "8123"})
	require.NoError(t, err)
	assert.Equal(t, ClassInvalid, d.Class, "8123 is not an extension under this pattern")
}

func TestDecideOutgoingDoesNotAllocate(t *testing.T) {
	p := newPlan(t, Config{})
	for _, dialled := range []string{"0077270312345678", "0312345678", "007727110", "0077270120123456", "201"} {
		call := OutgoingCall{Line: Line{Kind: LineFixed, Number: "05099990000"}, Dialled: dialled}
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := p.DecideOutgoing(call); err != nil {
				t.Fatal(err)
			}
		})
		assert.Zero(t, allocs, dialled)
	}
}

func TestDisplayPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"007726": "0077-26", "0077": "0077", "00212": "00212", "0021234": "00212-34",
		"009121": "009121", "00912199": "009121-99", "00199": "001-99",
	} {
		assert.Equal(t, want, displayPrefix(in), in)
	}
}
