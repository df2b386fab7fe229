package sipadapter

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tortureCase is one message of the RFC 4475 torture corpus in
// testdata/rfc4475 and what the B2BUA must do with it.
type tortureCase struct {
	file    string // testdata/rfc4475/<file>.dat
	section string // of RFC 4475
	rfc     string // what the RFC asks of a receiver, abridged
	parses  bool   // our SIP parser must accept the message
	want    []int  // the final answers allowed; 0: none (dropped)
	header  string // the answer must have a header line ending with this, if any
	cdr     int    // the code of the CDR the message must leave; 0: none looked for
}

// tortureCases states, per message, the RFC's expectation and the
// B2BUA's. A valid request is answered by the dialog logic, never 400: an
// INVITE from an unknown line gets 403 (and a CDR), other methods 405, an
// OPTIONS 200. An invalid one is answered 400 or dropped; a response that
// matches no transaction is dropped.
var tortureCases = []tortureCase{
	// 3.1.1: valid messages, a parser must accept them.
	{"wsinv", "3.1.1.1", "short tortuous INVITE: must be treated as well-formed", true, []int{481}, "", 0}, // it has a To tag: a re-INVITE of no dialog
	{"intmeth", "3.1.1.2", "wide range of valid characters (unknown method): well-formed", true, []int{405}, "", 0},
	{"esc01", "3.1.1.3", "valid use of % escaping: well-formed", true, []int{403}, "", 403},
	{"escnull", "3.1.1.4", "escaped nulls in URIs: well-formed", true, []int{405}, "", 0},
	{"esc02", "3.1.1.5", "% that is not an escape (method RE%47IST%45R): well-formed, not REGISTER", true, []int{405}, "", 0},
	{"lwsdisp", "3.1.1.6", "no LWS between display name and <: well-formed", true, []int{200}, "", 0},
	// An unknown line: 403, and its answer (which echoes the long headers)
	// goes out over UDP although it is above 1,300 bytes (transport.go).
	{"longreq", "3.1.1.7", "long values in header fields: well-formed", true, []int{403}, "", 403},
	{"dblreq", "3.1.1.8", "extra trailing octets in a UDP datagram: process the first message, ignore the rest", true, []int{405}, "", 0},
	{"semiuri", "3.1.1.9", "semicolon-separated parameters in the URI user part: well-formed", true, []int{200}, "", 0},
	{"transports", "3.1.1.10", "varied and unknown transport types in Via: well-formed", true, []int{200}, "", 0},
	{"mpart01", "3.1.1.11", "multipart MIME MESSAGE: well-formed", true, []int{405}, "", 0},
	{"unreason", "3.1.1.12", "response with an unusual reason phrase: well-formed", true, []int{0}, "", 0},
	{"noreason", "3.1.1.13", "response with an empty reason phrase: well-formed", true, []int{0}, "", 0},

	// 3.1.2: invalid messages.
	{"badinv01", "3.1.2.1", "extraneous header field separators: 400", false, []int{400, 0}, "", 0},
	{"clerr", "3.1.2.2", "Content-Length larger than the datagram: 400", false, []int{400, 0}, "", 0},
	{"ncl", "3.1.2.3", "negative Content-Length: 400", false, []int{400, 0}, "", 0},
	{"scalar02", "3.1.2.4", "request scalar fields with overlarge values: 400", false, []int{400, 0}, "", 0},
	{"scalarlg", "3.1.2.5", "response scalar fields with overlarge values: drop", false, []int{0}, "", 0},
	{"quotbal", "3.1.2.6", "unterminated quoted string in display name: 400", false, []int{400, 0}, "", 0},
	{"ltgtruri", "3.1.2.7", "<> enclosing the Request-URI: 400", false, []int{400, 0}, "", 0},
	{"lwsruri", "3.1.2.8", "embedded LWS in the Request-URI: 400", false, []int{400, 0}, "", 0},
	{"lwsstart", "3.1.2.9", "multiple SP separating request-line elements: 400", false, []int{400, 0}, "", 0},
	{"trws", "3.1.2.10", "SP at the end of the request-line: 400", false, []int{400, 0}, "", 0},
	{"escruri", "3.1.2.11", "escaped headers in the SIP Request-URI: 400", true, []int{400, 0}, "", 0},
	// The RFC lets an element that does not use the Date ignore it; the
	// B2BUA does, so the INVITE reaches the dialog logic (unknown line).
	{"baddate", "3.1.2.12", "non-GMT time zone in Date: reject as malformed, or ignore the Date", true, []int{400, 0, 403}, "", 0},
	{"regbadct", "3.1.2.13", "name-addr with URI headers not enclosed in <>: 400", false, []int{400, 0}, "", 0},
	{"badaspec", "3.1.2.14", "spaces within addr-spec: 400", false, []int{400, 0}, "", 0},
	{"baddn", "3.1.2.15", "non-token characters in display name: 400", false, []int{400, 0}, "", 0},
	{"badvers", "3.1.2.16", "unknown protocol version SIP/7.0: 505", true, []int{505}, "", 0},
	{"mismatch01", "3.1.2.17", "request method and CSeq method mismatch: 400", true, []int{400, 0}, "", 0},
	{"mismatch02", "3.1.2.18", "unknown method with CSeq method mismatch: 400", true, []int{400, 0}, "", 0},
	{"bigcode", "3.1.2.19", "response with an overlarge status code: drop", false, []int{0}, "", 0},

	// 3.2: transaction layer.
	{"badbranch", "3.2.1", "branch is only the magic cookie: must not break; 400 or process", true, []int{200, 400}, "", 0},

	// 3.3: application layer.
	{"insuf", "3.3.1", "missing Call-ID, From, To: 400", false, []int{400, 0}, "", 0},
	{"unkscm", "3.3.2", "Request-URI with unknown scheme: 416", true, []int{416}, "", 0},
	// sipgo's URI parser refuses the scheme ("invalid uri scheme"); the
	// transport read filter (transport.go) lets it through to the 416.
	{"novelsc", "3.3.3", "known but atypical Request-URI scheme (soap.beep): 416 from an endpoint", false, []int{416},
		` "Request-URI scheme soap.beep not supported"`, 0}, // the end of its Warning
	{"unksm2", "3.3.4", "unknown URI schemes in To, From, Contact: parse; a registrar answers 400", true, []int{405, 400}, "", 0},
	{"bext01", "3.3.5", "Require of unknown extensions: 420 with Unsupported", true, []int{420},
		"Unsupported: nothingSupportsThis, nothingSupportsThisEither", 0},
	{"invut", "3.3.6", "unknown Content-Type: 415 with Accept", true, []int{415}, "Accept: application/sdp", 0},
	{"regaut01", "3.3.7", "unknown authorization scheme: parse (REGISTER)", true, []int{405}, "", 0},
	{"multi01", "3.3.8", "multiple values in single-value fields: 400", true, []int{400}, "", 0},
	{"mcl01", "3.3.9", "multiple Content-Length values: 400", true, []int{400}, "", 0},
	{"bcast", "3.3.10", "200 OK with a broadcast Via: never sent to the broadcast address", true, []int{0}, "", 0},
	{"zeromf", "3.3.11", "Max-Forwards 0: a UAS answers it (a proxy 483)", true, []int{200}, "", 0},
	{"cparam01", "3.3.12", "REGISTER with a Contact header parameter: parse", true, []int{405}, "", 0},
	{"cparam02", "3.3.13", "REGISTER with a URI parameter in Contact: parse", true, []int{405}, "", 0},
	{"regescrt", "3.3.14", "REGISTER with an escaped header in Contact: parse", true, []int{405}, "", 0},
	{"sdp01", "3.3.15", "Accept without application/sdp on an INVITE: 406", true, []int{406}, "", 0},

	// 3.4: backward compatibility. Optional: the B2BUA does not offer RFC
	// 2543 compatibility (no From tag, no Contact): sipgo's transaction
	// layer answers 400.
	{"inv2543", "3.4.1", "RFC 2543 syntax: accepted by elements that want backwards compatibility", true, []int{400}, "", 0},
}

