package dialplan

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClassify(t *testing.T) {
	tests := map[string]struct {
		number string
		want   Class
	}{
		"tokyo":                           {"03-1234-5678", ClassGeographic},
		"osaka":                           {"06-6123-4567", ClassGeographic},
		"tokorozawa 04":                   {"04-2921-1234", ClassGeographic},
		"area code 0250 not 0AB0":         {"0250-12-3456", ClassGeographic},
		"area code 0470":                  {"0470-12-3456", ClassGeographic},
		"area code 0740":                  {"0740-12-3456", ClassGeographic},
		"area code 0820":                  {"0820-12-3456", ClassGeographic},
		"area code 0880":                  {"0880-12-3456", ClassGeographic},
		"area code 0980":                  {"0980-12-3456", ClassGeographic},
		"tajimi 0572 not navi":            {"0572-12-3456", ClassGeographic},
		"chitose 0123 not freecall":       {"0123-12-3456", ClassGeographic},
		"kagoshima 099 not 0990":          {"099-222-3333", ClassGeographic},
		"nagoya 052 not 050":              {"052-123-4567", ClassGeographic},
		"gifu 058 not 050":                {"058-123-4567", ClassGeographic},
		"takayama 0577 not navi":          {"0577-12-3456", ClassGeographic},
		"takikawa 0125 not freecall":      {"0125-12-3456", ClassGeographic},
		"akita 018 not 0180":              {"018-823-4567", ClassGeographic},
		"0120 split like an area code":    {"0120-12-3456", ClassFreecall},
		"geographic one short":            {"03-1234-567", ClassInvalid},
		"geographic one long":             {"03-1234-56789", ClassInvalid},
		"ip phone":                        {"050-1234-5678", ClassIPPhone},
		"ip phone one short":              {"050-1234-567", ClassInvalid},
		"ip phone one long":               {"050-1234-56789", ClassInvalid},
		"ip phone fourth digit 0":         {"050-0123-4567", ClassInvalid},
		"mobile 090":                      {"090-1234-5678", ClassMobile},
		"mobile 080":                      {"080-1234-5678", ClassMobile},
		"mobile 070":                      {"070-1234-5678", ClassMobile},
		"mobile 060-1":                    {"060-1234-5678", ClassMobile},
		"mobile 060-9":                    {"060-9234-5678", ClassMobile},
		"mobile one short":                {"090-1234-567", ClassInvalid},
		"mobile one long":                 {"090-1234-56789", ClassInvalid},
		"mobile fourth digit 0 (070)":     {"070-0123-4567", ClassInvalid},
		"mobile fourth digit 0 (090)":     {"090-0123-4567", ClassInvalid},
		"freecall 0120":                   {"0120-123-456", ClassFreecall},
		"freecall 0120 one short":         {"0120-123-45", ClassInvalid},
		"freecall 0120 one long":          {"0120-123-4567", ClassInvalid},
		"freecall 0800":                   {"0800-123-4567", ClassFreecall},
		"freecall 0800 hyphenated as 080": {"080-0123-4567", ClassFreecall},
		"freecall 0800 one short":         {"0800-123-456", ClassInvalid},
		"freecall 0800 one long":          {"0800-123-45678", ClassInvalid},
		"navi dial":                       {"0570-123-456", ClassNaviDial},
		"navi dial one short":             {"0570-123-45", ClassInvalid},
		"navi dial one long":              {"0570-123-4567", ClassInvalid},
		"international":                   {"010-1-212-555-1234", ClassInternational},
		"international 7 digits":          {"010-1234567", ClassInternational},
		"international 15 digits":         {"010-123456789012345", ClassInternational},
		"international 6 digits":          {"010-123456", ClassInvalid},
		"international 16 digits":         {"010-1234567890123456", ClassInvalid},
		"international from e164":         {"+1 212 555 1234", ClassInternational},
		"m2m 020":                         {"020-1234-5678", ClassOther0A0},
		"m2m 020 one short":               {"020-1234-567", ClassInvalid},
		"m2m 0200 14 digits":              {"0200-1234-567890", ClassOther0A0},
		"m2m 0200 at 11 digits":           {"0200-123-4567", ClassInvalid},
		"fmc 0600":                        {"0600-123-4567", ClassOther0A0},
		"unassigned 030":                  {"030-1234-5678", ClassOther0A0},
		"unassigned 040":                  {"040-1234-5678", ClassOther0A0},
		"teledome 0170":                   {"0170-123-456", ClassOther0AB0},
		"teledome 0180":                   {"0180-123-456", ClassOther0AB0},
		"dial q2 0990":                    {"0990-123-456", ClassOther0AB0},
		"0990 one long":                   {"0990-123-4567", ClassInvalid},
		"0990 one short":                  {"0990-123-45", ClassInvalid},
		"0170 one short":                  {"0170-123-45", ClassInvalid},
		"0180 one long":                   {"0180-123-4567", ClassInvalid},
		"m2m 020 one long":                {"020-1234-56789", ClassInvalid},
		"m2m 0200 one short":              {"0200-1234-56789", ClassInvalid},
		"m2m 0200 one long":               {"0200-1234-5678901", ClassInvalid},
		"fmc 0600 one short":              {"0600-123-456", ClassInvalid},
		"fmc 0600 one long":               {"0600-123-45678", ClassInvalid},
		"gifu 058 at 11 digits":           {"058-1234-5678", ClassInvalid},
		"special block 091":               {"091-234", ClassOther0AB0},
		"police":                          {"110", ClassEmergency},
		"coast guard":                     {"118", ClassEmergency},
		"fire and ambulance":              {"119", ClassEmergency},
		"112 from a fixed line":           {"112", ClassService},
		"directory 104":                   {"104", ClassService},
		"telegram 115":                    {"115", ClassService},
		"faults 116":                      {"116", ClassService},
		"time 117":                        {"117", ClassService},
		"disaster board 171":              {"171", ClassService},
		"weather 177":                     {"177", ClassService},
		"consumer 188":                    {"188", ClassService},
		"child 189":                       {"189", ClassService},
		"withhold caller id 184":          {"184-03-1234-5678", ClassService},
		"send caller id 186":              {"186-090-1234-5678", ClassService},
		"hash dialling":                   {"#8000", ClassService},
		"star code":                       {"*67", ClassService},
		"trailing hash":                   {"03-1234-5678#", ClassService},
		"carrier 00XY":                    {"0077-12", ClassCarrierCode},
		"carrier 00XY and number":         {"0088-03-1234-5678", ClassCarrierCode},
		"carrier 002YZ":                   {"00212-03-1234-5678", ClassCarrierCode},
		"carrier 0091XY":                  {"009121-03-1234-5678", ClassCarrierCode},
		"carrier 001":                     {"001-010-1-212-555-1234", ClassCarrierCode},
		"carrier code incomplete":         {"007", ClassInvalid},
		"carrier 002 incomplete":          {"0021", ClassInvalid},
		"carrier 0091 incomplete":         {"00912", ClassInvalid},
		"local 8 digits":                  {"2345-6789", ClassLocal},
		"local 5 digits":                  {"23456", ClassLocal},
		"extension 2 digits":              {"55", ClassExtension},
		"extension 4 digits":              {"1234", ClassExtension},
		"911 from a fixed line":           {"911", ClassExtension},
		"single digit":                    {"9", ClassInvalid},
		"nine digits":                     {"234567890", ClassInvalid},
		"starts with 1, five digits":      {"12345", ClassInvalid},
		"zero alone":                      {"0", ClassInvalid},
		"two digits from zero":            {"03", ClassInvalid},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Classify(tt.number)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got, "Classify(%q) = %s", tt.number, got)
		})
	}
}

