package sipadapter

import (
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Japan's mobile country codes: a network-provided location with another
// MCC means the mobile is abroad.
var homeMCCs = [...]string{"440", "441"}

// roamingOf reports whether an INVITE from the company's mobile core says
// the caller is roaming abroad, from what an IMS core sends (3GPP TS
// 24.229):
//
//   - P-Access-Network-Info whose cell identity (utran-cell-id-3gpp,
//     cgi-3gpp, utran-sai-3gpp) starts with an MCC other than 440/441;
//   - P-Visited-Network-ID naming a network by MCC (…mccNNN…) other than
//     440/441, or, without an MCC, any network not in homeIDs.
//
// The caller decides whether the source is trusted to say so.
func roamingOf(req *sip.Request, homeIDs []string) bool {
	for _, h := range req.GetHeaders("P-Access-Network-Info") {
		if mcc, ok := paniMCC(h.Value()); ok && !isHomeMCC(mcc) {
			return true
		}
	}
	for _, h := range req.GetHeaders("P-Visited-Network-ID") {
		entries, ok := splitEntries(h.Value())
		if !ok {
			continue
		}
		for _, e := range entries {
			id, _, _ := strings.Cut(e, ";")
			id = strings.Trim(strings.TrimSpace(id), `"`)
			if id == "" || len(id) > 255 {
				continue
			}
			if mcc, ok := visitedMCC(id); ok {
				if !isHomeMCC(mcc) {
					return true
				}
				continue
			}
			if !containsFold(homeIDs, id) {
				return true
			}
		}
	}
	return false
}

// paniMCC returns the MCC of a P-Access-Network-Info value's cell identity.
func paniMCC(v string) (string, bool) {
	if len(v) > maxAssertedLen {
		return "", false
	}
	for _, p := range strings.Split(v, ";")[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "utran-cell-id-3gpp", "cgi-3gpp", "utran-sai-3gpp":
			val = strings.Trim(strings.TrimSpace(val), `"`)
			if len(val) >= 5 && allDigits(val[:3]) {
				return val[:3], true
			}
		}
	}
	return "", false
}

// visitedMCC finds "mccNNN" in a network ID such as
// ims.mnc010.mcc440.3gppnetwork.org.
func visitedMCC(id string) (string, bool) {
	l := strings.ToLower(id)
	for i := strings.Index(l, "mcc"); i >= 0; {
		if d := l[i+3:]; len(d) >= 3 && allDigits(d[:3]) {
			return d[:3], true
		}
		next := strings.Index(l[i+3:], "mcc")
		if next < 0 {
			break
		}
		i += 3 + next
	}
	return "", false
}

func isHomeMCC(mcc string) bool {
	for _, m := range homeMCCs {
		if m == mcc {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
