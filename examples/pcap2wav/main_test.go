package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/internal/testenv"
	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/recorder/recordertest"
)

var t0 = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

var update = flag.Bool("update", false, "rewrite testdata/pcap/sip-call.pcap")

// fixture is the generated SIP call kept in the repository, for trying
// pcap2wav without generating anything.
const fixture = "../../testdata/pcap/sip-call.pcap"

// capture builds a packet capture of UDP datagrams over Ethernet and IPv4.
type capture struct {
	t       *testing.T
	packets []capturedPacket
}

type capturedPacket struct {
	ci   gopacket.CaptureInfo
	data []byte
}

func (c *capture) udp(at time.Duration, src, dst string, payload []byte) {
	c.t.Helper()
	s, err := net.ResolveUDPAddr("udp4", src)
	require.NoError(c.t, err)
	d, err := net.ResolveUDPAddr("udp4", dst)
	require.NoError(c.t, err)
	eth := &layers.Ethernet{
		SrcMAC:       net.HardwareAddr{2, 0, 0, 0, 0, 1},
		DstMAC:       net.HardwareAddr{2, 0, 0, 0, 0, 2},
		EthernetType: layers.EthernetTypeIPv4,
	}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: s.IP.To4(), DstIP: d.IP.To4()}
	udp := &layers.UDP{SrcPort: layers.UDPPort(s.Port), DstPort: layers.UDPPort(d.Port)}
	require.NoError(c.t, udp.SetNetworkLayerForChecksum(ip))
	buf := gopacket.NewSerializeBuffer()
	require.NoError(c.t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, udp, gopacket.Payload(payload)))
	data := bytes.Clone(buf.Bytes())
	c.packets = append(c.packets, capturedPacket{
		ci:   gopacket.CaptureInfo{Timestamp: t0.Add(at), CaptureLength: len(data), Length: len(data)},
		data: data,
	})
}

// udpFragments adds a UDP datagram split into IPv4 fragments of size
// bytes (a multiple of 8).
func (c *capture) udpFragments(at time.Duration, src, dst string, payload []byte, size int) {
	c.t.Helper()
	s, err := net.ResolveUDPAddr("udp4", src)
	require.NoError(c.t, err)
	d, err := net.ResolveUDPAddr("udp4", dst)
	require.NoError(c.t, err)
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: s.IP.To4(), DstIP: d.IP.To4(), Id: 4242}
	udp := &layers.UDP{SrcPort: layers.UDPPort(s.Port), DstPort: layers.UDPPort(d.Port)}
	require.NoError(c.t, udp.SetNetworkLayerForChecksum(ip))
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	require.NoError(c.t, gopacket.SerializeLayers(buf, opts, udp, gopacket.Payload(payload)))
	datagram := bytes.Clone(buf.Bytes())
	eth := &layers.Ethernet{
		SrcMAC:       net.HardwareAddr{2, 0, 0, 0, 0, 1},
		DstMAC:       net.HardwareAddr{2, 0, 0, 0, 0, 2},
		EthernetType: layers.EthernetTypeIPv4,
	}
	for off := 0; off < len(datagram); off += size {
		frag := *ip
		frag.FragOffset = uint16(off / 8)
		if off+size < len(datagram) {
			frag.Flags = layers.IPv4MoreFragments
		}
		require.NoError(c.t, gopacket.SerializeLayers(buf, opts, eth, &frag, gopacket.Payload(datagram[off:min(off+size, len(datagram))])))
		data := bytes.Clone(buf.Bytes())
		c.packets = append(c.packets, capturedPacket{
			ci:   gopacket.CaptureInfo{Timestamp: t0.Add(at), CaptureLength: len(data), Length: len(data)},
			data: data,
		})
	}
}

// write saves the capture as pcap, or pcapng when ng is set.
func (c *capture) write(path string, ng bool) {
	c.t.Helper()
	f, err := os.Create(path)
	require.NoError(c.t, err)
	defer func() { require.NoError(c.t, f.Close()) }()
	if ng {
		w, err := pcapgo.NewNgWriter(f, layers.LinkTypeEthernet)
		require.NoError(c.t, err)
		for _, p := range c.packets {
			require.NoError(c.t, w.WritePacket(p.ci, p.data))
		}
		require.NoError(c.t, w.Flush())
		return
	}
	w := pcapgo.NewWriter(f)
	require.NoError(c.t, w.WriteFileHeader(65536, layers.LinkTypeEthernet))
	for _, p := range c.packets {
		require.NoError(c.t, w.WritePacket(p.ci, p.data))
	}
}

