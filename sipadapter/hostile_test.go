package sipadapter

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawClient sends hand-written SIP over UDP and reads the final response.
type rawClient struct {
	t    testing.TB
	conn *net.UDPConn
}

func newRawClient(t testing.TB) *rawClient {
	return &rawClient{t: t, conn: loopbackUDP(t)}
}

func (r *rawClient) port() int { return r.conn.LocalAddr().(*net.UDPAddr).Port }

// request builds a request from this client; body "" means none.
func (r *rawClient) request(method, ruser string, to netip.AddrPort, callID, extra, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s sip:%s@%s SIP/2.0\r\n", method, ruser, to)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%d\r\n", r.port(), time.Now().UnixNano())
	fmt.Fprintf(&b, "From: <sip:%s@127.0.0.1>;tag=raw1\r\nTo: <sip:%s@%s>\r\n", lineFixed, ruser, to)
	fmt.Fprintf(&b, "Call-ID: %s\r\nCSeq: 1 %s\r\nContact: <sip:raw@127.0.0.1:%d>\r\nMax-Forwards: 70\r\n", callID, method, r.port())
	b.WriteString(extra)
	if body != "" {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return b.String()
}

// inDialog builds a request from this client (From tag raw1) in the dialog
// callID: CSeq cseq, toTag the To header's suffix (";tag=…" or ""), body ""
// for none.
func (r *rawClient) inDialog(method, ruser string, to netip.AddrPort, callID string, cseq int, toTag, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s sip:%s@%s SIP/2.0\r\n", method, ruser, to)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s%d\r\n", r.port(), method, cseq)
	fmt.Fprintf(&b, "From: <sip:%s@127.0.0.1>;tag=raw1\r\nTo: <sip:%s@%s>%s\r\n", lineFixed, ruser, to, toTag)
	fmt.Fprintf(&b, "Call-ID: %s\r\nCSeq: %d %s\r\nContact: <sip:raw@127.0.0.1:%d>\r\nMax-Forwards: 70\r\n", callID, cseq, method, r.port())
	if body != "" {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return b.String()
}

// toTagOf returns the ";tag=…" of a response's To header.
func toTagOf(t testing.TB, res string) string {
	t.Helper()
	for _, line := range strings.Split(res, "\r\n") {
		if strings.HasPrefix(line, "To:") {
			if i := strings.Index(line, ";tag="); i >= 0 {
				return line[i:]
			}
		}
	}
	t.Fatalf("no To tag in %q", res)
	return ""
}

// send writes msg to addr and returns the first final response, or "" if
// none came within timeout.
func (r *rawClient) send(addr netip.AddrPort, msg string, timeout time.Duration) string {
	r.t.Helper()
	_, err := r.conn.WriteToUDPAddrPort([]byte(msg), addr)
	require.NoError(r.t, err)
	buf := make([]byte, 65536)
	deadline := time.Now().Add(timeout)
	for {
		require.NoError(r.t, r.conn.SetReadDeadline(deadline))
		n, _, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return ""
		}
		res := string(buf[:n])
		if strings.HasPrefix(res, "SIP/2.0 1") {
			continue
		}
		return res
	}
}

const offerG729 = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n"

