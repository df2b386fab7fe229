// Package ingest is the receiving end of the delivery.HTTPSink protocol,
// shared by delivery/receiver and delivery/archive so that both parse
// uploads, verify audio and answer the sender the same way.
//
// An upload names its recording in the Callrec-Recording-Id header and
// the audio's SHA-256 in Callrec-Audio-Sha256 ([Headers]). Its body is
// either a PUT of the audio (a path ending in the audio extension)
// followed by a PUT of the JSON sidecar (a path ending in .json), or one
// multipart/form-data POST whose "metadata" part precedes its "audio"
// part. [Dispatch] tells them apart and hands the parts to a [Store],
// which decides where they go; [Copy] writes audio while checking its
// digest, and [Respond] answers: 201 for a new recording, 200 for a
// redelivery or a part awaiting the rest, the status of an [*Error] for a
// refused upload, 500 for the server's own failure (the sender keeps the
// recording and retries).
package ingest