const (
	callerSIP   = "10.0.0.1:5060"
	calleeSIP   = "10.0.0.2:5060"
	callerMedia = "10.0.0.1:40000"
	calleeMedia = "10.0.0.2:50000"
	callID      = "a84b4c76e66710@pc33.example.com"
)

func sdpBody(ip string, port int) string {
	return fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 %[1]s\r\ns=-\r\nc=IN IP4 %[1]s\r\nt=0 0\r\n"+
		"m=audio %[2]d RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n", ip, port)
}

func sipMsg(first, cseq, body string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds\r\nFrom: <sip:alice@example.com>;tag=1928301774\r\n"+
		"To: <sip:bob@example.com>\r\nCall-ID: %s\r\nCSeq: %s\r\n", first, callID, cseq)
	if body != "" {
		fmt.Fprintf(&b, "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	} else {
		b.WriteString("Content-Length: 0\r\n\r\n")
	}
	return []byte(b.String())
}

// rtpTone returns 20 ms packet i of a PCMU tone.
func rtpTone(t *testing.T, freq float64, ssrc uint32, i int) []byte {
	t.Helper()
	g := recordertest.NewTone(freq, ssrc)
	for range i {
		g.Skip()
	}
	g.Seq, g.TS = uint16(100+i), uint32(5000+160*i)
	raw, err := g.Next().Marshal()
	require.NoError(t, err)
	return raw
}

// callShape chooses what sipCall puts in the capture.
type callShape struct {
	sip            bool // the SIP dialog, or RTP only
	fragmentInvite bool // the INVITE in IPv4 fragments of 128 bytes
}

