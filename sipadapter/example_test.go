package sipadapter_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/dialplan"
	"github.com/callrec/callrec/sipadapter"
)

// Example starts a B2BUA on the loopback address and has a PBX dial an
// emergency number with the recording prefix: the dial plan refuses it and
// the PBX is told, with 380 and the number to dial instead, at once.
func Example() {
	dir, err := os.MkdirTemp("", "sipadapter-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	sink, err := delivery.NewDirSink(delivery.DirSinkConfig{Dir: filepath.Join(dir, "delivered")})
	if err != nil {
		panic(err)
	}
	queue, err := delivery.New(delivery.Config{Dir: filepath.Join(dir, "spool"), Sink: sink})
	if err != nil {
		panic(err)
	}
	if err := queue.Start(); err != nil {
		panic(err)
	}
	defer queue.Close()
	plan, err := dialplan.New(dialplan.Config{})
	if err != nil {
		panic(err)
	}
	lines := sipadapter.LineResolverFunc(func(_ context.Context, number string, _ netip.AddrPort) (sipadapter.Line, error) {
		return sipadapter.Line{Kind: dialplan.LineFixed, Number: number, Announcement: 1}, nil
	})
	b, err := sipadapter.New(sipadapter.Config{
		Inside: sipadapter.SideConfig{Listen: "127.0.0.1:0", NextHop: "127.0.0.1:5070",
			Networks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
		Outside:   sipadapter.SideConfig{Listen: "127.0.0.1:0", NextHop: "127.0.0.1:5080"},
		MediaAddr: netip.MustParseAddr("127.0.0.1"),
		Plan:      plan, Lines: lines, RecordDir: dir, Delivery: queue,
		Events: func(e sipadapter.Event) {
			if e.Kind == sipadapter.EventDecided {
				fmt.Println("decided:", e.Decision.Verdict)
			}
		},
	})
	if err != nil {
		panic(err)
	}
	defer b.Close()
	go func() { _ = b.Serve(context.Background()) }()

	// The PBX: an INVITE for 0077-27-110 from line 0312340000.
	pbx, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		panic(err)
	}
	defer pbx.Close()
	me, to := pbx.LocalAddr().String(), b.Addr(sipadapter.Inside).String()
	sdp := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
	invite := "INVITE sip:007727110@" + to + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + me + ";branch=z9hG4bKexample\r\n" +
		"From: <sip:0312340000@127.0.0.1>;tag=pbx\r\nTo: <sip:007727110@" + to + ">\r\n" +
		"Call-ID: example-call\r\nCSeq: 1 INVITE\r\nContact: <sip:pbx@" + me + ">\r\nMax-Forwards: 70\r\n" +
		"Content-Type: application/sdp\r\n" + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(sdp)) + sdp
	if _, err := pbx.WriteToUDPAddrPort([]byte(invite), b.Addr(sipadapter.Inside)); err != nil {
		panic(err)
	}
	buf := make([]byte, 4096)
	_ = pbx.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		n, _, err := pbx.ReadFrom(buf)
		if err != nil {
			panic(err)
		}
		res := string(buf[:n])
		if strings.HasPrefix(res, "SIP/2.0 1") {
			continue // 100 Trying
		}
		fmt.Println(strings.SplitN(res, "\r\n", 2)[0])
		for _, line := range strings.Split(res, "\r\n") {
			if strings.HasPrefix(line, "Contact:") {
				fmt.Println(line[:strings.Index(line, "@")+1] + "…")
			}
		}
		break
	}
	// Output:
	// decided: emergency
	// SIP/2.0 380 Alternative Service
	// Contact: <sip:110@…
}
