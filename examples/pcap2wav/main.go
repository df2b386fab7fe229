// Command pcap2wav writes the calls in a packet capture as WAV files.
//
//	pcap2wav [-stereo] [-o dir] [-dtmf-pt 101] [-jitter 60ms] capture.pcap...
//
// It reads pcap and pcapng files without libpcap, finds the RTP streams of
// each call (from the SIP INVITE and its answer's SDP when the capture holds
// them, otherwise by pairing UDP flows that look like RTP), and records each
// call with the recorder package: one file per call, named after the
// Call-ID or the flow, in mono (default) or stereo. It prints one line per
// file with its duration, packet counts and DTMF digits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/callrec/callrec/recorder"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pcap2wav:", err)
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// run parses the command line and converts every capture it names.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("pcap2wav", flag.ContinueOnError)
	fs.SetOutput(stdout)
	stereo := fs.Bool("stereo", false, "record the caller on the left channel and the callee on the right")
	outDir := fs.String("o", ".", "directory for the WAV files, created if missing (files are never overwritten)")
	dtmfPT := fs.Uint("dtmf-pt", 101, "payload type of RFC 4733 telephone events in streams found without SDP")
	window := fs.Duration("jitter", recorder.DefaultJitterWindow, "jitter window")
	minPkts := fs.Int("min-packets", 2, "packets a UDP flow needs to be taken as RTP when there is no SDP")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: pcap2wav [-stereo] [-o dir] capture.pcap|capture.pcapng...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("no capture file given")
	}
	if *dtmfPT < 96 || *dtmfPT > 127 {
		return fmt.Errorf("-dtmf-pt %d: want a dynamic payload type (96-127)", *dtmfPT)
	}
	if *minPkts < 1 {
		return fmt.Errorf("-min-packets %d: want at least 1", *minPkts)
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return fmt.Errorf("-o: %w", err)
	}
	opts := options{mode: recorder.Mono, outDir: *outDir, dtmfPT: uint8(*dtmfPT), window: *window, minPkts: *minPkts}
	if *stereo {
		opts.mode = recorder.Stereo
	}
	for _, path := range fs.Args() {
		calls, err := convert(ctx, path, opts)
		for _, c := range calls {
			fmt.Fprintln(stdout, summary(c))
		}
		if err != nil {
			return err
		}
		if len(calls) == 0 {
			fmt.Fprintf(stdout, "%s: no RTP stream found\n", path)
		}
	}
	return nil
}

// summary describes a recorded call on one line.
func summary(c *call) string {
	res := c.result
	var digits strings.Builder
	for _, ev := range res.DTMF {
		if ev.Digit != 0 {
			digits.WriteRune(ev.Digit)
		}
	}
	leg := func(s recorder.Stats) string {
		return fmt.Sprintf("%d packets (%d lost, %d late, %d skipped)", s.Received, s.Lost, s.Late, s.Skipped)
	}
	line := fmt.Sprintf("%s: %s %s, caller %s, callee %s", res.Path, res.Mode, res.Duration.Round(time.Millisecond),
		leg(res.Caller), leg(res.Callee))
	if digits.Len() > 0 {
		line += ", DTMF " + digits.String()
	}
	if c.malformed > 0 {
		line += fmt.Sprintf(", %d malformed", c.malformed)
	}
	return line
}
