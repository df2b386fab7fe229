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
// acknowledged without a second copy. A 2xx is sent only once the audio
// and the sidecar, data and names, are on stable storage and the
// recording is indexed. Recordings delivered at the same time share the
// waits that can be shared: one directory fsync and one index transaction
// serve a whole group. The protocol itself is parsed by the same code as
// delivery/receiver's.
//
// # Search
//
// [Store.Search] takes a [Query]: any number in any format the dial plan
// normalises (a part of a number matches), a start range, direction, line,
// duration and tag; newest first, paged, each recording with its tags.
//
// # Users, audit and retention
//
// Users ([User]) have a [Role]: admin, supervisor (every line) or agent
// (only the lines assigned). Passwords are bcrypt hashes
// ([Archive.SetUser], [Archive.Authenticate]); sessions are random tokens
// of which only the SHA-256 is stored ([Archive.NewSession]). Every access
// and change is written by [Archive.Audit] to a table that triggers make
// append-only. [Archive.SetRetention] sets the global and per-line periods,
// [Archive.RunRetention] deletes what has expired (audio, sidecar and row)
// unless a legal hold ([Store.SetHold], [Archive.HoldSearch]) keeps it.
//
// # Web UI
//
// [Archive.Web] returns the UI as an http.Handler: login, search, the call
// page (metadata, waveform, Range playback with per-channel mute and solo
// through Web Audio, speed, download, notes, tags) and the admin pages
// (users, retention, audit with CSV export). It is server-rendered
// (html/template, embedded static files, one small script), Japanese by
// default with English selectable; every string is in one catalogue. Forms
// carry CSRF tokens, cookies are HttpOnly, Secure (unless
// [WebConfig.InsecureCookies]) and SameSite=Lax, failed logins are limited
// per user and source address, and a recording on a line the user may not
// see answers 404 exactly like a missing one. A waveform is drawn once per
// recording ([Archive.WaveformPNG]) and kept in Dir/.waveforms until the
// recording is deleted.
//
// Usage:
//
//	a, err := archive.Open(ctx, archive.Config{Dir: "/srv/recordings"})
//	...
//	web, err := a.Web(archive.WebConfig{})
//	...
//	go a.RunRetention(ctx, time.Hour)
//	err = http.ListenAndServeTLS(":8443", "cert.pem", "key.pem", web) // ingest on /ingest/
package archive
