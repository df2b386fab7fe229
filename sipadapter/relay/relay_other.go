//go:build !linux

package relay

// The relay serves its sockets from epoll reactors (reactor_linux.go), so
// the package builds on Linux only; see the package documentation.
var _ = relayRequiresLinuxEpoll