func TestClassifyRejectsJunk(t *testing.T) {
	c, err := Classify("03-CALL-ME")
	assert.ErrorIs(t, err, ErrInvalidNumber)
	assert.Equal(t, ClassInvalid, c)
}

func TestEnumNames(t *testing.T) {
	classes := map[Class]string{
		ClassInvalid: "invalid", ClassGeographic: "geographic", ClassIPPhone: "ip-phone",
		ClassMobile: "mobile", ClassFreecall: "freecall", ClassNaviDial: "navi-dial",
		ClassInternational: "international", ClassEmergency: "emergency", ClassService: "service",
		ClassCarrierCode: "carrier-code", ClassOther0A0: "other-0a0", ClassOther0AB0: "other-0ab0",
		ClassLocal: "local", ClassExtension: "extension",
	}
	for c, name := range classes {
		assert.Equal(t, name, c.String())
		var back Class
		require.NoError(t, back.UnmarshalText([]byte(name)))
		assert.Equal(t, c, back)
	}
	verdicts := map[Verdict]string{
		VerdictInvalid: "invalid", VerdictRecord: "record", VerdictConnectUnrecorded: "connect-unrecorded",
		VerdictNotRecordable: "not-recordable", VerdictEmergency: "emergency",
		VerdictRestrictedFrom050: "restricted-from-050", VerdictPrefixLineMismatch: "prefix-line-mismatch",
	}
	for v, name := range verdicts {
		assert.Equal(t, name, v.String())
		var back Verdict
		require.NoError(t, back.UnmarshalText([]byte(name)))
		assert.Equal(t, v, back)
	}
	assert.Equal(t, "Class(200)", Class(200).String())
	var k LineKind
	require.NoError(t, k.UnmarshalText([]byte("mobile")))
	assert.Equal(t, LineMobile, k)
	assert.Error(t, k.UnmarshalText([]byte("satellite")))
}