// TestRFC4475TortureMessages sends each message of the RFC 4475 torture
// corpus, byte for byte, over UDP to a B2BUA of its own and checks the
// answer against the RFC's expectation; then one B2BUA gets the whole
// corpus and must still place a normal call, and leave no goroutine or file
// behind when closed.
//
// The B2BUA answers a request over UDP at its source address and the port
// of its top Via (RFC 3261 section 18.2.2), which in this corpus is 5060 or
// 5050 of hosts in example.com. So that the messages are sent unchanged
// and the answers can still be read, the test sends from, and listens on,
// those ports of a random loopback address of its own (127.x.y.z, never
// 127.0.0.1), where no other test listens.
func TestRFC4475TortureMessages(t *testing.T) {
	runtime.GC()
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)
	l := newTortureListener(t, 5060, 5050)
	files, err := filepath.Glob("testdata/rfc4475/*.dat")
	require.NoError(t, err)
	require.Len(t, files, len(tortureCases), "one case per file of the corpus")

	parser := newSIPParser(DefaultMaxMessageSize)
	for _, tc := range tortureCases {
		t.Run(tc.file, func(t *testing.T) {
			msg := readTorture(t, tc.file)
			_, perr := parser.ParseSIP(msg)
			if tc.parses {
				require.NoError(t, perr, "RFC 4475 %s: %s", tc.section, tc.rfc)
			}
			e := newEnv(t, nil)
			l.send(t, e.b.Addr(Inside), msg)
			wait := 5 * time.Second
			if slices.Contains(tc.want, 0) {
				wait = 300 * time.Millisecond // for an answer that should not come
			}
			code, res := l.final(callIDsOf(msg), wait)
			t.Logf("RFC 4475 %s %s: parse error %v, answer %d", tc.section, tc.file, perr, code)
			require.Contains(t, tc.want, code, "RFC 4475 %s (%s): got %d, %q", tc.section, tc.rfc, code, res)
			if tc.header != "" {
				assert.Contains(t, res, tc.header+"\r\n")
			}
			if tc.cdr != 0 {
				assert.Equal(t, tc.cdr, e.lastCDR(t, 1).Code, "the dialog logic handled it")
			}
		})
	}

	// One B2BUA gets the whole corpus, then a normal call.
	e := newEnv(t, nil)
	in := e.b.Addr(Inside)
	for _, tc := range tortureCases {
		l.send(t, in, readTorture(t, tc.file))
	}
	callee := newPeer(t, int(e.outsideHop.Port()), 0)
	c := newRawClient(t)
	msg := func(method string, cseq int, toTag, body string) string {
		return c.inDialog(method, "0077270312345678", in, "after-rfc4475", cseq, toTag, body)
	}
	res := c.send(in, msg("INVITE", 1, "", pcmuOffer), 5*time.Second)
	require.True(t, strings.HasPrefix(res, "SIP/2.0 200"), "got %q", res)
	toTag := toTagOf(t, res)
	_, err = c.conn.WriteToUDPAddrPort([]byte(msg("ACK", 1, toTag, "")), in)
	require.NoError(t, err)
	e.events.wait(t, EventAnswered, 1, 5*time.Second)
	res = c.send(in, msg("BYE", 2, toTag, ""), 5*time.Second)
	require.True(t, strings.HasPrefix(res, "SIP/2.0 200"), "got %q", res)
	require.Eventually(t, func() bool {
		for _, cdr := range e.cdr.cdrs(t) {
			if cdr.CallID == "after-rfc4475" {
				return cdr.Cause == CauseBye
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond)

	e.close()
	require.NoError(t, e.q.Close())
	callee.close()
	_ = c.conn.Close()
	l.close()
	settle(t, baseG, baseFD)
}

func readTorture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "rfc4475", name+".dat"))
	require.NoError(t, err)
	return b
}

