package kamailio_test

import (
	"fmt"
	"net/netip"

	"github.com/callrec/callrec/examples/kamailio"
)

func ExampleDispatcherList() {
	list, err := kamailio.DispatcherList(1,
		netip.MustParseAddrPort("10.0.0.11:5060"),
		netip.MustParseAddrPort("10.0.0.12:5060"))
	if err != nil {
		panic(err)
	}
	fmt.Print(list)
	// Output:
	// 1 sip:10.0.0.11:5060
	// 1 sip:10.0.0.12:5060
}
