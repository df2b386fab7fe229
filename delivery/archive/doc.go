// Package archive is the company's side of callrec: it receives the
// recordings [delivery.HTTPSink] sends, keeps them as WAV + JSON files in
// the [delivery.DirSink] layout, indexes them in SQLite (modernc.org/sqlite,
// pure Go) and serves a web UI to search, play and control them.
//
// # Files and index
//
// The files under [Config.Dir] are the truth: Dir/2026/11/23/<call-id>.wav
// with its sidecar <call-id>.json, exactly as a DirSink writes them, so a
// company is never locked in. The index ([Store]) is derived from them;
// [Archive.Rebuild] recreates it from the files when the database is lost,
// and [Archive.Import] takes over an existing DirSink tree. The schema is
// migrated by versions kept in the code (PRAGMA user_version).
//
// # Ingest
//
// [Archive.Ingest] is the http.Handler HTTPSink delivers to: PUT of the
// audio then its sidecar, or one multipart POST. The audio is hashed while
// it is staged and acknowledged only when it matches the
// Callrec-Audio-Sha256 header; a redelivery of an indexed recording is
// acknowledged without a second copy.
//
// # Search
//
// [Store.Search] takes a [Query]: any number in any format the dial plan
// normalises (a part of a number matches), a start range, direction, line,
// duration and tag; newest first, paged.
//
// Usage:
//
//	a, err := archive.Open(ctx, archive.Config{Dir: "/srv/recordings"})
//	...
//	http.Handle("/ingest/", http.StripPrefix("/ingest", a.Ingest()))
package archive
