package sipua_test

import (
	"context"
	"fmt"
	"log"
	"math"
	"time"

	"github.com/callrec/callrec/internal/sipua"
)

// Two user agents on the loopback interface: one calls the other, which
// hangs up after half a second; each heard the other's voice.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	callee, err := sipua.New(sipua.Config{User: "0312345678", Source: sipua.Voice{Pitch: 210}, HangUpAfter: 500 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	defer callee.Close()
	caller, err := sipua.New(sipua.Config{User: "0355550000", Source: sipua.Voice{Pitch: 130}})
	if err != nil {
		log.Fatal(err)
	}
	defer caller.Close()

	call, err := caller.Dial(ctx, callee.URI("0312345678"))
	if err != nil {
		log.Fatal(err)
	}
	answered, err := callee.Accept(ctx)
	if err != nil {
		log.Fatal(err)
	}
	<-call.Done()
	<-answered.Done()
	fmt.Println("codec:", call.Codec(), "hung up by:", call.End().By)
	fmt.Printf("caller heard %.0f Hz\n", math.Round(sipua.EstimatePitch(call.Received()).Hz/10)*10)
	fmt.Printf("callee heard %.0f Hz\n", math.Round(sipua.EstimatePitch(answered.Received()).Hz/10)*10)
	// Output:
	// codec: PCMU hung up by: remote
	// caller heard 210 Hz
	// callee heard 130 Hz
}

// EstimatePitch finds the fundamental of a tone or a voice.
func ExampleEstimatePitch() {
	v := sipua.Voice{Pitch: 150}
	samples := make([]int16, 2*sipua.SampleRate)
	for i := range samples {
		samples[i] = v.Sample(int64(i))
	}
	fmt.Printf("%.0f Hz\n", sipua.EstimatePitch(samples).Hz)
	// Output: 150 Hz
}
