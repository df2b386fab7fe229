package relay

import (
	"fmt"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"github.com/pion/rtp"
	"golang.org/x/sys/unix"
)

// reactor is one goroutine relaying the media of its share of an Anchor's
// sessions. It owns an epoll instance on which the four non-blocking UDP
// sockets of each of its sessions are registered, level-triggered, and
// handles one datagram per ready socket per round, inline: the source
// check, latching, the taps and filters, RTCP rewriting and the send all
// run on this goroutine, in the buffers it owns. A few reactors serve
// every call, instead of four blocked reader goroutines per call, each
// woken by the runtime for every packet: that saves their stacks and read
// buffers and the scheduler's work per packet.
//
// The reactor never blocks in epoll_wait(2) itself: a goroutine blocked in
// a system call keeps its P until the runtime's monitor takes it back, up
// to 10 ms later, which starves the other goroutines on a small machine.
// Instead the epoll descriptor is itself handed to the runtime's poller (an
// epoll fd is readable while it has events): the goroutine parks there,
// like any socket reader, and drains events with a zero timeout when woken.
// Closing that descriptor is also how the reactor is stopped.
//
// All sockets of a session are on one reactor, so a session's taps and
// filters are called from one goroutine, as with one reader per socket.
type reactor struct {
	a        *Anchor
	epfd     int
	file     *os.File // epfd, in the runtime's poller
	rc       syscall.RawConn
	done     chan struct{}
	sessions int // under Anchor.rmu: how many sessions are registered here

	events [128]unix.EpollEvent
	rsa    unix.RawSockaddrAny // source of the datagram just read
	sa     unix.RawSockaddrInet6
	in     []byte // the datagram read, rewritten in place when it can be
	out    []byte // made on first use: a rewritten packet whose header grew
	orig   []byte // the payload as sent, for a gated tap; grows to the largest seen
	pkt    rtp.Packet
	sent   rtp.Packet
}

func newReactor(a *Anchor) (*reactor, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("relay: epoll_create1: %w", err)
	}
	// Non-blocking, so that os.NewFile registers it with the poller.
	if err := unix.SetNonblock(epfd, true); err != nil {
		_ = unix.Close(epfd)
		return nil, fmt.Errorf("relay: epoll fd non-blocking: %w", err)
	}
	file := os.NewFile(uintptr(epfd), "relay-epoll")
	rc, err := file.SyscallConn()
	if err != nil {
		_ = file.Close()
		return nil, fmt.Errorf("relay: epoll fd: %w", err)
	}
	return &reactor{a: a, epfd: epfd, file: file, rc: rc, done: make(chan struct{}), in: make([]byte, maxPacket)}, nil
}

// add registers sk; its events carry its slot and generation, so that an
// event still pending for a socket closed meanwhile is recognised as stale.
func (r *reactor) add(sk *sock) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(sk.slot), Pad: int32(sk.gen)}
	if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, sk.fd, &ev); err != nil {
		return fmt.Errorf("relay: epoll_ctl add: %w", err)
	}
	return nil
}

func (r *reactor) remove(sk *sock) {
	_ = unix.EpollCtl(r.epfd, unix.EPOLL_CTL_DEL, sk.fd, nil)
}

// stop closes the epoll descriptor, which wakes the parked goroutine with
// an error (the close itself completes once a running round returns), and
// waits for it. The Anchor calls it once no session is left.
func (r *reactor) stop() {
	_ = r.file.Close()
	<-r.done
}

func (r *reactor) run() {
	defer close(r.done)
	// Read returns only once the file is closed: poll never reports done.
	_ = r.rc.Read(r.poll)
}

// poll serves the ready sockets until none is left, then returns false to
// park until the runtime's poller sees the epoll descriptor readable again.
// The sockets are level-triggered and one datagram is read per socket per
// round, so a socket with more queued is served again in the next round.
func (r *reactor) poll(uintptr) bool {
	for {
		n, err := unix.EpollWait(r.epfd, r.events[:], 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			return false
		}
		for i := range n {
			ev := &r.events[i]
			sk := r.a.slots[ev.Fd].Load()
			if sk == nil || sk.gen != uint32(ev.Pad) {
				continue // closed since the wait returned
			}
			r.serve(sk)
		}
	}
}

