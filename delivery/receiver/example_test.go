package receiver_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/delivery/deliverytest"
	"github.com/callrec/callrec/delivery/receiver"
)

// Example receives one recording from an HTTPSink, as multipart POST.
func Example() {
	dir, err := os.MkdirTemp("", "receiver-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	rcv, err := receiver.New(receiver.Config{Dir: dir})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(rcv)
	defer srv.Close()

	sink, err := delivery.NewHTTPSink(delivery.HTTPSinkConfig{URL: srv.URL + "/upload", Method: "POST"})
	if err != nil {
		panic(err)
	}
	defer sink.Close()
	if err := sink.Deliver(context.Background(), deliverytest.NewItem("rec-1", "call-1", 8000)); err != nil {
		panic(err)
	}

	ids, _ := rcv.IDs()
	audio, md, _ := rcv.Load(ids[0])
	fmt.Println(ids, md.CallID, len(audio), rcv.Stats().Stored)
	// Output:
	// [rec-1] call-1 8000 1
}
