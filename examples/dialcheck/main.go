// Command dialcheck prints the recording decision for each number given, one
// JSON object per line, for evaluators and scripts.
//
//	dialcheck [-line mobile|fixed] [-line-number N] [-direction out|in] [-roaming]
//	          [-record-all | -on-demand] [-company N]... [-freecall N]... [-extension N]...
//	          [-diverted-from N] NUMBER...
//
// The exit status is 1 if any number was invalid, 2 on a usage error.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/callrec/callrec/dialplan"
)

// result is one line of output.
type result struct {
	Input       string `json:"input"`
	Normalized  string `json:"normalized"`
	Class       string `json:"class"`
	Verdict     string `json:"verdict"`
	Record      bool   `json:"record"`
	Destination string `json:"destination"`
	// DivertedFrom is the original target of a forwarded incoming call.
	DivertedFrom string `json:"diverted_from,omitempty"`
	// WithholdCallerID and PresentCallerID report 184/186 before the prefix.
	WithholdCallerID bool `json:"withhold_caller_id,omitempty"`
	PresentCallerID  bool `json:"present_caller_id,omitempty"`
	// OnDemand reports a call of an on-demand line that the user may record.
	OnDemand bool   `json:"on_demand,omitempty"`
	Reason   string `json:"reason"`
	ReasonJA string `json:"reason_ja,omitempty"`
	Error    string `json:"error,omitempty"`
}

var errSomeInvalid = errors.New("some numbers were invalid")

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, errSomeInvalid):
		os.Exit(1)
	default:
		fmt.Fprintln(os.Stderr, "dialcheck:", err)
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dialcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	lineKind := fs.String("line", "fixed", "kind of the calling line: fixed or mobile")
	lineNumber := fs.String("line-number", "", "the calling line's own number (a 050 line cannot reach 0120/0800/0570)")
	direction := fs.String("direction", "out", "out: the company's user dials NUMBER; in: NUMBER is the called company number")
	roaming := fs.Bool("roaming", false, "the caller is roaming abroad")
	var company []string
	fs.Func("company", "a company fixed number for -direction in; repeat for several (default: every fixed number is the company's)", func(s string) error {
		company = append(company, s)
		return nil
	})
	recordAll := fs.Bool("record-all", false, "the line records every call the prefix would allow, prefixed or not")
	onDemand := fs.Bool("on-demand", false, "the line records on demand (unprefixed calls connected unrecorded, recordable)")
	divertedFrom := fs.String("diverted-from", "", "for -direction in: the number the network forwarded the call from (History-Info/Diversion)")
	fs.Func("freecall", "a company freecall number (0120/0800) terminating on its line, for -direction in; repeat for several", func(s string) error {
		company = append(company, s)
		return nil
	})
	var extensions []string
	fs.Func("extension", "an extension number whose incoming calls are recorded, for -direction in; repeat for several", func(s string) error {
		extensions = append(extensions, s)
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dialcheck [-line mobile|fixed] [-line-number N] [-direction out|in] [-roaming] [-record-all|-on-demand] [-company N]... [-freecall N]... [-extension N]... [-diverted-from N] NUMBER...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("no number given")
	}
	var kind dialplan.LineKind
	if err := kind.UnmarshalText([]byte(*lineKind)); err != nil {
		return fmt.Errorf("-line: %w", err)
	}
	if *direction != "out" && *direction != "in" {
		return fmt.Errorf("-direction: %q is neither out nor in", *direction)
	}
	if *lineNumber != "" {
		if _, err := dialplan.Normalize(*lineNumber); err != nil {
			return fmt.Errorf("-line-number: %w", err)
		}
	}
	mode := dialplan.RecordPrefix
	switch {
	case *recordAll && *onDemand:
		return errors.New("-record-all and -on-demand exclude each other")
	case *recordAll:
		mode = dialplan.RecordAll
	case *onDemand:
		mode = dialplan.RecordOnDemand
	}
	if *divertedFrom != "" && *direction != "in" {
		return errors.New("-diverted-from applies to -direction in")
	}
	plan, err := dialplan.New(dialplan.Config{CompanyNumbers: company, IncomingExtensions: extensions})
	if err != nil {
		return err
	}

	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	invalid := false
	for _, number := range fs.Args() {
		var d dialplan.Decision
		if *direction == "in" {
			d, err = plan.DecideIncoming(dialplan.IncomingCall{Called: number, ForwardedFrom: *divertedFrom})
		} else {
			d, err = plan.DecideOutgoing(dialplan.OutgoingCall{
				Line:    dialplan.Line{Kind: kind, Number: *lineNumber, Mode: mode},
				Dialled: number,
				Roaming: *roaming,
			})
		}
		r := result{
			Input:        number,
			Normalized:   d.Dialled,
			Class:        d.Class.String(),
			Verdict:      d.Verdict.String(),
			Record:       d.Record,
			Destination:  d.Destination,
			DivertedFrom: d.ForwardedFrom, WithholdCallerID: d.WithholdCallerID, PresentCallerID: d.PresentCallerID,
			OnDemand: d.OnDemand,
			Reason:   d.Reason,
			ReasonJA: d.ReasonJA,
		}
		if d.Verdict == dialplan.VerdictInvalid {
			invalid = true
			// A script tells invalid numbers by the error field, whether
			// the input is junk or a number of the wrong length.
			r.Error = "dialplan: invalid number: " + d.Reason
		}
		if err != nil {
			r.Error = err.Error()
		}
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	if invalid {
		return errSomeInvalid
	}
	return nil
}
