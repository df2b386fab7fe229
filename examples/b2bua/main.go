// Command callrec-b2bua is the deployable reference recording B2BUA: it
// sits between a company's PBX (the inside) and the network (the outside),
// decides per call whether it is recorded, plays the recording
// announcement, records both parties and delivers the files durably to the
// company's server, as configured in one YAML file.
//
//	callrec-b2bua [-config /etc/callrec/b2bua.yaml] [-check-config] [-shutdown-grace 30s]
//
// -check-config validates the file (reading the certificates, keys and
// known_hosts it names), prints every problem with its line and key, and
// exits: 0 when the file is usable, 2 otherwise.
//
// On SIGTERM or SIGINT the service stops taking calls (/readyz answers
// 503), lets the calls in progress finish for up to the shutdown grace,
// ends the rest, and leaves undelivered recordings in the spool, where the
// next start finds them. It logs with log/slog (JSON or text) and serves
// Prometheus metrics, /healthz and /readyz on metrics.listen. README.md
// documents every key, metric and the systemd unit.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// errUsage reports bad command-line flags; flag has printed why.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case errors.Is(err, ErrConfig):
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "callrec-b2bua:", err)
		os.Exit(1)
	}
}

// run parses the flags, loads the configuration and serves until ctx ends.
// getenv supplies the environment for secret overrides.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) (string, bool)) error {
	fs := flag.NewFlagSet("callrec-b2bua", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "/etc/callrec/b2bua.yaml", "configuration `file`")
	check := fs.Bool("check-config", false, "validate the configuration file and exit")
	grace := fs.Duration("shutdown-grace", 0, "how long active calls may go on after SIGTERM (default: timeouts.shutdown_grace)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "callrec-b2bua: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	if *grace < 0 {
		fmt.Fprintln(stderr, "callrec-b2bua: -shutdown-grace is negative")
		return errUsage
	}
	cfg, err := loadConfig(*path, getenv)
	if err != nil {
		return err
	}
	if *check {
		fmt.Fprintf(stdout, "%s: ok: %s\n", *path, cfg.summary())
		return nil
	}
	if *grace > 0 {
		cfg.shutdownGrace = *grace
	}
	log := newLogger(stderr, cfg.logFormat, cfg.logLevel)
	cfg.runtime.apply()
	a, err := newApp(cfg, log, stdout)
	if err != nil {
		return err
	}
	return a.run(ctx)
}

func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == logFormatText {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// summary describes a valid configuration in one line for -check-config.
func (c *config) summary() string {
	grace := c.shutdownGrace.Round(time.Second)
	return fmt.Sprintf("inside %s → %s, outside %s → %s, %d lines, %d sinks, shutdown grace %v",
		c.adapter.Inside.Listen, c.adapter.Inside.NextHop, c.adapter.Outside.Listen, c.adapter.Outside.NextHop,
		len(c.lines.byUser)+len(c.lines.bySource), len(c.sinks), grace)
}
