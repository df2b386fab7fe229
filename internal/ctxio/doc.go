// Package ctxio gives an [io.Reader] a context, so that a long copy (a
// recording hashed or delivered) stops once its context is done instead
// of running to the end of the file.
package ctxio
