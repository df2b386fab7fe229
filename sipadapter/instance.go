package sipadapter

// maxInstanceID bounds Config.InstanceID, which goes into recording IDs
// (at most 128 characters, see delivery.Recording) next to a 21-character
// time and 12 hex digits.
const maxInstanceID = 64

// validInstanceID reports whether id may name an instance: empty (none),
// or up to maxInstanceID characters of [A-Za-z0-9._-] not starting with a
// dot, so that it is safe in recording IDs and file names.
func validInstanceID(id string) bool {
	if id == "" {
		return true
	}
	if len(id) > maxInstanceID || id[0] == '.' {
		return false
	}
	for _, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}
