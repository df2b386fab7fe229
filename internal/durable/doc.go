// Package durable writes files so that they survive a crash or a power cut
// whole or not at all.
//
// A file is written under a hidden temporary name in its own directory
// (".<name>.part-<random>", which readers of the directory skip), its data
// is fsynced and it is closed, it is renamed over its final name, and
// finally the directory is fsynced. That order is what makes the result
// durable: without the data fsync a power cut can leave the final name
// pointing at an empty or partial file (the rename may reach the disk
// before the data), and without the directory fsync the rename itself, and
// so the file, may be lost although the call returned.
//
// [WriteFile] writes a byte slice; [Create] returns a [Pending] file to
// stream into and then [Pending.Commit] or [Pending.Abort]. A [Writer]
// does the same through an [FS] that tests replace to inject faults or
// record the order of operations.
//
// github.com/google/renameio/v2 does the first three steps but does not
// fsync the directory, and it cannot route its writes through an injected
// file system, which the delivery spool's disk-full tests need.
package durable
