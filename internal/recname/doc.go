// Package recname checks the recording IDs and audio extensions that a
// sender puts in request headers and metadata before a receiver uses them
// in a file name: nothing attacker-controlled may reach a path unchecked.
package recname
