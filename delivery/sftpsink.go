package delivery

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"sync"
	"syscall"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/callrec/callrec/internal/ctxio"
)

// SFTPSinkConfig configures an [SFTPSink].
type SFTPSinkConfig struct {
	// Addr is the server's host:port. Required.
	Addr string
	// User is the login name. Required.
	User string
	// Auth lists the authentication methods, such as ssh.PublicKeys or
	// ssh.Password. Required.
	Auth []ssh.AuthMethod
	// HostKeyCallback verifies the server's host key, for example
	// ssh.FixedHostKey or golang.org/x/crypto/ssh/knownhosts.New. Required:
	// a callback that accepts any key (ssh.InsecureIgnoreHostKey) is refused
	// with [ErrInsecureHostKey].
	HostKeyCallback ssh.HostKeyCallback
	// Dir is the remote base directory. Default: the login directory.
	Dir string
	// Location is the time zone of the date partition. Default UTC.
	Location *time.Location
	// DialTimeout bounds connecting and the SSH handshake. Default 30s.
	DialTimeout time.Duration
}

// SFTPSink delivers recordings over SFTP into Dir/2026/11/23/<call-id>.wav
// and .json, each uploaded to a hidden temporary name and renamed into place
// (posix-rename@openssh.com when the server offers it), the audio before its
// sidecar. It keeps one SSH connection, opened on first use and reopened
// after a failure; concurrent deliveries share it. Every failure except
// corrupt spooled audio is retryable: refused logins, unknown host keys and
// full disks are fixed on the server, after which the queue resumes. A
// refused login or host key, an unknown host name and a missing or
// unwritable remote directory are destination failures ([ErrDestination]).
type SFTPSink struct {
	cfg SFTPSinkConfig

	names nameLocks

	mu     sync.Mutex
	conn   *ssh.Client
	client *sftp.Client
	closed bool
}

// NewSFTPSink validates cfg and returns an SFTPSink. It does not connect.
func NewSFTPSink(cfg SFTPSinkConfig) (*SFTPSink, error) {
	switch {
	case cfg.Addr == "":
		return nil, configError("SFTPSinkConfig.Addr", "empty")
	case cfg.User == "":
		return nil, configError("SFTPSinkConfig.User", "empty")
	case len(cfg.Auth) == 0:
		return nil, configError("SFTPSinkConfig.Auth", "empty")
	case cfg.HostKeyCallback == nil:
		return nil, configError("SFTPSinkConfig.HostKeyCallback", "nil: host-key checking is required")
	case cfg.DialTimeout < 0:
		return nil, configError("SFTPSinkConfig.DialTimeout", "negative %v", cfg.DialTimeout)
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return nil, configError("SFTPSinkConfig.Addr", "%v", err)
	}
	if acceptsAnyKey(cfg.HostKeyCallback) {
		return nil, fmt.Errorf("%w: SFTPSinkConfig.HostKeyCallback", ErrInsecureHostKey)
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 30 * time.Second
	}
	return &SFTPSink{cfg: cfg}, nil
}

// acceptsAnyKey reports whether cb accepts a freshly generated key for a
// host nobody knows, as ssh.InsecureIgnoreHostKey does.
func acceptsAnyKey(cb ssh.HostKeyCallback) bool {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return false
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		return false
	}
	addr := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 22} // TEST-NET-1
	return cb("host-key-probe.invalid:22", addr, key) == nil
}

// Close closes the connection. It is safe to call more than once; Deliver
// returns [ErrClosed] afterwards.
func (s *SFTPSink) Close() error {
	s.mu.Lock()
	conn, client := s.conn, s.client
	s.conn, s.client, s.closed = nil, nil, true
	s.mu.Unlock()
	return closeSFTP(conn, client)
}

func closeSFTP(conn *ssh.Client, client *sftp.Client) error {
	if conn == nil {
		return nil
	}
	err := client.Close()
	if cerr := conn.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
		err = errors.Join(err, cerr)
	}
	return err
}

// session returns the shared client, connecting when there is none.
func (s *SFTPSink) session(ctx context.Context) (*sftp.Client, error) {
	s.mu.Lock()
	client, closed := s.client, s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if client != nil {
		return client, nil
	}
	conn, client, err := s.dial(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		closeSFTP(conn, client)
		return nil, ErrClosed
	case s.client != nil: // another delivery connected first
		winner := s.client
		s.mu.Unlock()
		closeSFTP(conn, client)
		return winner, nil
	}
	s.conn, s.client = conn, client
	s.mu.Unlock()
	return client, nil
}