func TestHostileAndInvalidRequests(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxMessageSize = 4096 })
	in := e.b.Addr(Inside)
	// Each case sends from its own socket, so that no stale retransmission
	// of an earlier case's response is read.
	tests := map[string]struct {
		msg  func(c *rawClient) string
		want string // status line prefix; "" means no response (dropped)
	}{
		"options": {func(c *rawClient) string { return c.request("OPTIONS", "x", in, "opt-1", "", "") }, "SIP/2.0 200"},
		"malformed sdp": {func(c *rawClient) string {
			return c.request("INVITE", "0077270312345678", in, "bad-sdp", "", "v=0\r\nthis is not sdp\r\n")
		}, "SIP/2.0 400"},
		"no acceptable codec": {func(c *rawClient) string {
			return c.request("INVITE", "0077270312345678", in, "g729", "", offerG729)
		}, "SIP/2.0 488"},
		"no offer": {func(c *rawClient) string { return c.request("INVITE", "0077270312345678", in, "no-sdp", "", "") },
			"SIP/2.0 488"},
		"oversized message": {func(c *rawClient) string {
			return c.request("OPTIONS", "x", in, "big", "X-Padding: "+strings.Repeat("a", 5000)+"\r\n", "")
		}, ""},
		"garbage":            {func(*rawClient) string { return "\x00\x01 not sip at all\r\n\r\n" }, ""},
		"bye outside dialog": {func(c *rawClient) string { return c.request("BYE", "x", in, "nope", "", "") }, "SIP/2.0 481"},
		"unsupported method": {func(c *rawClient) string { return c.request("MESSAGE", "x", in, "msg-1", "", "") }, "SIP/2.0 405"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			timeout := 2 * time.Second
			if tc.want == "" {
				timeout = 300 * time.Millisecond
			}
			c := newRawClient(t)
			res := c.send(in, tc.msg(c), timeout)
			if tc.want == "" {
				assert.Empty(t, res)
				return
			}
			require.True(t, strings.HasPrefix(res, tc.want), "got %q", res)
		})
	}
	// The service still works after all that.
	c := newRawClient(t)
	res := c.send(in, c.request("OPTIONS", "x", in, "opt-2", "", ""), 2*time.Second)
	assert.True(t, strings.HasPrefix(res, "SIP/2.0 200"), "got %q", res)
	assert.Contains(t, res, "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS")
}

func TestInsideAcceptsOnlyConfiguredNetworks(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Inside.Networks = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	c := newRawClient(t)
	res := c.send(e.b.Addr(Inside), c.request("INVITE", "0077270312345678", e.b.Addr(Inside), "acl", "", offerG729), 2*time.Second)
	require.True(t, strings.HasPrefix(res, "SIP/2.0 403"), "got %q", res)
	assert.Contains(t, res, "source not allowed")
	c = newRawClient(t)
	res = c.send(e.b.Addr(Inside), c.request("BYE", "x", e.b.Addr(Inside), "acl-bye", "", ""), 2*time.Second)
	require.True(t, strings.HasPrefix(res, "SIP/2.0 403"), "in-dialog requests are filtered too: got %q", res)
	// The outside accepts any source (the INVITE then fails on its codec).
	res = c.send(e.b.Addr(Outside), c.request("INVITE", companyIn, e.b.Addr(Outside), "acl-out", "", offerG729), 2*time.Second)
	assert.True(t, strings.HasPrefix(res, "SIP/2.0 488"), "got %q", res)
}

func TestConcurrentDialogLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxDialogs = 1 })
	// A next hop that swallows the INVITE keeps the first call ringing.
	sink, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(e.outsideHop))
	require.NoError(t, err)
	defer sink.Close()
	c := newRawClient(t)
	offer := pcmuOffer
	_, err = c.conn.WriteToUDPAddrPort([]byte(c.request("INVITE", "0077270312345678", e.b.Addr(Inside), "first", "", offer)), e.b.Addr(Inside))
	require.NoError(t, err)
	require.Eventually(t, func() bool { n, _ := e.b.ActiveCalls(); return n == 1 }, 2*time.Second, 10*time.Millisecond)
	c2 := newRawClient(t)
	res := c2.send(e.b.Addr(Inside), c2.request("INVITE", "0077270312345678", e.b.Addr(Inside), "second", "", offer), 2*time.Second)
	require.True(t, strings.HasPrefix(res, "SIP/2.0 503"), "got %q", res)
	assert.Contains(t, res, "Retry-After: 30")
}

const pcmuOffer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"

