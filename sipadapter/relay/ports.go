package relay

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
)

// ports hands out even RTP ports (RTCP on the odd port above) from a range,
// skipping ports this process already holds and ports another process has
// bound. Only the bookkeeping is under the mutex; sockets are bound outside
// it.
type ports struct {
	addr     netip.Addr
	min, max int // even, inclusive

	mu     sync.Mutex
	inUse  []bool // indexed by (port-min)/2
	next   int    // next index to try (round robin, so a released port rests)
	nInUse int
}

// newPorts starts the round robin at a random pair of the range, not at
// min: a restarted process would otherwise hand the ports of the calls its
// predecessor just orphaned, whose parties still send to them, to its first
// new calls, mixing their media into the new recordings.
func newPorts(addr netip.Addr, min, max int) *ports {
	n := (max-min)/2 + 1
	return &ports{addr: addr, min: min, max: max, inUse: make([]bool, n), next: rand.IntN(n)}
}

// pair is an RTP socket on an even port and its RTCP socket on port+1.
type pair struct {
	rtp, rtcp *net.UDPConn
	port      int
}

// allocate binds a free pair. It tries every index of the range at most once.
func (p *ports) allocate() (pair, error) {
	for tries := 0; tries < len(p.inUse); tries++ {
		idx, ok := p.reserve()
		if !ok {
			break
		}
		port := p.min + 2*idx
		pr, err := p.bind(port)
		if err == nil {
			return pr, nil
		}
		p.release(port) // bound by someone else: try the next one
	}
	return pair{}, fmt.Errorf("%w: %s ports %d-%d", ErrPortsExhausted, p.addr, p.min, p.max+1)
}

func (p *ports) reserve() (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 0; i < len(p.inUse); i++ {
		idx := (p.next + i) % len(p.inUse)
		if !p.inUse[idx] {
			p.inUse[idx] = true
			p.nInUse++
			p.next = (idx + 1) % len(p.inUse)
			return idx, true
		}
	}
	return 0, false
}

func (p *ports) bind(port int) (pair, error) {
	rtp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.addr, uint16(port))))
	if err != nil {
		return pair{}, err
	}
	rtcp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.addr, uint16(port+1))))
	if err != nil {
		_ = rtp.Close()
		return pair{}, err
	}
	return pair{rtp: rtp, rtcp: rtcp, port: port}, nil
}

func (p *ports) release(port int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	idx := (port - p.min) / 2
	if p.inUse[idx] {
		p.inUse[idx] = false
		p.nInUse--
	}
}

func (p *ports) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.nInUse
}
