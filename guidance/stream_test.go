package guidance

import (
	"bytes"
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// party is a simulated endpoint's RTP source: consecutive 20 ms packets
// whose payload is a constant code, so that its audio is recognisable.
type party struct {
	ssrc uint32
	pt   uint8
	seq  uint16
	ts   uint32
	code byte
}

func (p *party) next() *rtp.Packet {
	pkt := &rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: p.pt, SequenceNumber: p.seq, Timestamp: p.ts, SSRC: p.ssrc},
		Payload: bytes.Repeat([]byte{p.code}, SamplesPerPacket),
	}
	p.seq++
	p.ts += SamplesPerPacket
	return pkt
}

// direction is the relay's path toward one party: RelayRecord, then send,
// and record what RelayRecord says to record.
type direction struct {
	s        *Stream
	out      *capture
	recorded []*rtp.Packet
}

func newDirection(t *testing.T, codec Codec, ssrc uint32) *direction {
	t.Helper()
	d := &direction{out: &capture{}}
	s, err := NewStream(StreamConfig{Codec: codec, Writer: d.out, SSRC: ssrc})
	require.NoError(t, err)
	d.s = s
	return d
}

func (d *direction) forward(p *rtp.Packet) bool {
	relay, record := d.s.RelayRecord(p)
	if !relay {
		return false
	}
	d.out.add(p, "relayed")
	if record {
		d.recorded = append(d.recorded, p.Clone())
	}
	return true
}

// checkContinuity asserts that pkts form one RTP stream: one SSRC,
// sequence numbers +1 and timestamps +160 from packet to packet (modulo
// wrap-around), with the marker bit exactly where the source changes
// between relayed and injected audio.
func checkContinuity(t *testing.T, pkts []sentPacket, wantSSRC uint32) {
	t.Helper()
	require.NotEmpty(t, pkts)
	for i, sp := range pkts {
		if wantSSRC != 0 {
			require.Equal(t, wantSSRC, sp.pkt.SSRC, "packet %d SSRC", i)
		}
		require.Equal(t, pkts[0].pkt.SSRC, sp.pkt.SSRC, "packet %d SSRC", i)
		if i == 0 {
			continue
		}
		prev := pkts[i-1]
		require.Equal(t, prev.pkt.SequenceNumber+1, sp.pkt.SequenceNumber, "packet %d (%s after %s) sequence", i, sp.kind, prev.kind)
		require.Equal(t, prev.pkt.Timestamp+SamplesPerPacket, sp.pkt.Timestamp, "packet %d (%s after %s) timestamp", i, sp.kind, prev.kind)
		require.Equal(t, sp.kind != prev.kind, sp.pkt.Marker, "packet %d (%s after %s) marker", i, sp.kind, prev.kind)
	}
}

// TestContinuityAcrossGuidance relays early media, plays guidance to both
// parties while they keep talking, then relays again, for both codecs and
// with sequence numbers and timestamps wrapping at every stage. Each party
// must see one continuous stream, hear the prompt exactly (within G.711
// quantisation) and none of the other party's audio during guidance.
func TestContinuityAcrossGuidance(t *testing.T) {
	prompt, err := EmbeddedPrompt(2)
	require.NoError(t, err)
	n := prompt.Packets()
	const early, after = 5, 20
	tests := map[string]struct {
		codecCaller, codecCallee Codec
		seqCaller, seqCallee     uint16 // first sequence number of each party's source
		tsCaller, tsCallee       uint32
		talkDuringGuidance       bool // or silence-suppressed: no packets
		fixedSSRC                uint32
	}{
		"PCMU wrap during guidance": {PCMU, PCMU, 65530, 65500, 0xFFFFFF00, 0xFFFFF000, true, 0},
		"PCMA wrap during guidance": {PCMA, PCMA, 65530, 65500, 0xFFFFFF00, 0xFFFFF000, true, 0},
		"PCMU wrap after guidance": {PCMU, PCMU, uint16(65536 - early - n - 3), uint16(65536 - early - n - 7),
			uint32(0) - uint32(early+n+3)*160, 12345, true, 0},
		"PCMA source wraps after silent guidance": {PCMA, PCMA, 65536 - early - 3, 65536 - early - 1, 0xFFFFFFFF, 0, false, 0},
		"mixed codecs, fixed SSRC":                {PCMU, PCMA, 1000, 65535, 0, 0xFFFFFFFF, true, 0xB2B0A000},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				toCaller := newDirection(t, tc.codecCaller, tc.fixedSSRC)
				toCallee := newDirection(t, tc.codecCallee, tc.fixedSSRC)
				// The callee's source goes toward the caller and vice versa.
				callee := &party{ssrc: 0xCA11EE, pt: tc.codecCaller.PayloadType(), seq: tc.seqCaller, ts: tc.tsCaller, code: 0x5A}
				caller := &party{ssrc: 0xCA11E4, pt: tc.codecCallee.PayloadType(), seq: tc.seqCallee, ts: tc.tsCallee, code: 0x3C}

				for range early {
					require.True(t, toCaller.forward(callee.next()))
					require.True(t, toCallee.forward(caller.next()))
					time.Sleep(PacketDuration)
				}
				var during int
				toCaller.out.hook = func(*rtp.Packet) { // runs at each injected tick
					if tc.talkDuringGuidance {
						during++
						assert.False(t, toCaller.forward(callee.next()), "callee audio relayed during guidance")
						assert.False(t, toCallee.forward(caller.next()), "caller audio relayed during guidance")
					}
				}
				a, err := NewAnnouncer(Config{Prompts: map[int]*Prompt{2: prompt}})
				require.NoError(t, err)
				res, err := a.Play(context.Background(), 2, toCaller.s, toCallee.s)
				require.NoError(t, err)
				require.Equal(t, n, res.Packets)
				assert.Equal(t, time.Duration(n)*PacketDuration, res.Ended.Sub(res.Started))
				toCaller.out.hook = nil

				for range after {
					require.True(t, toCaller.forward(callee.next()))
					require.True(t, toCallee.forward(caller.next()))
					time.Sleep(PacketDuration)
				}
				for _, d := range []*direction{toCaller, toCallee} {
					pkts := d.out.packets()
					require.Len(t, pkts, early+n+after)
					checkContinuity(t, pkts, tc.fixedSSRC)
					if tc.fixedSSRC == 0 {
						assert.NotEqual(t, uint32(0), pkts[0].pkt.SSRC)
					}
					injected := pkts[early : early+n]
					for _, sp := range injected {
						require.Equal(t, "injected", sp.kind)
					}
					got := decodePayloads(d.s.Codec(), injected)
					for i, w := range prompt.samples {
						if diff := int(got[i]) - int(w); max(diff, -diff) > g711Tolerance(w) {
							t.Fatalf("sample %d: got %d want %d", i, got[i], w)
						}
					}
					require.Len(t, d.recorded, after, "recorded: the packets after the guidance")
					assert.Equal(t, pkts[early+n].pkt.SequenceNumber, d.recorded[0].SequenceNumber)
					stats := d.s.Stats()
					assert.Equal(t, uint64(n), stats.Injected)
					assert.Equal(t, uint64(early+after), stats.Relayed)
					assert.Equal(t, uint64(during), stats.Dropped)
				}
			})
		})
	}
}