// TestCallIDNeverReachesAPath places a recorded call whose Call-ID tries
// path traversal: every file the call produces stays in the record,
// spool and destination directories, named by the recording ID.
func TestCallIDNeverReachesAPath(t *testing.T) {
	e := newEnv(t, nil)
	newPeer(t, int(e.outsideHop.Port()), calleeHz)
	caller := newPeer(t, 0, callerHz)
	evil := "../../../../tmp/evil/..%2f" + strings.Repeat("x", 10) + "@127.0.0.1"
	ctx := t.Context()
	cid := sip.CallIDHeader(evil)
	d, err := caller.call(ctx, e.b.Addr(Inside), "0077270312345678", &cid)
	require.NoError(t, err)
	require.Equal(t, evil, d.ID())
	e.events.wait(t, EventRecordingStarted, 1, 5*time.Second)
	require.NoError(t, d.Hangup(ctx))
	e.events.wait(t, EventDelivered, 1, 10*time.Second)
	_, metas := e.delivered(t)
	require.Len(t, metas, 1)
	assert.Equal(t, evil, metas[0].CallID, "the Call-ID is kept verbatim in the metadata")
	// The B2BUA's own files are named by the recording ID; the sink names
	// delivered files after the Call-ID, escaped into one file name.
	root := filepath.Dir(e.dest)
	require.NoError(t, filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // the spool removes its working files meanwhile
		}
		require.NoError(t, err)
		rel, err := filepath.Rel(root, path)
		require.NoError(t, err)
		assert.False(t, strings.HasPrefix(rel, ".."), "file outside the test's directories: %s", path)
		if strings.HasPrefix(rel, "dest"+string(filepath.Separator)) && !d.IsDir() {
			assert.Len(t, strings.Split(rel, string(filepath.Separator)), 5, "dest/YYYY/MM/DD/name: %s", rel)
		} else {
			assert.NotContains(t, rel, "evil")
		}
		return nil
	}))
	_, err = os.Stat("/tmp/evil")
	assert.True(t, os.IsNotExist(err))
}

// TestReinvite2xxRetransmittedUntilAck: over UDP the B2BUA retransmits its
// 200 to a re-INVITE until the ACK comes, then stops.
func TestReinvite2xxRetransmittedUntilAck(t *testing.T) {
	e := newEnv(t, nil)
	newPeer(t, int(e.outsideHop.Port()), 0)
	c := newRawClient(t)
	in := e.b.Addr(Inside)
	msg := func(method string, cseq int, toTag, body string) string {
		return c.inDialog(method, "0077270312345678", in, "reinvite-rtx", cseq, toTag, body)
	}
	res := c.send(in, msg("INVITE", 1, "", pcmuOffer), 5*time.Second)
	require.True(t, strings.HasPrefix(res, "SIP/2.0 200"), "got %q", res)
	toTag := toTagOf(t, res)
	_, err := c.conn.WriteToUDPAddrPort([]byte(msg("ACK", 1, toTag, "")), in)
	require.NoError(t, err)
	e.events.wait(t, EventAnswered, 1, 2*time.Second)

	count200 := func(d time.Duration) int {
		n := 0
		buf := make([]byte, 65536)
		deadline := time.Now().Add(d)
		for {
			require.NoError(t, c.conn.SetReadDeadline(deadline))
			m, _, err := c.conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return n
			}
			if r := string(buf[:m]); strings.HasPrefix(r, "SIP/2.0 200") && strings.Contains(r, "CSeq: 2 INVITE") {
				n++
			}
		}
	}
	hold := strings.Replace(pcmuOffer, "m=audio", "a=sendonly\r\nm=audio", 1)
	_, err = c.conn.WriteToUDPAddrPort([]byte(msg("INVITE", 2, toTag, hold)), in)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, count200(2*time.Second), 3, "200, then at 0.5 s and 1.5 s")
	_, err = c.conn.WriteToUDPAddrPort([]byte(msg("ACK", 2, toTag, "")), in)
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond) // a retransmission already on its way
	assert.Zero(t, count200(2500*time.Millisecond), "no retransmission after the ACK")
	res = c.send(in, msg("BYE", 3, toTag, ""), 2*time.Second)
	require.True(t, strings.HasPrefix(res, "SIP/2.0 200"), "got %q", res)
	assert.Equal(t, CauseBye, e.lastCDR(t, 1).Cause)
}
