package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
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
	assert.Equal(t, "invalid", rs[0].Class)
	assert.Contains(t, rs[0].Error, "10 digits", "a wrong length has an error that says what is wrong")
	assert.Equal(t, "invalid", rs[1].Verdict)
	assert.Contains(t, rs[1].Error, "invalid number")
	assert.Contains(t, rs[1].Error, "0077-27-zero", "the error names the input")
}

func TestRunValidOutputHasNoError(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run([]string{"0077-27-104", "0077-27-03-1234-5678"}, &out, &bytes.Buffer{}))
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var fields map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &fields))
		for _, key := range []string{"input", "normalized", "class", "verdict", "record", "destination", "reason"} {
			assert.Contains(t, fields, key, line)
		}
		assert.NotContains(t, fields, "error", line)
	}
}

// TestExitStatus runs the command itself, as a script would, and checks its
// exit status: 0 when every number is valid, 1 when one is invalid, 2 on a
// usage error.
func TestExitStatus(t *testing.T) {
	if os.Getenv("DIALCHECK_MAIN") == "1" {
		os.Args = append([]string{"dialcheck"}, strings.Fields(os.Getenv("DIALCHECK_ARGS"))...)
		main()
		os.Exit(0)
	}
	tests := map[string]struct {
		args  string
		code  int
		lines int
	}{
		"all valid":         {"0077-27-03-1234-5678 03-1234-5678", 0, 2},
		"one wrong length":  {"0077-27-03-1234-5678 0077-27-03-1234-567", 1, 2},
		"one junk":          {"0077-27-zero 03-1234-5678", 1, 2},
		"usage error":       {"-line satellite 03-1234-5678", 2, 0},
		"junk line number":  {"-line-number office 0077-27-03-1234-5678", 2, 0},
		"refusal, no error": {"0077-27-110", 0, 1},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestExitStatus$")
			cmd.Env = append(os.Environ(), "DIALCHECK_MAIN=1", "DIALCHECK_ARGS="+tt.args)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) {
				code = exitErr.ExitCode()
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.code, code, "stderr: %s", stderr.String())
			if tt.lines > 0 {
				assert.Len(t, decode(t, stdout.String()), tt.lines)
			} else {
				assert.Empty(t, stdout.String())
				assert.Contains(t, stderr.String(), "dialcheck:")
			}
		})
	}
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
		"junk line no.": {"-line-number", "office", "03"},
	} {
		t.Run(name, func(t *testing.T) {
			err := run(args, &bytes.Buffer{}, &bytes.Buffer{})
			require.Error(t, err)
			assert.False(t, errors.Is(err, errSomeInvalid))
		})
	}
}

func TestRunNewInputs(t *testing.T) {
	for name, tc := range map[string]struct {
		args  []string
		check func(t *testing.T, r result)
	}{
		"forwarded": {[]string{"-direction", "in", "-company", "03-1234-5678", "-diverted-from", "03-1234-5678", "090-5555-6666"},
			func(t *testing.T, r result) {
				assert.True(t, r.Record)
				assert.Equal(t, "0312345678", r.DivertedFrom)
			}},
		"freecall": {[]string{"-direction", "in", "-freecall", "0120-111-222", "0120-111-222"},
			func(t *testing.T, r result) { assert.True(t, r.Record) }},
		"extension": {[]string{"-direction", "in", "-extension", "2001", "2001"},
			func(t *testing.T, r result) {
				assert.True(t, r.Record)
				assert.Equal(t, "extension", r.Class)
			}},
		"record-all": {[]string{"-record-all", "03-1234-5678"},
			func(t *testing.T, r result) { assert.True(t, r.Record) }},
		"184 before the prefix": {[]string{"184-0077-27-03-1234-5678"},
			func(t *testing.T, r result) {
				assert.True(t, r.Record)
				assert.True(t, r.WithholdCallerID)
				assert.Equal(t, "0312345678", r.Destination)
			}},
		"on-demand": {[]string{"-on-demand", "03-1234-5678"},
			func(t *testing.T, r result) {
				assert.False(t, r.Record)
				assert.True(t, r.OnDemand)
			}},
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			require.NoError(t, run(tc.args, &out, &bytes.Buffer{}))
			rs := decode(t, out.String())
			require.Len(t, rs, 1)
			tc.check(t, rs[0])
		})
	}
	assert.Error(t, run([]string{"-record-all", "-on-demand", "0312345678"}, &bytes.Buffer{}, &bytes.Buffer{}))
	assert.Error(t, run([]string{"-diverted-from", "0312345678", "0312345678"}, &bytes.Buffer{}, &bytes.Buffer{}))
}
