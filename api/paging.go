package api

import (
	"net/url"
	"strconv"
)

// PageParams are the query parameters of every paginated list; embed it in
// the operation's input. Pages are cursor-based and ordered by id; the
// tenant package bounds the size again (tenant.PageLimit).
type PageParams struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" example:"50" doc:"Page size, 1 to 200."`
	Cursor string `query:"cursor" maxLength:"64" example:"MTI" doc:"The nextCursor of the previous page; omit for the first page."`
}

// nextLink is the RFC 8288 Link header pointing at the next page, or "" when
// there is none. path is the list's path; q its other query parameters.
func nextLink(path string, q url.Values, limit int, next string) string {
	if next == "" {
		return ""
	}
	v := url.Values{}
	for k, vs := range q {
		for _, s := range vs {
			if s != "" {
				v.Add(k, s)
			}
		}
	}
	v.Set("limit", strconv.Itoa(limit))
	v.Set("cursor", next)
	return "<" + path + "?" + v.Encode() + `>; rel="next"`
}