// serve reads one datagram from sk and relays it. The session's fdGuard
// keeps Close from closing the descriptor (which the kernel could hand to
// another socket) while it is used.
func (r *reactor) serve(sk *sock) {
	s := sk.l.s
	if !s.fds.acquire() {
		return // closing
	}
	defer s.fds.release()
	n, src, ok := r.recv(sk.fd)
	if !ok {
		return
	}
	if sk.rtcp {
		sk.l.relayRTCP(r, n, src)
	} else {
		sk.l.relayRTP(r, n, src)
	}
}

// recv reads one datagram into r.in with recvfrom(2), into the reactor's
// own address buffer: x/sys/unix's Recvfrom allocates a Sockaddr per call.
// Errors (EAGAIN after a spurious wake-up, a pending ICMP error) are
// dropped; the level-triggered epoll reports the socket again if more is
// queued.
func (r *reactor) recv(fd int) (int, netip.AddrPort, bool) {
	alen := uint32(unix.SizeofSockaddrAny)
	n, _, errno := unix.Syscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&r.in[0])), uintptr(len(r.in)),
		0, uintptr(unsafe.Pointer(&r.rsa)), uintptr(unsafe.Pointer(&alen)))
	if errno != 0 {
		return 0, netip.AddrPort{}, false
	}
	switch r.rsa.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&r.rsa))
		return int(n), netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), netPort(&sa.Port)), true
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&r.rsa))
		return int(n), netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), netPort(&sa.Port)), true
	}
	return 0, netip.AddrPort{}, false
}

// netPort reads a port stored in network byte order.
func netPort(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}

func putNetPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

// sock is one UDP socket of a session, as the reactor finds it from an
// event: slot indexes Anchor.slots (its port - PortMin), gen tells it from
// an earlier socket on the same port.
type sock struct {
	fd     int
	family int // unix.AF_INET or unix.AF_INET6
	slot   int
	gen    uint32
	l      *leg
	rtcp   bool
}

// openUDP binds a non-blocking UDP socket on addr:port. An IPv6 wildcard
// socket also receives IPv4 (dual stack), as net.ListenUDP's does.
func openUDP(addr netip.Addr, port int) (*sock, error) {
	addr = addr.Unmap()
	family := unix.AF_INET
	if addr.Is6() {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("relay: socket: %w", err)
	}
	var sa unix.Sockaddr
	if family == unix.AF_INET {
		sa = &unix.SockaddrInet4{Port: port, Addr: addr.As4()}
	} else {
		v6only := 1
		if addr.IsUnspecified() {
			v6only = 0
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only); err != nil {
			_ = unix.Close(fd)
			return nil, fmt.Errorf("relay: IPV6_V6ONLY: %w", err)
		}
		sa = &unix.SockaddrInet6{Port: port, Addr: addr.As16()}
	}
	if err := unix.Bind(fd, sa); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("relay: bind %s: %w", netip.AddrPortFrom(addr, uint16(port)), err)
	}
	return &sock{fd: fd, family: family}, nil
}

func (sk *sock) close() error { return unix.Close(sk.fd) }

// sendto sends b to to from sk with sendto(2), building the address in sa
// (the reactor's, or the caller's stack) rather than through x/sys/unix's
// Sockaddr, so that a send allocates nothing. The socket is non-blocking:
// a full send buffer drops the datagram (EAGAIN), as a router does, rather
// than stalling every session of the reactor.
func (sk *sock) sendto(b []byte, to netip.AddrPort, sa *unix.RawSockaddrInet6) error {
	addr := to.Addr()
	var alen uintptr
	if sk.family == unix.AF_INET {
		addr = addr.Unmap()
		if !addr.Is4() {
			return unix.EAFNOSUPPORT
		}
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: addr.As4()}
		putNetPort(&sa4.Port, to.Port())
		alen = unix.SizeofSockaddrInet4
	} else {
		*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: addr.As16()}
		putNetPort(&sa.Port, to.Port())
		alen = unix.SizeofSockaddrInet6
	}
	_, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(sk.fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)),
		0, uintptr(unsafe.Pointer(sa)), alen)
	if errno != 0 {
		return errno
	}
	return nil
}

// waitWritable waits up to ms milliseconds for sk's send buffer to have
// room, for a Writer whose send found it full.
func (sk *sock) waitWritable(ms int) {
	fds := []unix.PollFd{{Fd: int32(sk.fd), Events: unix.POLLOUT}}
	_, _ = unix.Poll(fds, ms)
}

// isAgain reports whether err is a full send buffer.
func isAgain(err error) bool { return err == unix.EAGAIN }
