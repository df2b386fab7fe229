package sipadapter

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callrec/callrec/internal/sipua"
	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// digestParams parses the parameters of a Digest credentials header.
func digestParams(v string) map[string]string {
	out := map[string]string{}
	v = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), "Digest"))
	for v != "" {
		name, rest, _ := strings.Cut(v, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		var val string
		if strings.HasPrefix(rest, `"`) {
			end := strings.Index(rest[1:], `"`)
			if end < 0 {
				return out
			}
			val, rest = rest[1:1+end], rest[2+end:]
		} else {
			val, rest, _ = strings.Cut(rest, ",")
			rest = "," + rest
		}
		out[name] = strings.TrimSpace(val)
		_, rest, _ = strings.Cut(rest, ",")
		v = strings.TrimSpace(rest)
	}
	return out
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// digestValid checks credentials against a challenge of realm and nonce
// with qop=auth (RFC 2617 §3.2.2), as a carrier's proxy would, including
// that they are for the request's own Request-URI.
func digestValid(req *sip.Request, header, user, password, realm, nonce string) bool {
	h := req.GetHeader(header)
	if h == nil {
		return false
	}
	p := digestParams(h.Value())
	if p["username"] != user || p["realm"] != realm || p["nonce"] != nonce || p["uri"] != req.Recipient.Addr() {
		return false
	}
	ha1 := md5hex(user + ":" + realm + ":" + password)
	ha2 := md5hex(string(req.Method) + ":" + p["uri"])
	return p["response"] == md5hex(strings.Join([]string{ha1, nonce, p["nc"], p["cnonce"], p["qop"], ha2}, ":"))
}

// carrierChallenge makes the callee peer challenge INVITEs without valid
// credentials for user and password with code (401 or 407).
func carrierChallenge(code int, user, password string) func(*sip.Request) *sip.Response {
	var mu sync.Mutex
	n := 0
	return func(req *sip.Request) *sip.Response {
		req2, resH := "Authorization", "WWW-Authenticate"
		reason := "Unauthorized"
		if code == sip.StatusProxyAuthRequired {
			req2, resH, reason = "Proxy-Authorization", "Proxy-Authenticate", "Proxy Authentication Required"
		}
		if h := req.GetHeader(req2); h != nil {
			if nonce := digestParams(h.Value())["nonce"]; digestValid(req, req2, user, password, "carrier", nonce) {
				return nil
			}
		}
		mu.Lock()
		n++
		nonce := fmt.Sprintf("nonce%d", n)
		mu.Unlock()
		res := sip.NewResponseFromRequest(req, code, reason, nil)
		res.AppendHeader(sip.NewHeader(resH, `Digest realm="carrier", nonce="`+nonce+`", qop="auth", algorithm=MD5`))
		return res
	}
}

// TestNextHopDigestChallenge: the B2BUA answers its next hop's digest
// challenge with the side's credentials; without them, or when they are
// refused, the caller gets 403 carrying the challenge's code as its Reason,
// never a 401/407 it could not answer.
func TestNextHopDigestChallenge(t *testing.T) {
	tests := map[string]struct {
		code       int
		password   string // configured on the outside; the carrier wants "secret"
		answered   bool
		invites    int
		warning    string
		reasonCode string
	}{
		"407 answered with credentials": {code: 407, password: "secret", answered: true, invites: 2},
		"401 answered with credentials": {code: 401, password: "secret", answered: true, invites: 2},
		"407 without credentials":       {code: 407, invites: 1, warning: "no credentials configured", reasonCode: "cause=407"},
		"401 with refused credentials":  {code: 401, password: "wrong", invites: 3, warning: "refused the configured credentials", reasonCode: "cause=401"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) {
				if tc.password != "" {
					c.Outside.Username, c.Outside.Password = "trunk", tc.password
				}
			})
			callee := newPeer(t, int(e.outsideHop.Port()), calleeHz)
			callee.mu.Lock()
			callee.challenge = carrierChallenge(tc.code, "trunk", "secret")
			callee.mu.Unlock()
			caller := newPeer(t, 0, callerHz)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			d, err := caller.call(ctx, e.b.Addr(Inside), "0077270312345678")
			callee.mu.Lock()
			invites := append([]*sip.Request(nil), callee.invites...)
			callee.mu.Unlock()
			require.Len(t, invites, tc.invites)
			for i, inv := range invites[1:] {
				assert.Equal(t, invites[0].CallID().Value(), inv.CallID().Value(), "the same callee leg")
				assert.EqualValues(t, i+2, inv.CSeq().SeqNo, "a new CSeq for each attempt")
			}
			if tc.answered {
				require.NoError(t, err)
				e.events.wait(t, EventRecordingStarted, 1, 5*time.Second)
				require.NoError(t, d.Hangup(ctx))
				cdr := e.lastCDR(t, 1)
				assert.Equal(t, CauseBye, cdr.Cause)
				assert.True(t, cdr.Recorded)
				return
			}
			res := failureResponse(t, err)
			assert.Equal(t, sip.StatusForbidden, res.StatusCode)
			assert.Nil(t, res.GetHeader("WWW-Authenticate"))
			assert.Nil(t, res.GetHeader("Proxy-Authenticate"))
			require.NotNil(t, res.GetHeader("Reason"))
			assert.Contains(t, res.GetHeader("Reason").Value(), tc.reasonCode)
			require.NotNil(t, res.GetHeader("Warning"))
			assert.Contains(t, res.GetHeader("Warning").Value(), tc.warning)
			cdr := e.lastCDR(t, 1)
			assert.Equal(t, CauseRejected, cdr.Cause)
			assert.Equal(t, sip.StatusForbidden, cdr.Code)
			assert.Contains(t, cdr.Error, fmt.Sprint(tc.code))
		})
	}
}

