// Command receiver plays the customer's receiving equipment for evaluating
// callrec's delivery: an HTTP(S) server that accepts the uploads of
// delivery.HTTPSink, verifies each audio file's SHA-256, and stores the
// recordings, idempotently by recording ID. It can be told to fail.
//
//	receiver [-addr 127.0.0.1:8080] [-dir received] [-fail-rate 0.3] [-down-for 30s]
//	         [-retry-after 5s] [-user U -password P | -token T]
//	         [-tls-cert server.pem -tls-key server.key [-client-ca ca.pem]]
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/callrec/callrec/delivery/receiver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "receiver:", err)
		os.Exit(1)
	}
}

// options are the parsed command line.
type options struct {
	addr              string
	cfg               receiver.Config
	certFile, keyFile string
	clientCA          string
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("receiver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&o.cfg.Dir, "dir", "received", "directory to store recordings in")
	fs.Float64Var(&o.cfg.FailRate, "fail-rate", 0, "fraction of requests to answer with 503 (0 to 1)")
	fs.DurationVar(&o.cfg.DownFor, "down-for", 0, "answer every request with 503 for this long after start")
	fs.DurationVar(&o.cfg.RetryAfter, "retry-after", 0, "Retry-After to send with 503s (0: none)")
	fs.StringVar(&o.cfg.Username, "user", "", "require HTTP basic authentication with this user")
	fs.StringVar(&o.cfg.Password, "password", "", "password for -user")
	fs.StringVar(&o.cfg.BearerToken, "token", "", "require this bearer token")
	fs.StringVar(&o.certFile, "tls-cert", "", "serve HTTPS with this PEM certificate")
	fs.StringVar(&o.keyFile, "tls-key", "", "PEM key for -tls-cert")
	fs.StringVar(&o.clientCA, "client-ca", "", "require client certificates signed by this PEM CA (with -tls-cert)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if (o.certFile == "") != (o.keyFile == "") || (o.clientCA != "" && o.certFile == "") {
		return o, errors.New("-tls-cert and -tls-key go together, and -client-ca needs them")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	return serve(ctx, o, ln, slog.New(slog.NewTextHandler(stderr, nil)))
}

// serve runs the receiver on ln until ctx is done.
func serve(ctx context.Context, o options, ln net.Listener, log *slog.Logger) error {
	o.cfg.Logger = log
	rcv, err := receiver.New(o.cfg)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{Handler: rcv, ReadHeaderTimeout: 10 * time.Second}
	if o.certFile != "" {
		cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
		if err != nil {
			ln.Close()
			return err
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if o.clientCA != "" {
			pem, err := os.ReadFile(o.clientCA)
			if err != nil {
				ln.Close()
				return err
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				ln.Close()
				return fmt.Errorf("no PEM certificate in %s", o.clientCA)
			}
			srv.TLSConfig.ClientCAs, srv.TLSConfig.ClientAuth = pool, tls.RequireAndVerifyClientCert
		}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	log.Info("receiving", "addr", ln.Addr().String(), "dir", o.cfg.Dir, "tls", o.certFile != "",
		"fail_rate", o.cfg.FailRate, "down_for", o.cfg.DownFor)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	st := rcv.Stats()
	log.Info("stopped", "stored", st.Stored, "duplicates", st.Duplicates, "rejected", st.Rejected, "failed", st.Failed)
	return err
}
