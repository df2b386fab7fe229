package ingest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/delivery/deliverytest"
	"github.com/callrec/callrec/delivery/internal/ingest"
)

// printStore prints what it receives and keeps nothing.
type printStore struct{}

func (printStore) Audio(_ context.Context, id, sum, ext string, body io.Reader) error {
	return ingest.Copy(io.Discard, body, sum)
}

func (printStore) Metadata(_ context.Context, md delivery.Metadata, _ []byte) (bool, error) {
	return true, nil
}

func (printStore) Multipart(_ context.Context, md delivery.Metadata, _ []byte, audio io.Reader) (bool, error) {
	if err := ingest.Copy(io.Discard, audio, md.SHA256); err != nil {
		return false, err
	}
	fmt.Println("received", md.ID, md.AudioExt)
	return true, nil
}

func Example() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		id, sum, err := ingest.Headers(req)
		created := false
		if err == nil {
			created, err = ingest.Dispatch(req, id, sum, 1<<20, printStore{})
		}
		ingest.Respond(w, created, err, "")
	}))
	defer srv.Close()
	sink, err := delivery.NewHTTPSink(delivery.HTTPSinkConfig{URL: srv.URL, Method: http.MethodPost})
	if err != nil {
		panic(err)
	}
	defer sink.Close()
	err = sink.Deliver(context.Background(), deliverytest.NewItem("rec-1", "call-1@pbx", 1000))
	fmt.Println("delivered:", err == nil)
	// Output:
	// received rec-1 .wav
	// delivered: true
}