// TestSameCallIDAfterFailureIsANewCall: a caller that answers a failure at
// once with a new INVITE of the same Call-ID (overlap dialling after 484,
// RFC 3578) starts a new call, even while the B2BUA is still finishing the
// first: the new INVITE gets no 482 Loop Detected.
func TestSameCallIDAfterFailureIsANewCall(t *testing.T) {
	release := make(chan struct{})
	var held atomic.Bool
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	e := newEnv(t, func(c *Config) {
		inner := c.Events
		c.Events = func(ev Event) {
			if ev.Kind == EventEnded && held.CompareAndSwap(false, true) {
				// Hold the first call in its finish, still in the call
				// table before the fix, until the retry is answered.
				<-release
			}
			inner(ev)
		}
	})
	defer unblock()
	newPeer(t, int(e.outsideHop.Port()), calleeHz)
	caller := newPeer(t, 0, callerHz)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// The same Call-ID and From tag each time, with a new CSeq.
	invite := func(user string, cseq uint32) (*sipua.Call, error) {
		from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: lineFixed, Host: "127.0.0.1"}, Params: sip.NewParams()}
		from.Params.Add("tag", "overlap1")
		cid := sip.CallIDHeader("overlap-dialling@127.0.0.1")
		return caller.call(ctx, e.b.Addr(Inside), user, from, &cid, &sip.CSeqHeader{SeqNo: cseq, MethodName: sip.INVITE})
	}
	_, err := invite("00772703", 1) // too short: 484
	require.Equal(t, sip.StatusAddressIncomplete, failureResponse(t, err).StatusCode)

	second, err := invite("0077270312345678", 2)
	require.NoError(t, err, "the retry is a new call")
	assert.True(t, held.Load(), "the first call was still finishing when the retry came")
	unblock()
	e.events.wait(t, EventAnswered, 1, 5*time.Second)
	require.NoError(t, second.Hangup(ctx))
	cdr := e.lastCDR(t, 2)
	assert.Equal(t, CauseBye, cdr.Cause)
}
