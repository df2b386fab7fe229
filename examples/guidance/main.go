// Command guidance lists the five recording announcements and writes any of
// them as an 8 kHz WAV file, so that an evaluator can read and hear them.
//
//	guidance -list [-carrier NAME]
//	guidance -id 3 -o out.wav [-codec pcmu|pcma] [-in custom.wav]
//
// -codec writes the audio as the parties hear it: packetised into 20 ms RTP
// packets in that codec and decoded again. -in converts a custom prompt
// (16-bit PCM WAV, 8–48 kHz, mono or stereo) instead of the embedded one.
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

	"github.com/callrec/callrec/guidance"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	default:
		fmt.Fprintln(os.Stderr, "guidance:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("guidance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	list := fs.Bool("list", false, "print the five announcements with their texts and purposes")
	carrier := fs.String("carrier", guidance.DefaultCarrier, "carrier name in the texts printed by -list")
	id := fs.Int("id", 1, "announcement to write, 1-5")
	out := fs.String("o", "", "output WAV file (8 kHz 16-bit mono)")
	codec := fs.String("codec", "", "pass the audio through G.711 RTP packets: pcmu or pcma")
	in := fs.String("in", "", "convert this custom prompt WAV instead of the embedded announcement")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *list {
		return printList(stdout, *carrier)
	}
	if *out == "" {
		return errors.New("-o is required (or use -list)")
	}

	a, err := guidance.Lookup(*id)
	if err != nil {
		return err
	}
	var p *guidance.Prompt
	if *in != "" {
		p, err = guidance.LoadPrompt(*in)
	} else {
		p, err = guidance.EmbeddedPrompt(a.ID)
	}
	if err != nil {
		return err
	}
	if *codec != "" {
		if p, err = throughCodec(p, *codec); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := writeFile(*out, p); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: announcement %d (%s), %v, 8000 Hz mono\n%s\n", *out, a.ID, a.Purpose, p.Duration(), a.Text(""))
	return nil
}

func printList(w io.Writer, carrier string) error {
	for _, a := range guidance.Announcements() {
		if _, err := fmt.Fprintf(w, "%d  %s (%s)\n   %s\n   %s\n", a.ID, a.Purpose, a.Purpose.Japanese(), a.Text(carrier), a.Gloss(carrier)); err != nil {
			return err
		}
	}
	return nil
}

// throughCodec returns the prompt as a party hears it: packetised in the
// codec and decoded again.
func throughCodec(p *guidance.Prompt, name string) (*guidance.Prompt, error) {
	var c guidance.Codec
	switch strings.ToLower(name) {
	case "pcmu":
		c = guidance.PCMU
	case "pcma":
		c = guidance.PCMA
	default:
		return nil, fmt.Errorf("-codec %q: want pcmu or pcma", name)
	}
	pl, err := guidance.NewPlayer(p, guidance.PlayerConfig{Codec: c})
	if err != nil {
		return nil, err
	}
	samples := make([]int16, 0, pl.Packets()*guidance.SamplesPerPacket)
	for pkt, ok := pl.Next(); ok; pkt, ok = pl.Next() {
		for _, b := range pkt.Payload {
			samples = append(samples, c.Decode(b))
		}
	}
	return guidance.NewPrompt(samples, guidance.SampleRate, 1)
}

func writeFile(path string, p *guidance.Prompt) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := p.WriteWAV(f); err != nil {
		return errors.Join(err, f.Close())
	}
	return f.Close()
}