// sipCall builds a capture of a 2 s call set up with SIP: 440 Hz from the
// caller, 1 kHz from the callee starting 0.5 s later, the caller pressing 7
// at 1 s, a DNS datagram and RTCP as noise, and a BYE.
func sipCall(t *testing.T, shape callShape) *capture {
	c := &capture{t: t}
	withSIP := shape.sip
	if withSIP {
		invite := sipMsg("INVITE sip:bob@example.com SIP/2.0", "1 INVITE", sdpBody("10.0.0.1", 40000))
		if shape.fragmentInvite {
			c.udpFragments(0, callerSIP, calleeSIP, invite, 128)
		} else {
			c.udp(0, callerSIP, calleeSIP, invite)
		}
		c.udp(10*time.Millisecond, calleeSIP, callerSIP, sipMsg("SIP/2.0 100 Trying", "1 INVITE", ""))
		c.udp(90*time.Millisecond, calleeSIP, callerSIP, sipMsg("SIP/2.0 200 OK", "1 INVITE", sdpBody("10.0.0.2", 50000)))
		c.udp(95*time.Millisecond, callerSIP, calleeSIP, sipMsg("ACK sip:bob@example.com SIP/2.0", "1 ACK", ""))
	}
	c.udp(97*time.Millisecond, "10.0.0.1:33333", "10.0.0.53:53", []byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"))
	start := 100 * time.Millisecond
	for i := range 100 {
		at := start + time.Duration(i)*20*time.Millisecond
		if i >= 50 && i < 53 { // key 7 for 60 ms
			p := rtp.Packet{
				Header:  rtp.Header{Version: 2, PayloadType: 101, Marker: i == 50, SequenceNumber: uint16(100 + i), Timestamp: 5000 + 160*50, SSRC: 0x1111},
				Payload: []byte{7, 10, 0, byte(160 * (i - 49))},
			}
			if i == 52 {
				p.Payload[1] |= 0x80
			}
			raw, err := p.Marshal()
			require.NoError(t, err)
			c.udp(at, callerMedia, calleeMedia, raw)
		} else {
			c.udp(at, callerMedia, calleeMedia, rtpTone(t, 440, 0x1111, i))
		}
		if i >= 25 {
			c.udp(at+3*time.Millisecond, calleeMedia, callerMedia, rtpTone(t, 1000, 0x2222, i-25))
		}
		if i%50 == 0 { // RTCP receiver report on the odd port: ignored
			c.udp(at, "10.0.0.1:40001", "10.0.0.2:50001", []byte{0x81, 201, 0, 7, 0, 0, 0x11, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
		}
	}
	if withSIP {
		c.udp(start+2500*time.Millisecond, callerSIP, calleeSIP, sipMsg("BYE sip:bob@example.com SIP/2.0", "2 BYE", ""))
	}
	return c
}

func decodeFile(t *testing.T, path string) recordertest.Audio {
	t.Helper()
	a, err := recordertest.ReadFile(path)
	require.NoError(t, err)
	return a
}

// power returns the power of f in channel ch between from and to seconds.
func power(a recordertest.Audio, ch int, from, to, f float64) float64 {
	return recordertest.Power(a.Segment(ch, seconds(from), seconds(to)), f, a.SampleRate)
}

// rms returns the level of channel ch between from and to seconds.
func rms(a recordertest.Audio, ch int, from, to float64) float64 {
	return recordertest.RMS(a.Segment(ch, seconds(from), seconds(to)))
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func TestConvertGeneratedCapture(t *testing.T) {
	tests := map[string]struct {
		sip      bool
		fragment bool
		ng       bool
		file     string
		record   time.Duration
	}{
		// From the first RTP packet to the BYE 2.5 s later.
		"pcap with SIP":     {sip: true, file: fileName(callID) + ".wav", record: 2500 * time.Millisecond},
		"pcapng with SIP":   {sip: true, ng: true, file: fileName(callID) + ".wav", record: 2500 * time.Millisecond},
		"fragmented INVITE": {sip: true, fragment: true, file: fileName(callID) + ".wav", record: 2500 * time.Millisecond},
		// From the first RTP packet to the end of the callee's last one.
		"pcap without SIP": {file: "call-rtp-10.0.0.1_40000-10.0.0.2_50000.wav", record: 2003 * time.Millisecond},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "call.pcap")
			sipCall(t, callShape{sip: tt.sip, fragmentInvite: tt.fragment}).write(path, tt.ng)
			out := filepath.Join(dir, "out")
			require.NoError(t, os.Mkdir(out, 0o755))
			var stdout bytes.Buffer
			require.NoError(t, run(context.Background(), []string{"-stereo", "-o", out, path}, &stdout))

			entries, err := os.ReadDir(out)
			require.NoError(t, err)
			require.Len(t, entries, 1, "one file per call: %s", stdout.String())
			require.Equal(t, tt.file, entries[0].Name())
			assert.Contains(t, stdout.String(), "DTMF 7")
			assert.Contains(t, stdout.String(), "caller 100 packets (0 lost, 0 late, 0 skipped), callee 75 packets")

			a := decodeFile(t, filepath.Join(out, tt.file))
			require.Len(t, a.Channels, 2)
			assert.InDelta(t, tt.record.Seconds(), a.Duration().Seconds(), 0.0002)
			for _, span := range [][2]float64{{0, 0.9}, {1.1, 1.95}} {
				assert.Greater(t, power(a, 0, span[0], span[1], 440), 100*power(a, 0, span[0], span[1], 1000), "caller at %v", span)
			}
			assert.Less(t, rms(a, 0, 1.005, 1.055), 1.0, "the key press is not audio")
			assert.Less(t, rms(a, 1, 0, 0.49), 1.0, "the callee starts 0.5 s late")
			assert.Greater(t, power(a, 1, 0.5, 1.95, 1000), 100*power(a, 1, 0.5, 1.95, 440))
			if tt.sip {
				assert.Less(t, rms(a, 0, 2.01, 2.5), 1.0, "silence until the BYE")
			}
		})
	}
}

func TestConvertMono(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "call.pcap")
	sipCall(t, callShape{sip: true}).write(path, false)
	var stdout bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-o", dir, path}, &stdout))
	a := decodeFile(t, filepath.Join(dir, fileName(callID)+".wav"))
	require.Len(t, a.Channels, 1)
	assert.Greater(t, power(a, 0, 0.5, 0.9, 440), 1e4)
	assert.Greater(t, power(a, 0, 0.5, 0.9, 1000), 1e4)
	assert.Contains(t, stdout.String(), ": mono 2.5s")
}

