// Command requeue lets an operator inspect and requeue the recordings a
// callrec delivery queue gave up on (its dead letters).
//
//	requeue -spool DIR                 list dead letters with their last error
//	requeue -spool DIR NAME...         requeue the named dead letters
//	requeue -spool DIR -all            requeue every dead letter
//
// Requeueing is safe while the queue runs: the recording moves back into
// the spool's queue atomically and the running queue picks it up at its next
// rescan. The exit status is 1 if any requeue failed, 2 on a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/callrec/callrec/delivery"
)

var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "requeue:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("requeue", flag.ContinueOnError)
	fs.SetOutput(stderr)
	spool := fs.String("spool", "", "spool directory of the delivery queue (required)")
	all := fs.Bool("all", false, "requeue every dead letter")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if *spool == "" || (*all && fs.NArg() > 0) {
		fs.Usage()
		return fmt.Errorf("%w: -spool is required, and -all takes no names", errUsage)
	}
	dls, err := delivery.DeadLetters(*spool)
	if err != nil {
		return err
	}
	names := fs.Args()
	if *all {
		for _, dl := range dls {
			if dl.Err == nil {
				names = append(names, dl.Name)
			}
		}
	} else if len(names) == 0 {
		return list(stdout, dls)
	}
	var errs []error
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		if err := delivery.Requeue(*spool, name); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(stdout, "requeued", name)
	}
	return errors.Join(errs...)
}

func list(w io.Writer, dls []delivery.DeadLetter) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCALL-ID\tATTEMPTS\tDEAD-LETTERED\tLAST ERROR")
	for _, dl := range dls {
		reason := dl.LastError
		if dl.Err != nil {
			reason = "unreadable entry: " + dl.Err.Error()
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", dl.Name, dl.Metadata.CallID, dl.Attempts,
			dl.DeadLettered.Local().Format(time.DateTime), reason)
	}
	return tw.Flush()
}
