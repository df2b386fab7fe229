// Command demo records real calls end to end in one process: a recording
// B2BUA between two SIP phones, the guidance announcement, stereo WAV
// recordings delivered over HTTP to an in-process receiving server, and a
// check of every step. See README.md.
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

	"github.com/callrec/callrec/guidance"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// errUsage is wrapped by flag errors: exit status 2.
var errUsage = errors.New("usage")

// options are the demo's flags.
type options struct {
	mono         bool
	announcement int
	duration     time.Duration
	out          string
	verbose      bool
	serve        bool // keep the archive running after the calls
	tty          bool // stdout is a terminal: draw a spinner
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.mono, "mono", false, "record one mixed channel instead of caller left, callee right")
	fs.IntVar(&o.announcement, "announcement", 1, "recording announcement to play, 1–5")
	fs.DurationVar(&o.duration, "duration", 4*time.Second, "talk time per call after the announcement")
	fs.StringVar(&o.out, "out", "callrec-demo", "directory receiving the recordings, their metadata and pictures")
	fs.BoolVar(&o.verbose, "v", false, "log the B2BUA, delivery and phones to stderr")
	fs.BoolVar(&o.serve, "serve", false, "after the calls, keep the archive's web UI running until Ctrl-C")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: demo [-mono] [-announcement 1..5] [-duration 4s] [-out DIR] [-v] [-serve]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	case o.announcement < 1 || o.announcement > guidance.NumAnnouncements:
		return o, fmt.Errorf("%w: -announcement %d: choose 1 to %d", errUsage, o.announcement, guidance.NumAnnouncements)
	case o.duration < 500*time.Millisecond || o.duration > time.Minute:
		return o, fmt.Errorf("%w: -duration %v: choose 500ms to 1m", errUsage, o.duration)
	case o.out == "":
		return o, fmt.Errorf("%w: -out is empty", errUsage)
	}
	return o, nil
}

// run starts the demo's world, places the four calls, checks what came
// out and prints a summary. It returns an error when any check failed.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if f, ok := stdout.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			opts.tty = true
		}
	}
	log := slog.New(slog.DiscardHandler)
	if opts.verbose {
		log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	began := time.Now()
	e, err := start(opts, log)
	if err != nil {
		return fmt.Errorf("starting: %w", err)
	}
	d := &demo{env: e, opts: opts, w: stdout}
	d.intro()
	var results []*result
	for _, sc := range d.scenarios() {
		if ctx.Err() != nil {
			break
		}
		results = append(results, d.place(ctx, sc))
	}
	closeErr := e.close()
	d.summary(results, time.Since(began))
	failed := 0
	for _, r := range results {
		failed += r.failed()
	}
	interrupted := ctx.Err() != nil
	if opts.serve && !interrupted && closeErr == nil {
		d.serving()
		<-ctx.Done()
	}
	closeErr = errors.Join(closeErr, e.closeArchive())
	switch {
	case interrupted:
		return fmt.Errorf("interrupted: %w", ctx.Err())
	case closeErr != nil:
		return fmt.Errorf("shutting down: %w", closeErr)
	case failed > 0:
		return fmt.Errorf("%d checks failed", failed)
	}
	return nil
}