// TestRelayBeforeAnything checks that a stream is transparent until it
// has to splice: no offset, the source's own SSRC.
func TestRelayBeforeAnything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDirection(t, PCMU, 0)
		src := &party{ssrc: 77, seq: 100, ts: 1000, code: 1}
		for range 3 {
			p := src.next()
			want := p.Header
			require.True(t, d.forward(p))
			assert.Equal(t, want, p.Header)
		}
	})
}

// TestRelaySourceChange splices a new source SSRC (e.g. the far end
// restarted its stream) without a jump.
func TestRelaySourceChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDirection(t, PCMA, 0)
		a := &party{ssrc: 1, pt: 8, seq: 65534, ts: 0xFFFFFFF0, code: 1}
		b := &party{ssrc: 2, pt: 8, seq: 7, ts: 99, code: 2}
		for range 4 {
			require.True(t, d.forward(a.next()))
			time.Sleep(PacketDuration)
		}
		for range 4 {
			require.True(t, d.forward(b.next()))
			time.Sleep(PacketDuration)
		}
		pkts := d.out.packets()
		// The marker sits on the first packet of the new source.
		for i := range pkts {
			pkts[i].kind = map[bool]string{true: "a", false: "b"}[i < 4]
		}
		checkContinuity(t, pkts, 1)
	})
}

// TestRelayGapAdvancesTimestamp: after a silent period the timestamp
// advances by the elapsed time, as RTP requires, not by one packet.
func TestRelayGapAdvancesTimestamp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDirection(t, PCMU, 0)
		a := &party{ssrc: 1, seq: 10, ts: 500, code: 1}
		b := &party{ssrc: 2, seq: 900, ts: 4, code: 2}
		require.True(t, d.forward(a.next()))
		time.Sleep(time.Second)
		p := b.next()
		require.True(t, d.forward(p))
		assert.Equal(t, uint16(11), p.SequenceNumber)
		assert.Equal(t, uint32(500+8000), p.Timestamp)
	})
}

// TestRelayStaleAfterSplice drops a late packet from before the splice,
// whose rewritten sequence number would collide with the guidance, while
// reordering after the first packet of the splice is relayed.
func TestRelayStaleAfterSplice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDirection(t, PCMU, 0)
		a, err := NewAnnouncer(Config{Mode: ModeCalleeOnly, Prompts: map[int]*Prompt{1: tonePrompt(t, 440, 1000, 100*time.Millisecond)}})
		require.NoError(t, err)
		other := newDirection(t, PCMU, 0)
		src := &party{ssrc: 5, seq: 100, ts: 0, code: 1}
		require.True(t, d.forward(src.next()))
		late := src.next() // delayed in the network
		_, err = a.Play(context.Background(), 1, d.s, other.s)
		require.NoError(t, err)
		p1, p2, p3 := src.next(), src.next(), src.next()
		require.True(t, d.forward(p1)) // anchors the splice
		require.True(t, d.forward(p3)) // reordered: p3 before p2
		require.True(t, d.forward(p2))
		assert.Equal(t, p1.SequenceNumber+1, p2.SequenceNumber)
		assert.Equal(t, p2.SequenceNumber+1, p3.SequenceNumber)
		assert.False(t, d.forward(late), "packet older than the splice")
		assert.Equal(t, uint64(1), d.s.Stats().Stale)
	})
}

