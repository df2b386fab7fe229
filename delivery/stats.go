package delivery

import "time"

// Stats is a snapshot of a Queue's counters, from [Queue.Stats] or the
// [Config.OnStats] callback. Counters count since the Queue was created.
type Stats struct {
	// Queued is the number of recordings in the spool awaiting delivery,
	// those in flight included.
	Queued int
	// InFlight is the number of deliveries under way.
	InFlight int
	// Enqueued counts recordings accepted by Enqueue.
	Enqueued uint64
	// Delivered counts recordings a sink accepted.
	Delivered uint64
	// Retried counts failed attempts that will be retried.
	Retried uint64
	// DeadLettered counts recordings moved to the dead-letter directory.
	DeadLettered uint64
	// DestinationFailures counts failed attempts the sink blamed on the
	// destination as a whole (see [ErrDestination]): refused credentials, a
	// missing path, a bad certificate. Alert on its increase.
	DestinationFailures uint64
	// HealthChecks counts health checks of the destination made while the
	// circuit was open, and HealthyChecks those that passed.
	HealthChecks, HealthyChecks uint64
	// Bytes counts audio bytes delivered.
	Bytes uint64
	// OldestAge is how long the oldest queued recording has waited, zero
	// when the queue is empty.
	OldestAge time.Duration
	// Circuit is the state of the circuit breaker.
	Circuit CircuitState
}

// DiskSpace is the size and free space of the spool's file system, from
// [Queue.DiskSpace].
type DiskSpace struct {
	// Total is the file system's size in bytes.
	Total uint64
	// Free is the space in bytes available to the queue's process.
	Free uint64
}
