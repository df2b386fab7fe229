package recordertest_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/recorder/recordertest"
)

// Example records one second of a 440 Hz caller and a silent callee, then
// checks the decoded file.
func Example() {
	start := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	out := &recordertest.File{}
	rec, err := recorder.New(recorder.Config{Writer: out, Start: start, Clock: func() time.Time { return start.Add(time.Second) }})
	if err != nil {
		log.Fatal(err)
	}
	caller := recordertest.NewTone(440, 0xCA110000)
	for i := range 50 {
		raw, err := caller.Next().Marshal()
		if err != nil {
			log.Fatal(err)
		}
		if err := rec.Caller().Write(raw, start.Add(time.Duration(i)*20*time.Millisecond)); err != nil {
			log.Fatal(err)
		}
	}
	if _, err := rec.Close(context.Background()); err != nil {
		log.Fatal(err)
	}

	a, err := recordertest.Decode(out.Data)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.Duration(), len(a.Channels), "channels")
	fmt.Println("caller:", recordertest.CheckTone(a, 0, 0, time.Second, 440, 1000))
	fmt.Println("callee:", recordertest.CheckSilent(a, 1, 0, time.Second))
	fmt.Println("callee has the tone:", recordertest.CheckTone(a, 1, 0, time.Second, 440, 1000) == nil)
	// Output:
	// 1s 2 channels
	// caller: <nil>
	// callee: <nil>
	// callee has the tone: false
}
