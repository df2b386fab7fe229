package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigInstanceID(t *testing.T) {
	pid := func() int { return 4242 }
	host := func(name string, err error) func() (string, error) {
		return func() (string, error) { return name, err }
	}
	tests := map[string]struct {
		listen, set string
		hostname    func() (string, error)
		want        string
	}{
		"set":                {listen: "127.0.0.1:5062", set: "rec-a", hostname: host("box", nil), want: "rec-a"},
		"host and port":      {listen: "10.0.0.10:5060", hostname: host("rec1.example.com", nil), want: "rec1.example.com-5060"},
		"port 0 takes pid":   {listen: "127.0.0.1:0", hostname: host("box", nil), want: "box-p4242"},
		"odd host sanitized": {listen: "127.0.0.1:5060", hostname: host(".weird host/x", nil), want: "weird-host-x-5060"},
		"no host":            {listen: "127.0.0.1:5060", hostname: host("", errors.New("no name")), want: "callrec-5060"},
		"long host cut":      {listen: "127.0.0.1:5060", hostname: host(strings.Repeat("h", 100), nil), want: strings.Repeat("h", 59) + "-5060"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := newChecker(env(nil))
			fc := fileConfig{InstanceID: tc.set}
			fc.Sides.Inside.Listen = tc.listen
			got := fc.checkInstanceID(c, tc.hostname, pid)
			assert.Empty(t, c.problems)
			assert.Equal(t, tc.want, got)
			assert.LessOrEqual(t, len(got), maxInstanceID)
		})
	}

	cfg, problems := parseConfig([]byte(baseConfig+"instance_id: rec-b.2\n"), env(nil))
	require.Empty(t, problems)
	assert.Equal(t, "rec-b.2", cfg.adapter.InstanceID)

	for _, bad := range []string{"a/b", ".hidden", "with space", strings.Repeat("x", 65)} {
		_, problems := parseConfig([]byte(baseConfig+"instance_id: \""+bad+"\"\n"), env(nil))
		require.Len(t, problems, 1, bad)
		assert.Equal(t, "instance_id", problems[0].Key, bad)
		assert.Equal(t, 16, problems[0].Line, bad)
	}
}
