// Package delivery moves finished call recordings to the customer's own
// server durably: a recording that was accepted is delivered, at least once,
// or it stays on disk with the reason it could not be.
//
// # Spool
//
// [Queue.Enqueue] takes a [Recording] (an audio file and its [Metadata]) and
// returns only once it is durable in the spool directory: the audio is
// hard-linked (copied across file systems) into a staging directory beside a
// JSON sidecar, every file and directory is fsynced, and the entry is renamed
// into the queue in one atomic step before the caller's file is removed. A
// process killed at any instant therefore either has the recording in its
// queue or still has the caller's file; [New] re-scans the spool and resumes.
// A full or read-only disk is reported as [ErrSpoolFull] or
// [ErrSpoolReadOnly], and the caller's file is left where it was.
// [Queue.DiskSpace] tells how much room is left, for congestion control.
//
// # Delivery, retries and the circuit
//
// After [Queue.Start], workers hand recordings to a [Sink], oldest first. A
// sink classifies its failures with [Permanent] or [Retryable]. Retries back
// off exponentially with full jitter ([Backoff]), honouring a server's
// Retry-After; when a sink fails repeatedly a circuit breaker ([Circuit])
// stops all traffic and probes with one recording at a time, and the first
// success releases the whole backlog. A failure of the destination as a
// whole ([Destination]: refused credentials, a missing path, a bad
// certificate) opens the circuit at once and never dead-letters; a sink
// that is a [HealthChecker] is checked while the circuit is open, and a
// passing check ends the cool-down. A recording refused permanently, or
// out of attempts or age, moves to the dead-letter directory with its last
// error beside it; [DeadLetters] lists them and [Requeue] or [Queue.Requeue]
// puts them back. [Queue.Shutdown] lets deliveries in flight finish, or
// leaves them in the spool, never losing one.
//
// # Sinks
//
// [DirSink] writes into a local or mounted directory, [HTTPSink] PUTs or
// POSTs to an HTTP(S) server (custom CA, client certificates, basic or bearer
// auth), and [SFTPSink] uploads over SFTP with mandatory host-key checking.
// All of them stream the audio, verify its SHA-256 on the way, commit each
// file with a temporary name and a rename, and are idempotent on
// redelivery. Package deliverytest checks a Sink against these rules.
//
// # Observability
//
// [Queue.Stats] and the [Config.OnStats] callback report queued, delivered,
// retried and dead-lettered counts, bytes, the oldest recording's age and
// the circuit's state; logs go to the injected [log/slog.Logger].
//
// # Usage
//
//	sink, err := delivery.NewHTTPSink(delivery.HTTPSinkConfig{URL: "https://rec.example.com/upload"})
//	if err != nil { ... }
//	q, err := delivery.New(delivery.Config{Dir: "/var/spool/callrec", Sink: sink})
//	if err != nil { ... }
//	if err := q.Start(); err != nil { ... }
//	defer q.Shutdown(ctx)
//	err = q.Enqueue(ctx, delivery.Recording{
//		AudioPath: "/var/lib/callrec/tmp/call-1.wav",
//		Metadata:  delivery.Metadata{CallID: "call-1", Direction: delivery.Outgoing},
//	})
package delivery
