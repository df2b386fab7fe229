// Package receiver plays the customer's receiving equipment for
// delivery.HTTPSink: an http.Handler that accepts recording uploads, checks
// each audio file against its SHA-256 header, and stores it with its JSON
// sidecar, idempotently by recording ID.
//
// # Uploads
//
// A [Receiver] accepts the two forms delivery.HTTPSink sends: a PUT of the
// audio (any path ending in the audio extension) followed by a PUT of the
// sidecar (a path ending in .json), or one multipart/form-data POST whose
// "metadata" part precedes its "audio" part. Every request names the
// recording in the Callrec-Recording-Id header and the audio's digest in
// Callrec-Audio-Sha256. Files are stored as Dir/<id><ext> and Dir/<id>.json,
// each written to a temporary name and renamed, so a redelivery replaces
// rather than duplicates; [Receiver.IDs] and [Receiver.Load] read them back.
// The protocol is parsed by the same code as delivery/archive's ingest
// (delivery/internal/ingest); the receiver only decides where files go.
//
// # Answers
//
// 201 Created for a new recording, 200 OK for a redelivery or for audio
// awaiting its sidecar, 401 for bad credentials, 400 for malformed requests,
// 409 for a sidecar before its audio, 422 when the audio does not match its
// digest.
//
// # Failure injection
//
// [Config.FailRate] answers a fraction of requests with 503, and
// [Config.DownFor] or [Receiver.SetDown] plays an outage, so that retries,
// the circuit breaker and recovery can be watched end to end. The
// examples/receiver command serves a Receiver from the command line:
//
//	rcv, err := receiver.New(receiver.Config{Dir: "received", FailRate: 0.3})
//	if err != nil { ... }
//	err = http.ListenAndServe("127.0.0.1:8080", rcv)
package receiver
