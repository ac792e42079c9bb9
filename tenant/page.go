package tenant

import (
	"encoding/base64"
	"strconv"
)

// Every list in the tenant package pages by keyset on id: pages stay stable
// while rows are added, and a page costs the same wherever it starts. The
// cursor is opaque to clients (base64 of the last id seen) so it can change
// shape later without breaking them.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
	// maxCursorLen bounds a cursor before it is decoded.
	maxCursorLen = 64
)

// PageLimit bounds a requested page size: DefaultPageSize when n <= 0, at
// most MaxPageSize.
func PageLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultPageSize
	case n > MaxPageSize:
		return MaxPageSize
	}
	return n
}

// EncodeCursor returns the cursor that continues after id.
func EncodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}

// DecodeCursor returns the id a cursor continues after: 0 for "", a
// *FieldError (query parameter "cursor") when it is not one of ours.
func DecodeCursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	bad := &FieldError{In: "query", Field: "cursor", Problem: "is not a cursor this API returned"}
	if len(s) > maxCursorLen {
		return 0, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, bad
	}
	id, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || id <= 0 {
		return 0, bad
	}
	return id, nil
}
