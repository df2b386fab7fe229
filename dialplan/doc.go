// Package dialplan decides, from the numbers of a call, whether the call is
// recorded by the recording service and where it goes.
//
// It implements the rules of a Japanese carrier's business call-recording
// service on top of Japan's national numbering plan. It has no dependencies
// beyond the standard library, so a PBX vendor can import it alone to test
// its own dial rules.
//
// # Normalising numbers
//
// [Normalize] turns a number as people and switches write it into national
// digits: hyphens, every Japanese dash and the long-vowel mark ー, spaces
// (including the ideographic space), dots and parentheses are dropped;
// full-width digits become ASCII; +81 numbers become national (+81 (0)3 …
// too); other country codes become international calls (010 …); the user
// part of sip:, sips: and tel: URIs is taken. '#' and '*' are kept. Anything
// else is an error wrapping [ErrInvalidNumber], never a panic.
//
// # Classes
//
// [Classify] puts a number in a [Class]: geographic (0ABJ, 10 digits),
// ip-phone (050), mobile (060-[1-9], 070, 080, 090), freecall (0120, 0800),
// navi-dial (0570), international (010), emergency (110, 118, 119), service
// (1XY, 184/186, # and *), carrier-code (00XY, 002YZ, 0091XY, 001),
// other-0a0 (020, 0200, 0600, 030, 040), other-0ab0 (0170, 0180, 0990, 091),
// local, extension, or invalid for a wrong length. Service codes are matched
// from explicit lists, never from digit patterns: 0250, 0470, 0572, 0123 and
// 099 are real area codes, and 080-0123-4567 is the freecall 0800-123-4567.
//
// # Decisions
//
// A [Plan] built from a [Config] answers [Plan.DecideOutgoing] and
// [Plan.DecideIncoming] with a [Decision]: a [Verdict], the destination's
// class, whether the call is recorded, the destination with the prefix
// stripped, and a reason in English and Japanese.
//
//   - A call dialled with the recording prefix of its line (0077-26 from a
//     mobile line, 0077-27 from a fixed line) to a geographic, 050, mobile,
//     freecall, navi dial or international number is recorded
//     ([VerdictRecord]).
//   - Unprefixed calls, extension calls and calls made while roaming abroad
//     are connected unrecorded ([VerdictConnectUnrecorded]).
//   - A prefixed call to an emergency number is [VerdictEmergency]: route it
//     at once, unprefixed. From a mobile line 112 and 911 are emergency too.
//   - A prefixed call to any other class, or to anything not starting with
//     0, is [VerdictNotRecordable]; with the other line kind's prefix it is
//     [VerdictPrefixLineMismatch]; from a 050 line to freecall or navi dial
//     it is [VerdictRestrictedFrom050]; a national number of the wrong
//     length is [VerdictInvalid].
//   - Incoming calls to the company's fixed numbers (geographic and 050) are
//     recorded, forwarded calls and withheld caller IDs included; calls to
//     mobile numbers are not.
//
// Decisions on already normalised input do not allocate; a Plan is safe for
// concurrent use.
//
//	plan, err := dialplan.New(dialplan.Config{})
//	if err != nil { … }
//	d, err := plan.DecideOutgoing(dialplan.OutgoingCall{
//		Line:    dialplan.Line{Kind: dialplan.LineFixed},
//		Dialled: "0077-27-03-1234-5678",
//	})
//	// d.Verdict == dialplan.VerdictRecord, d.Destination == "0312345678"
package dialplan
