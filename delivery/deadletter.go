package delivery

import (
	"context"
	"time"
)

// DeadLetter is a recording the queue gave up on, kept in the spool's dead/
// directory with the reason beside it (state.json and a readable error.txt)
// until an operator requeues or removes it.
type DeadLetter struct {
	// Name is the entry's directory name under dead/, to pass to Requeue.
	// It is the recording's ID, with a suffix in the rare case of a clash.
	Name string
	// Metadata describes the recording.
	Metadata Metadata
	// Attempts is the number of failed delivery attempts.
	Attempts int
	// LastError is the last delivery error, or why the entry was unreadable.
	LastError string
	// LastAttempt and DeadLettered are when the last attempt failed and when
	// the recording was moved aside.
	LastAttempt  time.Time
	DeadLettered time.Time
	// Err is set when the entry itself cannot be read; such an entry cannot be
	// requeued until repaired by hand.
	Err error
}

// DeadLetters lists the dead letters of the spool in dir, oldest first. It
// reads the spool without locking it and is safe beside a running Queue.
func DeadLetters(dir string) ([]DeadLetter, error) {
	found, err := newSpool(dir).scan(dirDead, nil)
	if err != nil {
		return nil, err
	}
	out := make([]DeadLetter, len(found))
	for i, f := range found {
		out[i] = DeadLetter{
			Name:         f.id,
			Metadata:     f.md,
			Attempts:     f.state.Attempts,
			LastError:    f.state.LastError,
			LastAttempt:  f.state.LastAttempt,
			DeadLettered: f.state.DeadLettered,
			Err:          f.err,
		}
	}
	return out, nil
}

// Requeue moves the dead letter name of the spool in dir back into its
// queue with a fresh attempt budget (its age counts from now). A Queue
// running on that spool picks it up at its next rescan
// ([Config.RescanInterval]); use [Queue.Requeue] to have it start at once. It
// returns an error wrapping [ErrNotFound] for an unknown name.
func Requeue(dir, name string) error {
	_, _, err := newSpool(dir).requeue(name, time.Now())
	return err
}

// DeadLetters lists the queue's dead letters, oldest first.
func (q *Queue) DeadLetters() ([]DeadLetter, error) {
	return DeadLetters(q.cfg.Dir)
}

// Requeue moves the dead letter name back into the queue with a fresh
// attempt budget and schedules it at once.
func (q *Queue) Requeue(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	q.mu.Lock()
	closed := q.closed
	q.mu.Unlock()
	if closed {
		return ErrClosed
	}
	md, st, err := q.spool.requeue(name, time.Now())
	if err != nil {
		return err
	}
	q.log.Info("dead letter requeued", "id", md.ID)
	q.mu.Lock()
	q.addLocked(newEntry(md, st))
	q.mu.Unlock()
	q.changed()
	return nil
}
