package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func decode(t *testing.T, out string) []result {
	t.Helper()
	var rs []result
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r result
		require.NoError(t, json.Unmarshal([]byte(line), &r), line)
		rs = append(rs, r)
	}
	return rs
}

func TestRun(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run([]string{"-line", "mobile", "0077-26-03-1234-5678", "0077-26-110", "090-1234-5678"}, &out, &errOut)
	require.NoError(t, err)
	rs := decode(t, out.String())
	require.Len(t, rs, 3)
	assert.Equal(t, result{
		Input: "0077-26-03-1234-5678", Normalized: "0077260312345678", Class: "geographic",
		Verdict: "record", Record: true, Destination: "0312345678", Reason: rs[0].Reason, ReasonJA: rs[0].ReasonJA,
	}, rs[0])
	assert.Equal(t, "emergency", rs[1].Verdict)
	assert.Equal(t, "connect-unrecorded", rs[2].Verdict)
}

func TestRunInvalidExitsOne(t *testing.T) {
	var out bytes.Buffer
	err := run([]string{"0077-27-03-1234-567", "0077-27-zero"}, &out, &bytes.Buffer{})
	require.True(t, errors.Is(err, errSomeInvalid))
	rs := decode(t, out.String())
	require.Len(t, rs, 2)
	assert.Equal(t, "invalid", rs[0].Verdict)
	assert.Empty(t, rs[0].Error, "a wrong length is a decision, not an input error")
	assert.Equal(t, "invalid", rs[1].Verdict)
	assert.Contains(t, rs[1].Error, "invalid number")
}

func TestRunIncomingAndLineNumber(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run([]string{"-direction", "in", "-company", "03-1234-5678", "03-1234-5678", "090-1111-2222"}, &out, &bytes.Buffer{}))
	rs := decode(t, out.String())
	assert.True(t, rs[0].Record)
	assert.False(t, rs[1].Record)

	out.Reset()
	require.NoError(t, run([]string{"-line-number", "050-1111-2222", "0077-27-0120-123-456"}, &out, &bytes.Buffer{}))
	assert.Equal(t, "restricted-from-050", decode(t, out.String())[0].Verdict)
}

func TestRunUsageErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"no number":     {},
		"bad line":      {"-line", "satellite", "03"},
		"bad direction": {"-direction", "sideways", "03"},
		"unknown flag":  {"-nope", "03"},
	} {
		t.Run(name, func(t *testing.T) {
			err := run(args, &bytes.Buffer{}, &bytes.Buffer{})
			require.Error(t, err)
			assert.False(t, errors.Is(err, errSomeInvalid))
		})
	}
}
