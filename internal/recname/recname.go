package recname

import "strings"

// ValidID reports whether id can name a recording's files: 1 to 128 ASCII
// letters, digits, '.', '_' or '-', not starting with '.' (so neither a
// hidden file nor "..").
func ValidID(id string) bool {
	if id == "" || len(id) > 128 || id[0] == '.' {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ValidExt reports whether ext is an audio file extension such as ".wav":
// a dot followed by 1 to 15 characters that ValidID accepts, with no
// further dot.
func ValidExt(ext string) bool {
	return len(ext) >= 2 && len(ext) <= 16 && ext[0] == '.' && ValidID(ext[1:]) && !strings.Contains(ext[1:], ".")
}
