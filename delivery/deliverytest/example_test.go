package deliverytest_test

import (
	"fmt"
	"io"

	"github.com/callrec/callrec/delivery/deliverytest"
)

// ExampleNewItem builds the fixture the conformance suite delivers.
func ExampleNewItem() {
	item := deliverytest.NewItem("rec-1", "call-1@example.com", 1000)
	rc, err := item.Open()
	if err != nil {
		panic(err)
	}
	defer rc.Close()
	audio, err := io.ReadAll(rc)
	if err != nil {
		panic(err)
	}
	fmt.Println(item.Metadata.ID, item.Metadata.BaseName(), len(audio), item.Metadata.Size)
	fmt.Println(item.Metadata.DatePath(nil))
	// Output:
	// rec-1 call-1@example.com 1000 1000
	// 2026/11/23
}