func (s *SFTPSink) dial(ctx context.Context) (*ssh.Client, *sftp.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return nil, nil, err
	}
	deadline, _ := ctx.Deadline()
	_ = nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	c, chans, reqs, err := ssh.NewClientConn(nc, s.cfg.Addr, &ssh.ClientConfig{
		User:            s.cfg.User,
		Auth:            s.cfg.Auth,
		HostKeyCallback: s.cfg.HostKeyCallback,
		Timeout:         s.cfg.DialTimeout,
	})
	if err != nil {
		nc.Close()
		var ne net.Error
		if ctx.Err() == nil && !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) && !(errors.As(err, &ne) && ne.Timeout()) {
			err = fmt.Errorf("%w: %w", errHandshake, err)
		}
		return nil, nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	conn := ssh.NewClient(c, chans, reqs)
	client, err := sftp.NewClient(conn)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, client, nil
}

// drop discards client after a connection-level failure.
func (s *SFTPSink) drop(client *sftp.Client, err error) {
	var status *sftp.StatusError
	if errors.As(err, &status) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || IsPermanent(err) {
		return // the server answered; the connection is fine
	}
	s.mu.Lock()
	if s.client != client {
		s.mu.Unlock()
		return
	}
	conn := s.conn
	s.conn, s.client = nil, nil
	s.mu.Unlock()
	closeSFTP(conn, client)
}

// Deliver uploads item.
func (s *SFTPSink) Deliver(ctx context.Context, item Item) error {
	// Waiting for the name happens before the connection is used, so that
	// giving up on the wait never looks like a connection failure.
	unlock, err := s.names.lock(ctx, path.Join(s.remoteDir(item.Metadata), item.Metadata.BaseName()))
	if err != nil {
		return Retryable(fmt.Errorf("sftp sink: %w", err), 0)
	}
	defer unlock()
	client, err := s.session(ctx)
	if err != nil {
		return classifySFTP("sftp sink: connect: ", err)
	}
	if err := s.upload(ctx, client, item); err != nil {
		s.drop(client, err)
		return classifySFTP("sftp sink: ", err)
	}
	return nil
}

// errHandshake marks a failed SSH handshake over a working TCP connection:
// a refused login or host key, which only fixing the configuration cures.
var errHandshake = errors.New("ssh handshake refused")

// classifySFTP is [classify] with destination failures told apart: a
// refused login or host key, a name that does not resolve, and a remote
// directory that is missing or not writable.
func classifySFTP(prefix string, err error) error {
	var dnsErr *net.DNSError
	switch {
	case IsPermanent(err):
	case errors.Is(err, errHandshake), errors.Is(err, fs.ErrPermission), errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR),
		errors.As(err, &dnsErr) && !dnsErr.IsTemporary && !dnsErr.IsTimeout:
		return Destination(fmt.Errorf("%s%w", prefix, err), 0)
	}
	return classify(prefix, err)
}

func (s *SFTPSink) upload(ctx context.Context, client *sftp.Client, item Item) error {
	md := item.Metadata
	dir := s.remoteDir(md)
	if err := client.MkdirAll(dir); err != nil {
		return fmt.Errorf("mkdir %s: %w", dir, err)
	}
	base, err := destBase(md, func(name string) ([]byte, error) {
		f, err := client.Open(path.Join(dir, name))
		return readSmall(f, err)
	})
	if err != nil {
		return err
	}
	meta, err := item.MetadataJSON()
	if err != nil {
		return Permanent(err)
	}
	audio, err := item.OpenVerified()
	if err != nil {
		return err
	}
	defer audio.Close()
	if err := putRemote(client, dir, base+md.AudioExt, ctxio.Reader(ctx, audio), md.Size); err != nil {
		return err
	}
	return putRemote(client, dir, base+".json", ctxio.Reader(ctx, bytes.NewReader(meta)), int64(len(meta)))
}

// remoteDir returns the directory md is stored in on the server.
func (s *SFTPSink) remoteDir(md Metadata) string {
	if s.cfg.Dir == "" {
		return md.DatePath(s.cfg.Location)
	}
	return path.Join(s.cfg.Dir, md.DatePath(s.cfg.Location))
}

// putRemote uploads r (size bytes) to dir/name through a temporary name.
func putRemote(client *sftp.Client, dir, name string, r io.Reader, size int64) error {
	final := path.Join(dir, name)
	tmp := path.Join(dir, "."+name+".part-"+tempSuffix())
	f, err := client.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	n, err := io.Copy(f, r)
	if err == nil && n != size {
		err = fmt.Errorf("wrote %d bytes of %d", n, size)
	}
	if err == nil {
		if _, ok := client.HasExtension("fsync@openssh.com"); ok {
			err = f.Sync()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if _, ok := client.HasExtension("posix-rename@openssh.com"); ok {
			err = client.PosixRename(tmp, final)
		} else {
			if rerr := client.Remove(final); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				err = rerr
			}
			if err == nil {
				err = client.Rename(tmp, final)
			}
		}
	}
	if err != nil {
		client.Remove(tmp)
		return fmt.Errorf("upload %s: %w", final, err)
	}
	return nil
}

// tempSuffix returns a random suffix for temporary names.
func tempSuffix() string { return hex.EncodeToString(randBytes(6)) }
