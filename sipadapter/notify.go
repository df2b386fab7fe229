package sipadapter

import (
	"context"
	"time"

	"github.com/callrec/callrec/delivery"
)

// NotifySink wraps a delivery sink so that every recording it accepts is
// reported to events as [EventDelivered]; the wrapper passes the queue's
// health checks on when the sink is a [delivery.HealthChecker]. Build the delivery queue with it
// to learn when a call's recording reached the company's server:
//
//	q, err := delivery.New(delivery.Config{Dir: spool, Sink: sipadapter.NotifySink(sink, onEvent)})
func NotifySink(s delivery.Sink, events func(Event)) delivery.Sink {
	return notifySink{s, events}
}

type notifySink struct {
	sink   delivery.Sink
	events func(Event)
}

func (n notifySink) Deliver(ctx context.Context, item delivery.Item) error {
	if err := n.sink.Deliver(ctx, item); err != nil {
		return err
	}
	n.events(Event{Kind: EventDelivered, Time: time.Now(), CallID: item.Metadata.CallID, RecordingID: item.Metadata.ID})
	return nil
}

// CheckHealth passes the queue's health checks on to the wrapped sink.
func (n notifySink) CheckHealth(ctx context.Context) error {
	if hc, ok := n.sink.(delivery.HealthChecker); ok {
		return hc.CheckHealth(ctx)
	}
	return delivery.ErrNoHealthCheck
}
