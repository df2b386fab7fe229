// Package deliverytest helps test implementations of delivery.Sink, in the
// manner of testing/slogtest.
//
// # Conformance
//
// [Run] drives a sink through the delivery.Sink contract and reads back the
// destination through a [Store]:
//
//	func TestMySink(t *testing.T) {
//		deliverytest.Run(t, func(t *testing.T) (delivery.Sink, deliverytest.Store) {
//			dir := t.TempDir()
//			sink, err := delivery.NewDirSink(delivery.DirSinkConfig{Dir: dir})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return sink, deliverytest.DirStore(dir, nil)
//		})
//	}
//
// One check delivers 16 MiB of audio that exists only as a stream and fails
// the sink if the heap grows by half of that meanwhile: sinks must stream
// recordings, which can run to hundreds of megabytes, rather than buffer
// them. It samples the whole process's heap, so keep tests that allocate
// heavily from running in parallel with Run.
//
// [DirStore] reads the date-partitioned layout of delivery.DirSink and
// delivery.SFTPSink; a receiver.Receiver is itself usable as a Store through
// [ReceiverStore].
//
// # Fixtures
//
// [NewItem] builds an item with complete metadata and deterministic audio
// from [Audio], so tests can compare what arrived byte for byte.
package deliverytest
