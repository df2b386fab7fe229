// Package kamailio holds the Kamailio 5.6 configuration that spreads calls
// over several callrec-b2bua instances (kamailio.cfg, documented in
// README.md), a helper writing the dispatcher's destination list, and the
// scale-out test that runs the configuration with real Kamailio, b2bua and
// SIPp processes on loopback: load sharing, draining, a crash and a
// rolling restart.
package kamailio
