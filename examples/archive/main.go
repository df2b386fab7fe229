// Command callrec-archive is the company's recordings archive: it receives
// the recordings callrec's HTTP sink delivers (on /ingest/), keeps them as
// WAV + JSON files, indexes them in SQLite and serves the web UI to
// search, play, annotate and control them, with users, roles, an audit
// trail and retention, as configured in one YAML file.
//
//	callrec-archive [-config archive.yaml] [-check-config] [-rebuild] [-import DIR]
//
// -check-config validates the file and exits (0 usable, 2 not). -rebuild
// re-indexes the files under dir (after the database was lost) and exits;
// -import copies an existing DirSink tree into the archive and exits.
// On the first start, admin.name with the password from admin.password or
// CALLREC_ARCHIVE_ADMIN_PASSWORD is created as an administrator if no user
// of that name exists. On SIGTERM or SIGINT it stops serving, waiting up to
// 10 s for requests in progress.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/callrec/callrec/delivery/archive"
)

// errUsage reports bad command-line flags; flag has printed why.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp), errors.Is(err, ErrInvalidConfig):
		if errors.Is(err, ErrInvalidConfig) {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "callrec-archive:", err)
		os.Exit(1)
	}
}

// run parses the flags and the configuration and serves until ctx ends.
// It prints "listening on URL" to stdout once the listener is open.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) (string, bool)) error {
	fs := flag.NewFlagSet("callrec-archive", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "archive.yaml", "configuration `file`")
	check := fs.Bool("check-config", false, "validate the configuration file and exit")
	rebuild := fs.Bool("rebuild", false, "re-index the recordings on disk and exit")
	importDir := fs.String("import", "", "copy the DirSink tree in `dir` into the archive and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "callrec-archive: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	cfg, err := loadConfig(*path, getenv)
	if err != nil {
		return err
	}
	if *check {
		fmt.Fprintln(stdout, *path+": ok")
		return nil
	}
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[cfg.logLevel]
	var h slog.Handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	if cfg.logFormat == "json" {
		h = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	}
	log := slog.New(h)
	cfg.archive.Logger = log
	a, err := archive.Open(ctx, cfg.archive)
	if err != nil {
		return err
	}
	defer a.Close()
	switch {
	case *rebuild:
		n, err := a.Rebuild(ctx)
		fmt.Fprintf(stdout, "indexed %d recordings\n", n)
		return err
	case *importDir != "":
		n, err := a.Import(ctx, *importDir)
		fmt.Fprintf(stdout, "imported %d recordings\n", n)
		return err
	}
	if err := bootstrapAdmin(ctx, a, cfg); err != nil {
		return err
	}
	web, err := a.Web(cfg.web)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: web, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(h, slog.LevelWarn)}
	scheme := "http"
	if cfg.tlsCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "listening on %s://%s\n", scheme, ln.Addr())

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobDone := make(chan error, 1)
	go func() { jobDone <- a.RunRetention(ctx, cfg.retentionInterval) }()
	serveDone := make(chan error, 1)
	go func() {
		if cfg.tlsCert != "" {
			serveDone <- srv.ServeTLS(ln, cfg.tlsCert, cfg.tlsKey)
		} else {
			serveDone <- srv.Serve(ln)
		}
	}()
	select {
	case err = <-serveDone:
	case <-ctx.Done():
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err = srv.Shutdown(sctx)
		scancel()
		<-serveDone
	}
	cancel()
	<-jobDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// bootstrapAdmin creates the configured administrator unless a user of
// that name exists; an existing user's password is never overwritten.
func bootstrapAdmin(ctx context.Context, a *archive.Archive, cfg *config) error {
	if cfg.adminName == "" {
		return nil
	}
	_, err := a.User(ctx, cfg.adminName)
	if err == nil {
		return nil
	}
	if !errors.Is(err, archive.ErrNotFound) {
		return err
	}
	if cfg.adminPassword == "" {
		return fmt.Errorf("%w: admin.password: needed (or %s) to create %q", ErrInvalidConfig, envAdminPassword, cfg.adminName)
	}
	if err := a.SetUser(ctx, archive.User{Name: cfg.adminName, Role: archive.RoleAdmin}, cfg.adminPassword); err != nil {
		return err
	}
	return a.Audit(ctx, archive.AuditEntry{User: archive.SystemUser, Action: archive.ActionUserSet, Target: cfg.adminName, Detail: "bootstrap administrator from configuration"})
}
