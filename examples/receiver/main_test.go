package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/delivery/deliverytest"
)

func TestServeStoresAndStops(t *testing.T) {
	dir := t.TempDir()
	o, err := parse([]string{"-dir", dir, "-token", "t0k"}, io.Discard)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, o, ln, slog.New(slog.DiscardHandler)) }()

	sink, err := delivery.NewHTTPSink(delivery.HTTPSinkConfig{URL: "http://" + ln.Addr().String() + "/in", BearerToken: "t0k"})
	require.NoError(t, err)
	defer sink.Close()
	item := deliverytest.NewItem("rec-1", "call-1", 5000)
	require.NoError(t, sink.Deliver(context.Background(), item))
	for _, name := range []string{"rec-1.wav", "rec-1.json"} {
		assert.FileExists(t, filepath.Join(dir, name))
	}
	cancel()
	require.NoError(t, <-done)
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		ok   bool
	}{
		{name: "Defaults", ok: true},
		{name: "Failing", args: []string{"-fail-rate", "0.3", "-down-for", "30s"}, ok: true},
		{name: "KeyWithoutCert", args: []string{"-tls-key", "k.pem"}},
		{name: "ClientCAWithoutTLS", args: []string{"-client-ca", "ca.pem"}},
		{name: "Extra", args: []string{"extra"}},
		{name: "BadFlag", args: []string{"-fail-rate", "lots"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(tc.args, io.Discard)
			assert.Equal(t, tc.ok, err == nil, "err = %v", err)
		})
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-dir", t.TempDir(), "-fail-rate", "2"}, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "FailRate")
}
