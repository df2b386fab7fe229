package sipua

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newUA(t *testing.T, cfg Config) *UA {
	t.Helper()
	u, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, u.Close()) })
	return u
}

// connect has caller dial callee and returns both ends of the call.
func connect(ctx context.Context, t *testing.T, caller, callee *UA) (out, in *Call) {
	t.Helper()
	out, err := caller.Dial(ctx, callee.URI("1"))
	require.NoError(t, err)
	in, err = callee.Accept(ctx)
	require.NoError(t, err)
	return out, in
}

func TestConfigErrors(t *testing.T) {
	tests := map[string]struct {
		cfg   Config
		field string
	}{
		"listen not an address": {Config{Listen: "localhost:0"}, "Listen"},
		"listen not loopback":   {Config{Listen: "0.0.0.0:0"}, "Listen"},
		"reject not a failure":  {Config{Reject: 200}, "Reject"},
		"negative ring time":    {Config{RingTime: -time.Second}, "RingTime"},
		"negative hang-up":      {Config{HangUpAfter: -time.Second}, "HangUpAfter"},
		"negative max receive":  {Config{MaxReceive: -time.Second}, "MaxReceive"},
		"unknown codec":         {Config{Codecs: []Codec{7}}, "Codecs"},
		"sdp port not a port":   {Config{SDPPort: 70000}, "SDPPort"},
		"early media, no ring":  {Config{EarlyMedia: true}, "EarlyMedia"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			u, err := New(tt.cfg)
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Nil(t, u)
			assert.Contains(t, err.Error(), tt.field)
		})
	}
}

// TestCall has one UA call another: ringing, answer, two-way audio at each
// party's pitch, BYE from either side.
func TestCall(t *testing.T) {
	tests := map[string]struct {
		callee      Config
		hangUpLocal bool // the caller hangs up; otherwise the callee does
		codec       Codec
	}{
		"caller hangs up": {
			callee: Config{RingTime: 100 * time.Millisecond}, hangUpLocal: true, codec: PCMU,
		},
		"callee hangs up": {
			callee: Config{HangUpAfter: 700 * time.Millisecond}, codec: PCMU,
		},
		"callee only takes PCMA": {
			callee: Config{Codecs: []Codec{PCMA}}, hangUpLocal: true, codec: PCMA,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tt.callee.Name, tt.callee.User = "callee", "0312345678"
			tt.callee.Source = Voice{Pitch: 210, Seed: 2}
			callee := newUA(t, tt.callee)
			caller := newUA(t, Config{Name: "caller", User: "0355550000", Source: Voice{Pitch: 130, Seed: 1}})

			callID := sip.CallIDHeader("test-" + sip.GenerateTagN(8) + "@127.0.0.1")
			out, err := caller.Dial(ctx, callee.URI("0312345678"), &callID, sip.NewHeader("Resource-Priority", "ets.0"))
			require.NoError(t, err)
			in, err := callee.Accept(ctx)
			require.NoError(t, err)

			assert.Equal(t, callID.Value(), out.ID())
			assert.Equal(t, out.ID(), in.ID())
			assert.Equal(t, Outbound, out.Direction())
			assert.Equal(t, Inbound, in.Direction())
			assert.Equal(t, "0355550000", in.From())
			assert.Equal(t, "0312345678", in.Target())
			assert.Equal(t, tt.codec, out.Codec())
			assert.Equal(t, tt.codec, in.Codec())
			if tt.callee.RingTime > 0 {
				// Without ring time a 180 right before the 200 may be
				// overtaken; with it the caller must have seen it.
				assert.False(t, out.Ringing().IsZero(), "caller saw no 180")
				assert.GreaterOrEqual(t, out.Answered().Sub(out.Ringing()), tt.callee.RingTime/2)
				assert.GreaterOrEqual(t, in.Answered().Sub(in.Ringing()), tt.callee.RingTime)
			}

			if tt.hangUpLocal {
				select {
				case <-time.After(700 * time.Millisecond):
				case <-in.Done():
					t.Fatal("callee ended the call")
				}
				require.NoError(t, out.Hangup(ctx))
			}
			for _, c := range []*Call{out, in} {
				select {
				case <-c.Done():
				case <-ctx.Done():
					t.Fatalf("%s call did not end", c.Direction())
				}
			}
			wantOut, wantIn := Local, Remote
			if !tt.hangUpLocal {
				wantOut, wantIn = Remote, Local
			}
			assert.Equal(t, wantOut, out.End().By)
			assert.Equal(t, wantIn, in.End().By)

			for _, p := range []struct {
				call *Call
				hz   float64
			}{{out, 210}, {in, 130}} {
				st := p.call.Stats()
				assert.Greater(t, st.Sent, uint64(20), "%s sent", p.call.Direction())
				assert.Greater(t, st.Received, uint64(20), "%s received", p.call.Direction())
				assert.Zero(t, st.Lost+st.Late+st.Malformed)
				rx := p.call.Received()
				assert.InDelta(t, int(st.Received)*frameSamples, len(rx), 2*frameSamples)
				pitch := EstimatePitch(rx)
				assert.InEpsilon(t, p.hz, pitch.Hz, 0.04, "%s heard the wrong voice", p.call.Direction())
			}
		})
	}
}

