package dialplan

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNormalize(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"digits":                  {"0312345678", "0312345678"},
		"hyphens":                 {"03-1234-5678", "0312345678"},
		"full-width":              {"０３－１２３４－５６７８", "0312345678"},
		"long-vowel mark":         {"03ー1234ー5678", "0312345678"},
		"hyphen U+2010":           {"03‐1234‐5678", "0312345678"},
		"en and em dash":          {"03–1234—5678", "0312345678"},
		"horizontal bar":          {"03―1234―5678", "0312345678"},
		"minus sign":              {"03−1234−5678", "0312345678"},
		"ideographic space":       {"03　1234　5678", "0312345678"},
		"surrounding spaces":      {"  03 1234 5678\t", "0312345678"},
		"parentheses":             {"(03) 1234-5678", "0312345678"},
		"full-width parentheses":  {"（０３）１２３４－５６７８", "0312345678"},
		"dots":                    {"03.1234.5678", "0312345678"},
		"e164 japan":              {"+81 3-1234-5678", "0312345678"},
		"e164 trunk in parens":    {"+81 (0)3 1234 5678", "0312345678"},
		"e164 trunk written":      {"+81 03 1234 5678", "0312345678"},
		"e164 mobile":             {"+819012345678", "09012345678"},
		"full-width plus":         {"＋８１３１２３４５６７８", "0312345678"},
		"e164 other country":      {"+1 212 555 1234", "01012125551234"},
		"e164 uk trunk in parens": {"+44 (0)20 7946 0000", "010442079460000"},
		"sip uri e164":            {"sip:+81312345678@example.com;user=phone", "0312345678"},
		"sip uri prefixed":        {"sip:0077270312345678@pbx.example", "0077270312345678"},
		"sips uri":                {"sips:0312345678@pbx.example:5061", "0312345678"},
		"sip scheme upper case":   {"SIP:0312345678@pbx", "0312345678"},
		"sip uri no host":         {"sip:0312345678;user=phone", "0312345678"},
		"sip user parameter":      {"sip:0312345678;isub=12@pbx", "0312345678"},
		"tel uri":                 {"tel:+81-3-1234-5678", "0312345678"},
		"tel uri phone-context":   {"tel:03-1234-5678;phone-context=+81", "0312345678"},
		"percent-encoded hash":    {"sip:%238000@pbx", "#8000"},
		"star":                    {"*67", "*67"},
		"full-width hash":         {"＃８０００", "#8000"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Normalize(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			again, err := Normalize(got)
			require.NoError(t, err)
			assert.Equal(t, got, again, "normalising twice changes nothing")
		})
	}
}

func TestNormalizeRejects(t *testing.T) {
	for name, in := range map[string]string{
		"empty":                "",
		"spaces only":          "   ",
		"letters":              "abc",
		"trailing letter":      "03-1234-567a",
		"plus in the middle":   "0312+345678",
		"double plus":          "++81312345678",
		"plus only":            "+",
		"country code only":    "+81",
		"plus and hash":        "+81#1",
		"unbalanced open":      "(03 1234 5678",
		"unbalanced close":     "03) 1234 5678",
		"nested parentheses":   "((03)) 1234",
		"anonymous sip":        "sip:anonymous@anonymous.invalid",
		"invalid utf-8":        "03\xff1234",
		"truncated percent":    "sip:031234%2",
		"bad percent":          "sip:%zz@pbx",
		"percent-encoded junk": "sip:%41@pbx",
		"emoji":                "03📞12345678",
		"separators only":      "--",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Normalize(in)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidNumber)
			var ne *NumberError
			require.True(t, errors.As(err, &ne))
			assert.Equal(t, in, ne.Input, "the error names the offending input")
		})
	}
}

func TestNormalizeDoesNotAllocateForNormalizedInput(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Normalize("0077270312345678"); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}
