package dialplan_test

import (
	"fmt"

	"github.com/callrec/callrec/dialplan"
)

func Example() {
	plan, err := dialplan.New(dialplan.Config{})
	if err != nil {
		panic(err)
	}
	line := dialplan.Line{Kind: dialplan.LineFixed, Number: "03-5555-0000"}
	for _, dialled := range []string{"0077-27-03-1234-5678", "0077-27-110", "0077-27-104", "03-1234-5678"} {
		d, err := plan.DecideOutgoing(dialplan.OutgoingCall{Line: line, Dialled: dialled})
		if err != nil {
			panic(err)
		}
		fmt.Printf("%-22s %-18s %-13s record=%-5v %s\n", dialled, d.Verdict, d.Class, d.Record, d.Destination)
	}
	// Output:
	// 0077-27-03-1234-5678   record             geographic    record=true  0312345678
	// 0077-27-110            emergency          emergency     record=false 110
	// 0077-27-104            not-recordable     service       record=false 104
	// 03-1234-5678           connect-unrecorded geographic    record=false 0312345678
}

func ExamplePlan_DecideIncoming() {
	plan, err := dialplan.New(dialplan.Config{CompanyNumbers: []string{"03-1234-5678"}})
	if err != nil {
		panic(err)
	}
	d, err := plan.DecideIncoming(dialplan.IncomingCall{Called: "+81 3 1234 5678", Caller: "anonymous"})
	if err != nil {
		panic(err)
	}
	fmt.Println(d.Verdict, d.Class, d.Caller == "")
	fmt.Println(d.ReasonJA)
	// Output:
	// record geographic true
	// 会社の固定番号への着信のため録音します
}

func ExampleNormalize() {
	for _, s := range []string{"０３－１２３４－５６７８", "+81 (0)90-1234-5678", "+1 212 555 1234", "sip:%238000@pbx"} {
		n, err := dialplan.Normalize(s)
		if err != nil {
			panic(err)
		}
		fmt.Println(n)
	}
	// Output:
	// 0312345678
	// 09012345678
	// 01012125551234
	// #8000
}

func ExampleClassify() {
	for _, n := range []string{"080-0123-4567", "0570-123-456", "0572-12-3456", "060-1234-5678"} {
		c, err := dialplan.Classify(n)
		if err != nil {
			panic(err)
		}
		fmt.Println(n, c)
	}
	// Output:
	// 080-0123-4567 freecall
	// 0570-123-456 navi-dial
	// 0572-12-3456 geographic
	// 060-1234-5678 mobile
}
