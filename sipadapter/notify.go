package sipadapter

import (
	"context"
	"time"

	"github.com/callrec/callrec/delivery"
)

// NotifySink wraps a delivery sink so that every recording it accepts is
// reported to events as [EventDelivered]. Build the delivery queue with it
// to learn when a call's recording reached the company's server:
//
//	q, err := delivery.New(delivery.Config{Dir: spool, Sink: sipadapter.NotifySink(sink, onEvent)})
func NotifySink(s delivery.Sink, events func(Event)) delivery.Sink {
	return delivery.SinkFunc(func(ctx context.Context, item delivery.Item) error {
		if err := s.Deliver(ctx, item); err != nil {
			return err
		}
		events(Event{Kind: EventDelivered, Time: time.Now(), CallID: item.Metadata.CallID, RecordingID: item.Metadata.ID})
		return nil
	})
}
