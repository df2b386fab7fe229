package relay_test

import (
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/sipadapter/relay"
)

// BenchmarkRelayManyLegs relays 400 concurrent calls at a real call's rate:
// every 20 ms each caller and each callee sends one 20 ms PCMU packet
// (400 calls × 2 legs × 50 pps = 40,000 packets/s). One op is one relayed
// packet. The rate is fixed, so wall time per op says nothing; the figure
// is cpu-ns/packet, the process's user+system CPU time (relay, its
// goroutines and the two peer sockets, which cost the same whatever the
// relay does) divided by the packets sent. All callers share one socket
// and all callees another: strict source checks hold per session, and the
// peers stay cheap next to the relay. A tap on every leg makes the relay
// parse each packet, as it does for a recorded call. goroutines is the
// count while the calls are up; lost counts packets not received back
// (a loaded machine drops some, so it is reported, not asserted).
func BenchmarkRelayManyLegs(b *testing.B) {
	const calls, tick = 400, 20 * time.Millisecond
	a := newTestAnchor(b, 2*calls+100, nil) // slack for ports other processes hold
	callers, callees := newPeer(b), newPeer(b)
	for _, p := range []*peer{callers, callees} {
		require.NoError(b, p.conn.SetReadBuffer(4<<20))
		require.NoError(b, p.conn.SetReadDeadline(time.Time{}))
	}
	sessions := make([]*relay.Session, calls)
	for i := range sessions {
		s, err := a.Open()
		require.NoError(b, err)
		s.SetRemote(relay.Caller, callers.addr())
		s.SetRemote(relay.Callee, callees.addr())
		s.SetTap(relay.Caller, nopTap{})
		s.SetTap(relay.Callee, nopTap{})
		sessions[i] = s
	}
	defer func() {
		for _, s := range sessions {
			_ = s.Close()
		}
	}()

	var received atomic.Int64
	var wg sync.WaitGroup
	for _, p := range []*peer{callers, callees} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1500)
			for {
				if _, _, err := p.conn.ReadFromUDPAddrPort(buf); err != nil {
					return // the deadline set below ends the reader
				}
				received.Add(1)
			}
		}()
	}

	payload := make([]byte, 160)
	raw := make([]byte, 1500)
	send := func(from *peer, to netip.AddrPort, seq uint16, ssrc uint32) {
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: ssrc}, Payload: payload}
		n, err := pkt.MarshalTo(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := from.conn.WriteToUDPAddrPort(raw[:n], to); err != nil {
			b.Fatal(err)
		}
	}
	rounds := max(1, b.N/(2*calls)) // one round: one packet from every party
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	next := time.Now()
	for r := range rounds {
		for i, s := range sessions {
			send(callers, s.Local(relay.Caller), uint16(r), uint32(2*i))
			send(callees, s.Local(relay.Callee), uint16(r), uint32(2*i+1))
		}
		next = next.Add(tick)
		time.Sleep(time.Until(next))
	}
	time.Sleep(100 * time.Millisecond) // the last round's packets in flight
	cpu := cpuTime(b) - cpu0
	b.StopTimer()
	goroutines := runtime.NumGoroutine()
	sent := int64(rounds * 2 * calls)
	for _, p := range []*peer{callers, callees} {
		require.NoError(b, p.conn.SetReadDeadline(time.Now()))
	}
	wg.Wait()
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(sent), "cpu-ns/packet")
	b.ReportMetric(float64(goroutines), "goroutines")
	b.ReportMetric(float64(sent-received.Load()), "lost")
}

// cpuTime returns the user+system CPU time the process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
