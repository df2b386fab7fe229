package dialplan_test

import (
	"fmt"

	"github.com/callrec/callrec/dialplan"
)

// A line whose PBX cannot add the prefix records every call the prefix
// would allow; 184 in front of the prefix withholds the caller ID.
func ExampleRecordMode() {
	plan, err := dialplan.New(dialplan.Config{})
	if err != nil {
		panic(err)
	}
	all := dialplan.Line{Kind: dialplan.LineFixed, Mode: dialplan.RecordAll}
	for _, dialled := range []string{"03-1234-5678", "110"} {
		d, _ := plan.DecideOutgoing(dialplan.OutgoingCall{Line: all, Dialled: dialled})
		fmt.Println(dialled, d.Verdict, d.Destination)
	}
	d, _ := plan.DecideOutgoing(dialplan.OutgoingCall{Line: dialplan.Line{Kind: dialplan.LineFixed}, Dialled: "184-0077-27-03-1234-5678"})
	fmt.Println(d.Verdict, d.Destination, "withhold:", d.WithholdCallerID)
	// Output:
	// 03-1234-5678 record 0312345678
	// 110 connect-unrecorded 110
	// record 0312345678 withhold: true
}