// callIDsOf returns the Call-ID (or i) header values of a raw message;
// multi01 has two.
func callIDsOf(msg []byte) []string {
	var ids []string
	head, _, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	for _, line := range strings.Split(string(head), "\r\n")[1:] {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if n := strings.ToLower(strings.TrimSpace(name)); n == "call-id" || n == "i" {
			ids = append(ids, strings.TrimSpace(value))
		}
	}
	return ids
}

// tortureListener sends from, and reads answers on, UDP ports of a random
// loopback address.
type tortureListener struct {
	conns []*net.UDPConn
	got   chan string
	wg    sync.WaitGroup
	once  sync.Once
}

func newTortureListener(t testing.TB, ports ...int) *tortureListener {
	t.Helper()
	l := &tortureListener{got: make(chan string, 1024)}
	var err error
	for range 10 {
		ip := netip.AddrFrom4([4]byte{127, byte(1 + rand.IntN(254)), byte(rand.IntN(256)), byte(1 + rand.IntN(254))})
		if l.conns, err = listenAll(ip, ports); err == nil {
			break
		}
	}
	require.NoError(t, err, "no loopback address with ports %v free", ports)
	for _, c := range l.conns {
		l.wg.Add(1)
		go l.read(c)
	}
	t.Cleanup(l.close)
	return l
}

func listenAll(ip netip.Addr, ports []int) ([]*net.UDPConn, error) {
	var conns []*net.UDPConn
	for _, p := range ports {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(p))))
		if err != nil {
			for _, c := range conns {
				_ = c.Close()
			}
			return nil, err
		}
		conns = append(conns, c)
	}
	return conns, nil
}

func (l *tortureListener) read(c *net.UDPConn) {
	defer l.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, _, err := c.ReadFromUDPAddrPort(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		select {
		case l.got <- string(buf[:n]):
		default: // nobody waits for it
		}
	}
}

func (l *tortureListener) send(t testing.TB, to netip.AddrPort, msg []byte) {
	t.Helper()
	_, err := l.conns[0].WriteToUDPAddrPort(msg, to)
	require.NoError(t, err)
}

