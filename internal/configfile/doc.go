// Package configfile reads the configuration file of an example service
// and reports what is wrong with it in one error type, so that every
// service refuses an oversized file the same way and lists its problems
// the same way: one "file:line: key: message" line each.
//
// The service keeps its own schema and checks: [Load] hands the file's
// bytes to the service's parse function and names the file in the
// [*Error] that comes back.
package configfile
