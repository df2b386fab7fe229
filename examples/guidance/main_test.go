package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/guidance"
)

func TestList(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-list"}, &out, &out))
	s := out.String()
	for _, a := range guidance.Announcements() {
		assert.Contains(t, s, a.Text(""))
		assert.Contains(t, s, a.Purpose.String())
	}
	out.Reset()
	require.NoError(t, run(context.Background(), []string{"-list", "-carrier", "ExampleTel"}, &out, &out))
	assert.Contains(t, out.String(), "この通話はExampleTelの通話録音サービス")
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	tests := map[string]struct {
		args []string
		id   int
	}{
		"embedded 3":    {[]string{"-id", "3"}, 3},
		"through PCMA":  {[]string{"-id", "5", "-codec", "pcma"}, 5},
		"through PCMU":  {[]string{"-id", "1", "-codec", "PCMU"}, 1},
		"default is id": {nil, 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".wav")
			var out bytes.Buffer
			require.NoError(t, run(context.Background(), append(tc.args, "-o", path), &out, &out))
			assert.Contains(t, out.String(), "wrote "+path)
			p, err := guidance.LoadPrompt(path)
			require.NoError(t, err)
			want, err := guidance.EmbeddedPrompt(tc.id)
			require.NoError(t, err)
			assert.InDelta(t, want.Duration().Seconds(), p.Duration().Seconds(), 0.02)
			assert.Greater(t, p.Duration(), 2*time.Second)
		})
	}
}

func TestConvertCustom(t *testing.T) {
	dir := t.TempDir()
	stereo := make([]int16, 2*22050)
	for i := range stereo {
		stereo[i] = int16(i%100*100 - 5000)
	}
	src, err := guidance.NewPrompt(stereo, 22050, 2)
	require.NoError(t, err)
	in := filepath.Join(dir, "in.wav")
	f, err := os.Create(in)
	require.NoError(t, err)
	require.NoError(t, src.WriteWAV(f))
	require.NoError(t, f.Close())

	out := filepath.Join(dir, "out.wav")
	var buf bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-in", in, "-o", out}, &buf, &buf))
	p, err := guidance.LoadPrompt(out)
	require.NoError(t, err)
	assert.Equal(t, src.Samples(), p.Samples())
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.wav")
	require.NoError(t, os.WriteFile(bad, []byte("RIFF"), 0o600))
	tests := map[string]struct {
		args []string
		want error
		text string
	}{
		"no output":     {[]string{"-id", "2"}, nil, "-o is required"},
		"unknown id":    {[]string{"-id", "6", "-o", filepath.Join(dir, "x.wav")}, guidance.ErrUnknownAnnouncement, ""},
		"bad codec":     {[]string{"-codec", "opus", "-o", filepath.Join(dir, "x.wav")}, nil, "want pcmu or pcma"},
		"bad custom":    {[]string{"-in", bad, "-o", filepath.Join(dir, "x.wav")}, guidance.ErrInvalidWAV, ""},
		"unwritable":    {[]string{"-o", filepath.Join(dir, "missing", "x.wav")}, os.ErrNotExist, ""},
		"stray args":    {[]string{"-list", "extra"}, nil, "unexpected arguments"},
		"unknown flag":  {[]string{"-bogus"}, nil, "flag provided but not defined"},
		"help is clean": {[]string{"-h"}, flag.ErrHelp, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), tc.args, &out, &out)
			require.Error(t, err)
			if tc.want != nil {
				assert.True(t, errors.Is(err, tc.want), "%v", err)
			}
			assert.Contains(t, err.Error(), tc.text)
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := run(ctx, []string{"-o", filepath.Join(dir, "c.wav")}, &bytes.Buffer{}, &bytes.Buffer{})
	assert.ErrorIs(t, err, context.Canceled)
}