// final returns the status code and text of the first final response with
// the Call-IDs callIDs (none for none), or 0 if none came within d.
func (l *tortureListener) final(callIDs []string, d time.Duration) (int, string) {
	deadline := time.After(d)
	for {
		select {
		case res := <-l.got:
			code, err := statusOf(res)
			if got := callIDsOf([]byte(res)); err == nil && code >= 200 &&
				(len(got) == 0 && len(callIDs) == 0 || len(got) == 1 && slices.Contains(callIDs, got[0])) {
				return code, res
			}
		case <-deadline:
			return 0, ""
		}
	}
}

func statusOf(res string) (int, error) {
	line, _, _ := strings.Cut(res, "\r\n")
	f := strings.Fields(line)
	if len(f) < 2 || !strings.HasPrefix(f[0], "SIP/") {
		return 0, fmt.Errorf("not a response: %q", line)
	}
	return strconv.Atoi(f[1])
}

func (l *tortureListener) close() {
	l.once.Do(func() {
		for _, c := range l.conns {
			_ = c.Close()
		}
		l.wg.Wait()
	})
}

// TestParserCompactsLWSInParameters: the parser the B2BUA uses reads
// wsinv's headers as RFC 3261 means them, whitespace and line folding
// around ";", "=", "/" and "," removed, lists split as before.
func TestParserCompactsLWSInParameters(t *testing.T) {
	m, err := newSIPParser(DefaultMaxMessageSize).ParseSIP(readTorture(t, "wsinv"))
	require.NoError(t, err)
	req := m.(*sip.Request)
	tag, _ := req.From().Params.Get("tag")
	assert.Equal(t, "98asjd8", tag)
	assert.Equal(t, `J Rosenberg \\\"`, req.From().DisplayName)
	tag, _ = req.To().Params.Get("tag")
	assert.Equal(t, "1918181833n", tag)
	var vias []string
	for _, h := range req.GetHeaders("Via") {
		v := h.(*sip.ViaHeader)
		branch, _ := v.Params.Get("branch")
		vias = append(vias, v.ProtocolName+"/"+v.ProtocolVersion+"/"+v.Transport+" "+v.Host+" "+branch)
	}
	assert.Equal(t, []string{
		"SIP/2.0/UDP 192.0.2.2 390skdjuw",
		"SIP/2.0/TCP spindle.example.com z9hG4bK9ikj8",
		"SIP/2.0/UDP 192.168.255.111 z9hG4bK30239",
	}, vias)
	c := req.Contact()
	require.NotNil(t, c)
	assert.Equal(t, "sip:jdrosen@example.com", c.Address.String())
	v, _ := c.Params.Get("newparam")
	assert.Equal(t, "newvalue", v)
	assert.True(t, c.Params.Has("secondparam"))
	v, _ = c.Params.Get("q")
	assert.Equal(t, "0.33", v)

	// An address list keeps its values, whitespace or not.
	for _, text := range []string{
		`<sip:a@example.com> ; q = 0.5 , "B, b" <sip:b@example.com>;expires= 60`,
		`<sip:a@example.com>;q=0.5,"B, b" <sip:b@example.com>;expires=60`,
	} {
		hs, err := sip.HeadersParser(map[string]sip.HeaderParser{"contact": lwsTolerant(sip.DefaultHeadersParser()["contact"], true)}).
			ParseHeader(nil, []byte("Contact: "+text))
		require.NoError(t, err, text)
		require.Len(t, hs, 2, text)
		a, b := hs[0].(*sip.ContactHeader), hs[1].(*sip.ContactHeader)
		q, _ := a.Params.Get("q")
		exp, _ := b.Params.Get("expires")
		assert.Equal(t, []string{"sip:a@example.com", "0.5", "B, b", "sip:b@example.com", "60"},
			[]string{a.Address.String(), q, b.DisplayName, b.Address.String(), exp}, text)
	}
}

func TestCompactLWS(t *testing.T) {
	for in, want := range map[string]string{
		"<sip:a@b> ;   tag    = 1918181833n":                           "<sip:a@b>;tag=1918181833n",
		`"J  R \" ; x" <sip:a@b ; c>  ;  tag = 9`:                      `"J  R \" ; x" <sip:a@b ; c>;tag=9`,
		"SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9": "SIP/2.0/TCP spindle.example.com;branch=z9",
		"John  Smith <sip:j@b>":                                        "John Smith <sip:j@b>",
		"sip:a@b":                                                      "sip:a@b",
	} {
		assert.Equal(t, want, compactLWS(in), in)
	}
}