// sipTesterPcap returns the path of a capture shipped with Debian's
// sip-tester package, failing when the package is installed without it.
func sipTesterPcap(t *testing.T, name string) string {
	t.Helper()
	testenv.LookPath(t, "sipp", "sip-tester")
	for _, dir := range []string{"/usr/share/sip-tester/pcap", "/usr/share/sip-tester"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	t.Fatalf("sip-tester is installed but ships no %s", name)
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func TestConvertSIPTesterG711A(t *testing.T) {
	path := sipTesterPcap(t, "g711a.pcap")
	out := t.TempDir()
	calls, err := convert(context.Background(), path, options{mode: recorder.Stereo, outDir: out, dtmfPT: 101, minPkts: 2})
	require.NoError(t, err)
	require.Len(t, calls, 1)
	res := calls[0].result
	assert.EqualValues(t, 236, res.Caller.Decoded, "236 PCMA packets of 30 ms")
	assert.Zero(t, res.Caller.Lost+res.Caller.Late+res.Callee.Received)
	// The last packet arrives 7.0496 s after the first and lasts 30 ms.
	assert.InDelta(t, 7.08, res.Duration.Seconds(), 0.002)

	a := decodeFile(t, res.Path)
	assert.Greater(t, rms(a, 0, 0, 7), 100.0, "the caller's speech is there")
	assert.Less(t, rms(a, 1, 0, 7), 1.0, "the callee sent nothing")
}

func TestConvertSIPTesterDTMF(t *testing.T) {
	for _, key := range []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "star", "pound"} {
		t.Run(key, func(t *testing.T) {
			path := sipTesterPcap(t, "dtmf_2833_"+key+".pcap")
			var stdout bytes.Buffer
			require.NoError(t, run(context.Background(), []string{"-o", t.TempDir(), path}, &stdout))
			digit := map[string]string{"star": "*", "pound": "#"}[key]
			if digit == "" {
				digit = key
			}
			assert.Contains(t, stdout.String(), "DTMF "+digit+"\n")
			assert.Contains(t, stdout.String(), "caller 10 packets")
		})
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pcap")
	require.NoError(t, os.WriteFile(junk, []byte("this is not a capture"), 0o600))
	empty := filepath.Join(dir, "empty.pcap")
	(&capture{t: t}).write(empty, false)
	tests := map[string]struct {
		args    []string
		wantErr string
		stdout  string
	}{
		"no file":        {args: nil, wantErr: "no capture file"},
		"bad flag":       {args: []string{"-nope"}, wantErr: "flag provided but not defined"},
		"static dtmf pt": {args: []string{"-dtmf-pt", "8", empty}, wantErr: "dynamic payload type"},
		"missing file":   {args: []string{filepath.Join(dir, "none.pcap")}, wantErr: "no such file"},
		"not a capture":  {args: []string{junk}, wantErr: "junk.pcap"},
		"no stream":      {args: []string{empty}, stdout: "no RTP stream found"},
		"out is a file":  {args: []string{"-o", junk, sipTesterPcapOrSkip(t)}, wantErr: "-o"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var stdout bytes.Buffer
			err := run(context.Background(), tt.args, &stdout)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Contains(t, stdout.String(), tt.stdout)
		})
	}
}

// sipTesterPcapOrSkip writes a small generated capture, so that the
// output-directory cases do not depend on sip-tester.
func sipTesterPcapOrSkip(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "call.pcap")
	sipCall(t, callShape{sip: true}).write(path, false)
	return path
}

// TestRunCreatesOutDir runs the command line, -stereo -o out/,
// where out/ does not exist yet.
func TestRunCreatesOutDir(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out", "calls") + string(filepath.Separator)
	var stdout bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-stereo", "-o", out, sipTesterPcapOrSkip(t)}, &stdout))
	a := decodeFile(t, filepath.Join(out, fileName(callID)+".wav"))
	assert.Len(t, a.Channels, 2)
	assert.Contains(t, stdout.String(), "stereo 2.5s")
}

func TestRunCancelled(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "call.pcap")
	sipCall(t, callShape{sip: true}).write(path, false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := run(ctx, []string{"-o", dir, path}, io.Discard)
	require.ErrorIs(t, err, context.Canceled)
}

func TestParseSIP(t *testing.T) {
	m, ok := parseSIP(sipMsg("SIP/2.0 200 OK", "1 INVITE", sdpBody("10.0.0.2", 50000)))
	require.True(t, ok)
	assert.Equal(t, 200, m.status)
	assert.Equal(t, "INVITE", m.method)
	assert.Equal(t, callID, m.callID)
	require.NotNil(t, m.sdp)
	ep, ok := audioEndpoint(m.sdp)
	require.True(t, ok)
	assert.Equal(t, "10.0.0.2:50000", ep.String())

	for _, junk := range []string{"", "hello", "SIP/2.0 abc OK\r\n\r\n", "INVITE sip:x SIP/2.0\r\nVia: x\r\n\r\n"} {
		_, ok := parseSIP([]byte(junk))
		assert.False(t, ok, "%q", junk)
	}
}

// TestFixtureIsCurrent checks that the committed capture is what sipCall
// generates; go test -run Fixture -update rewrites it.
func TestFixtureIsCurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sip-call.pcap")
	sipCall(t, callShape{sip: true}).write(path, false)
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	if *update {
		require.NoError(t, os.WriteFile(fixture, want, 0o644))
	}
	got, err := os.ReadFile(fixture)
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, got), "%s is stale: go test ./examples/pcap2wav -run Fixture -update", fixture)

	var stdout bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-stereo", "-o", t.TempDir(), fixture}, &stdout))
	assert.Contains(t, stdout.String(), "stereo 2.5s, caller 100 packets (0 lost, 0 late, 0 skipped), callee 75 packets (0 lost, 0 late, 0 skipped), DTMF 7\n")
}
