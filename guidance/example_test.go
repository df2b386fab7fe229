package guidance_test

import (
	"bytes"
	"context"
	"fmt"
	"math"

	"github.com/pion/rtp"

	"github.com/callrec/callrec/guidance"
)

func ExampleLookup() {
	a, err := guidance.Lookup(4)
	if err != nil {
		panic(err)
	}
	fmt.Println(a.ID, a.Purpose)
	fmt.Println(a.Text(""))
	fmt.Println(a.Gloss("ExampleTel"))
	// Output:
	// 4 dispute prevention
	// この通話はトラブル防止のため、KDDIのサービスを利用して録音させていただきます。
	// To prevent disputes, this call will be recorded using ExampleTel's service.
}

func ExampleAnnouncements() {
	for _, a := range guidance.Announcements() {
		fmt.Printf("%d %-24s %s\n", a.ID, a.Purpose, a.Purpose.Japanese())
	}
	// Output:
	// 1 general                  通話録音
	// 2 transaction confirmation お取引内容確認
	// 3 accuracy                 内容の正確な承り
	// 4 dispute prevention       トラブル防止
	// 5 service improvement      サービスの向上
}

// A vendor's own recording, here a 16 kHz stereo WAV, is converted to
// 8 kHz mono when it is loaded.
func ExampleReadPrompt() {
	tone := make([]int16, 2*16000/2) // 0.5 s of 16 kHz stereo
	for i := 0; i < len(tone); i += 2 {
		v := int16(8000 * math.Sin(2*math.Pi*440*float64(i/2)/16000))
		tone[i], tone[i+1] = v, v
	}
	src, err := guidance.NewPrompt(tone, 16000, 2)
	if err != nil {
		panic(err)
	}
	var wav bytes.Buffer
	if err := src.WriteWAV(&wav); err != nil {
		panic(err)
	}
	p, err := guidance.ReadPrompt(&wav)
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Duration(), p.Len(), "samples,", p.Packets(), "packets")
	// Output:
	// 500ms 4000 samples, 25 packets
}

// The relay gives each outbound direction a Stream, plays the guidance
// when the callee answers, then relays again with continuous numbering;
// the recording starts with the first packet after the guidance.
func ExampleAnnouncer() {
	sent := map[string][]uint16{}
	writer := func(party string) guidance.Writer {
		return guidance.WriterFunc(func(p *rtp.Packet) error {
			sent[party] = append(sent[party], p.SequenceNumber)
			return nil
		})
	}
	toCaller, err := guidance.NewStream(guidance.StreamConfig{Codec: guidance.PCMA, Writer: writer("caller")})
	if err != nil {
		panic(err)
	}
	toCallee, err := guidance.NewStream(guidance.StreamConfig{Codec: guidance.PCMU, Writer: writer("callee")})
	if err != nil {
		panic(err)
	}
	announcer, err := guidance.NewAnnouncer(guidance.Config{
		OnEvent: func(e guidance.Event) { fmt.Println(e.Type) },
	})
	if err != nil {
		panic(err)
	}

	// Early media toward the caller passes through unchanged.
	early := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 8, SequenceNumber: 1000, Timestamp: 0, SSRC: 7}, Payload: make([]byte, 160)}
	relay, record := toCaller.RelayRecord(early)
	fmt.Println("early media: relay", relay, "record", record, "seq", early.SequenceNumber)

	// A 60 ms prompt, played in real time.
	prompt, err := guidance.NewPrompt(make([]int16, 480), 8000, 1)
	if err != nil {
		panic(err)
	}
	res, err := announcer.PlayPrompt(context.Background(), prompt, toCaller, toCallee)
	if err != nil {
		panic(err)
	}
	fmt.Println("packets per party:", res.Packets, "caller seqs:", sent["caller"])

	// The callee's audio resumes right after the guidance.
	next := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 8, SequenceNumber: 1004, Timestamp: 640, SSRC: 7}, Payload: make([]byte, 160)}
	relay, record = toCaller.RelayRecord(next)
	fmt.Println("after: relay", relay, "record", record, "seq", next.SequenceNumber, "marker", next.Marker)
	// Output:
	// early media: relay true record false seq 1000
	// GuidanceStarted
	// GuidanceEnded
	// packets per party: 3 caller seqs: [1001 1002 1003]
	// after: relay true record true seq 1004 marker true
}
