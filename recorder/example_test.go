package recorder_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"

	"github.com/callrec/callrec/recorder"
)

// Example records one second of a call in which both parties send 20 ms
// PCMU packets, the callee with a payload-type map from its SDP, and prints
// what Close reports.
func Example() {
	dir, err := os.MkdirTemp("", "recorder-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	var offer sdp.SessionDescription
	if err := offer.UnmarshalString("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n" +
		"m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"); err != nil {
		log.Fatal(err)
	}
	pts, err := recorder.PayloadTypesFromSDP(&offer)
	if err != nil {
		log.Fatal(err)
	}

	start := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	now := start
	rec, err := recorder.New(recorder.Config{
		Path:               filepath.Join(dir, "call.wav"),
		Mode:               recorder.Stereo,
		CallerPayloadTypes: pts,
		CalleePayloadTypes: pts,
		Clock:              func() time.Time { return now }, // a real switch leaves this nil: time.Now
	})
	if err != nil {
		log.Fatal(err)
	}

	silence := make([]byte, 160) // µ-law 0xff is zero
	for i := range silence {
		silence[i] = 0xff
	}
	for i := range 50 {
		arrival := start.Add(time.Duration(i) * 20 * time.Millisecond)
		for _, leg := range []*recorder.Leg{rec.Caller(), rec.Callee()} {
			p := &rtp.Packet{
				Header:  rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(i), Timestamp: uint32(i * 160), SSRC: 0xCA110000},
				Payload: silence,
			}
			if err := leg.WriteRTP(p, arrival); err != nil {
				log.Fatal(err)
			}
		}
	}
	// The callee presses 5: RFC 4733 events are reported, not recorded.
	key := &rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: 101, SequenceNumber: 50, Timestamp: 50 * 160, SSRC: 0xCA110000},
		Payload: []byte{5, 0x80 | 10, 0, 160},
	}
	if err := rec.Callee().WriteRTP(key, start.Add(time.Second)); err != nil {
		log.Fatal(err)
	}

	now = start.Add(time.Second)
	res, err := rec.Close(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(filepath.Base(res.Path), res.Channels, "channels", res.Duration)
	fmt.Println("caller decoded", res.Caller.Decoded, "lost", res.Caller.Lost)
	for _, ev := range res.DTMF {
		fmt.Printf("%s pressed %c at %v\n", ev.Side, ev.Digit, ev.At)
	}
	fmt.Println(len(res.SHA256), "hex digits of SHA-256")
	// Output:
	// call.wav 2 channels 1s
	// caller decoded 50 lost 0
	// callee pressed 5 at 1s
	// 64 hex digits of SHA-256
}

// ExampleRepair fixes the header of a file whose writer was killed.
func ExampleRepair() {
	dir, err := os.MkdirTemp("", "recorder-repair")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// A header that still says "no audio", followed by 0.5 s of mono audio
	// and half a frame.
	h := recorder.Header{Channels: 1, SampleRate: recorder.SampleRate, BitsPerSample: 16}
	file, err := h.Marshal()
	if err != nil {
		log.Fatal(err)
	}
	file = append(file, make([]byte, 8001)...)
	path := filepath.Join(dir, "killed.wav")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		log.Fatal(err)
	}

	if err := recorder.Repair(path); err != nil {
		log.Fatal(err)
	}
	repaired, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	if err := h.Unmarshal(repaired); err != nil {
		log.Fatal(err)
	}
	fmt.Println(h.DataSize, "bytes,", h.Duration())
	// Output: 8000 bytes, 500ms
}