func TestDialRejected(t *testing.T) {
	tests := map[string]struct {
		callee, caller Config
		code           int
		phrase         string
	}{
		"busy":            {Config{Reject: 486}, Config{}, 486, "Busy Here"},
		"declined":        {Config{Reject: 603}, Config{}, 603, "Decline"},
		"no common codec": {Config{Codecs: []Codec{PCMU}}, Config{Codecs: []Codec{PCMA}}, 488, "Not Acceptable Here"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			callee := newUA(t, tt.callee)
			caller := newUA(t, tt.caller)
			c, err := caller.Dial(ctx, callee.URI("0312345678"))
			require.ErrorIs(t, err, ErrRejected)
			assert.Nil(t, c)
			var se *StatusError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tt.code, se.Code)
			assert.Equal(t, tt.phrase, se.Phrase)
			require.NotNil(t, se.Response)
			assert.Equal(t, tt.code, se.Response.StatusCode, "the whole response")
			assert.Contains(t, se.Error(), fmt.Sprint(tt.code))
		})
	}
}

func TestDialCancelled(t *testing.T) {
	callee := newUA(t, Config{RingTime: time.Minute})
	caller := newUA(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	c, err := caller.Dial(ctx, callee.URI("0312345678"))
	require.Error(t, err)
	assert.Nil(t, c)
	assert.Less(t, time.Since(start), 5*time.Second)
	actx, acancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer acancel()
	_, err = callee.Accept(actx)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "a cancelled call was accepted")
}

func TestDialErrors(t *testing.T) {
	ctx := context.Background()
	u, err := New(Config{})
	require.NoError(t, err)
	_, err = u.Dial(ctx, "not a uri")
	assert.ErrorIs(t, err, ErrTarget)
	require.NoError(t, u.Close())
	require.NoError(t, u.Close(), "second Close")
	_, err = u.Dial(ctx, "sip:1@127.0.0.1:5060")
	assert.ErrorIs(t, err, ErrClosed)
	_, err = u.Accept(ctx)
	assert.True(t, errors.Is(err, ErrClosed))
}

// TestCloseEndsCalls checks that Close hangs up calls in progress.
func TestCloseEndsCalls(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	callee := newUA(t, Config{})
	caller, err := New(Config{})
	require.NoError(t, err)
	out, err := caller.Dial(ctx, callee.URI("1"))
	require.NoError(t, err)
	in, err := callee.Accept(ctx)
	require.NoError(t, err)
	require.NoError(t, caller.Close())
	assert.Equal(t, Local, out.End().By)
	select {
	case <-in.Done():
		assert.Equal(t, Remote, in.End().By)
	case <-ctx.Done():
		t.Fatal("callee's call did not end")
	}
}

// TestNoGoroutineLeak checks that calls and Close leave no goroutine
// behind.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	callee, err := New(Config{HangUpAfter: 100 * time.Millisecond})
	require.NoError(t, err)
	caller, err := New(Config{})
	require.NoError(t, err)
	for range 3 {
		c, err := caller.Dial(ctx, callee.URI("1"))
		require.NoError(t, err)
		<-c.Done()
	}
	require.NoError(t, caller.Close())
	require.NoError(t, callee.Close())
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

// TestCloseCancelsDial checks that Close cancels a call still ringing.
func TestCloseCancelsDial(t *testing.T) {
	callee := newUA(t, Config{RingTime: time.Minute})
	caller, err := New(Config{})
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() {
		_, err := caller.Dial(context.Background(), callee.URI("1"))
		errc <- err
	}()
	time.Sleep(200 * time.Millisecond)
	require.NoError(t, caller.Close())
	select {
	case err := <-errc:
		assert.Error(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Dial still running after Close")
	}
}

// TestMaxReceive checks that received audio is kept up to MaxReceive and
// counted beyond it.
func TestMaxReceive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	callee := newUA(t, Config{HangUpAfter: 600 * time.Millisecond, Source: Tone(300, 0.3)})
	caller := newUA(t, Config{MaxReceive: 200 * time.Millisecond})
	c, err := caller.Dial(ctx, callee.URI("1"))
	require.NoError(t, err)
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("callee did not hang up")
	}
	assert.Len(t, c.Received(), SampleRate/5)
	assert.Greater(t, c.Stats().Received, uint64(20))
}

// TestHold puts a call on hold from either side and takes it off again:
// no audio flows on hold, both directions resume after.
func TestHold(t *testing.T) {
	for _, holder := range []Direction{Outbound, Inbound} {
		t.Run(holder.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			out, in := connect(ctx, t, newUA(t, Config{}), newUA(t, Config{}))
			calls := []*Call{out, in}
			h := out
			if holder == Inbound {
				h = in
			}
			sent := func() [2]uint64 { return [2]uint64{out.Stats().Sent, in.Stats().Sent} }

			require.NoError(t, h.Hold(ctx, true))
			time.Sleep(100 * time.Millisecond) // packets in flight
			before := sent()
			time.Sleep(300 * time.Millisecond)
			assert.Equal(t, before, sent(), "audio sent on hold")

			require.NoError(t, h.Hold(ctx, false))
			time.Sleep(300 * time.Millisecond)
			after := sent()
			for i, c := range calls {
				assert.Greater(t, after[i], before[i]+5, "%s did not resume", c.Direction())
			}
			require.NoError(t, out.Hangup(ctx))
			<-in.Done()
			for _, c := range calls {
				assert.Zero(t, c.Stats().Lost, "%s lost packets", c.Direction())
			}
		})
	}
}