func TestNewStreamErrors(t *testing.T) {
	w := WriterFunc(func(*rtp.Packet) error { return nil })
	tests := map[string]StreamConfig{
		"no writer":     {},
		"unknown codec": {Writer: w, Codec: 9},
		"bad PT":        {Writer: w, PayloadType: 200},
	}
	for name, cfg := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := NewStream(cfg)
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), "StreamConfig.")
		})
	}
}

func TestRelayAllocatesNothing(t *testing.T) {
	tone, err := newBeepTone(Beep{Interval: time.Second})
	require.NoError(t, err)
	s, err := NewStream(StreamConfig{Writer: WriterFunc(func(*rtp.Packet) error { return nil })})
	require.NoError(t, err)
	s.pass(tone)
	src := &party{ssrc: 1, code: 0xFF}
	p := src.next()
	allocs := testing.AllocsPerRun(1000, func() {
		p.SequenceNumber, p.Timestamp, p.SSRC = src.seq, src.ts, src.ssrc
		src.seq++
		src.ts += SamplesPerPacket
		s.Relay(p)
	})
	assert.Zero(t, allocs)
}

// BenchmarkRelay measures the per-packet cost of the continuity rewrite,
// with and without beep mixing.
func BenchmarkRelay(b *testing.B) {
	tone, err := newBeepTone(Beep{Interval: 200*time.Millisecond + PacketDuration, Length: 200 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	for name, beep := range map[string]*beepTone{"rewrite": nil, "rewrite+beep": tone} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			s, err := NewStream(StreamConfig{Writer: WriterFunc(func(*rtp.Packet) error { return nil }), SSRC: 9})
			if err != nil {
				b.Fatal(err)
			}
			s.pass(beep)
			src := &party{ssrc: 1, code: 0xFF}
			p := src.next()
			for b.Loop() {
				p.SequenceNumber, p.Timestamp, p.SSRC = src.seq, src.ts, src.ssrc
				src.seq++
				src.ts += SamplesPerPacket
				if !s.Relay(p) {
					b.Fatal("dropped")
				}
			}
		})
	}
}

// FuzzRelay drives a stream with arbitrary arrivals (sequence jumps,
// reordering, SSRC changes, guidance splices) and asserts the invariants
// the receiving endpoint relies on: one SSRC throughout, and no output
// sequence number used twice unless the input repeated one.
func FuzzRelay(f *testing.F) {
	f.Add([]byte{1, 1, 1, 0x81, 1, 1, 0xF0, 1, 1, 0x42, 3})
	f.Add([]byte{0x80, 0x80, 1, 2, 0xFF, 0xFE, 0x81})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 2000 {
			ops = ops[:2000]
		}
		synctest.Test(t, func(t *testing.T) {
			d := newDirection(t, PCMU, 0)
			a, err := NewAnnouncer(Config{Mode: ModeCallerOnly, Carrier: "FuzzTel", Prompts: map[int]*Prompt{1: {samples: make([]int16, 3*SamplesPerPacket)}}})
			if err != nil {
				t.Fatal(err)
			}
			src := &party{ssrc: 1, seq: 65000, ts: 0xFFFF0000}
			type key struct {
				ssrc uint32
				seq  uint16
			}
			seen := map[key]bool{} // input packets relayed so far
			used := map[uint16]bool{}
			for _, op := range ops {
				switch {
				case op == 0x80: // guidance splice
					if _, err := a.Play(context.Background(), 1, d.s, nil); err != nil {
						t.Fatal(err)
					}
					for _, sp := range d.out.packets() {
						if sp.kind == "injected" {
							used[sp.pkt.SequenceNumber] = true
						}
					}
					continue
				case op == 0x81: // new source
					src.ssrc++
					src.seq += 3000
				case op >= 0xF0: // reorder: step back
					src.seq -= uint16(op & 0x0F)
				default: // forward jump (0 = duplicate)
					src.seq += uint16(op & 0x0F)
				}
				src.ts = uint32(src.seq) * SamplesPerPacket
				p := src.next()
				in := key{p.SSRC, p.SequenceNumber}
				time.Sleep(PacketDuration)
				if !d.forward(p) {
					continue
				}
				if used[p.SequenceNumber] && !seen[in] {
					t.Fatalf("output sequence %d reused", p.SequenceNumber)
				}
				seen[in] = true
				used[p.SequenceNumber] = true
			}
			pkts := d.out.packets()
			for _, sp := range pkts {
				if sp.pkt.SSRC != pkts[0].pkt.SSRC {
					t.Fatalf("SSRC changed from %d to %d", pkts[0].pkt.SSRC, sp.pkt.SSRC)
				}
			}
		})
	})
}
