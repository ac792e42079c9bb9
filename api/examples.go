package api

import (
	"maps"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// formatExamples stand in for a string property without an example of its
// own when its format alone says what a value looks like.
var formatExamples = map[string]string{
	"date-time": "2026-03-17T10:15:30Z",
	"date":      "2026-03-17",
	"uri":       "https://studio.example.com/pay1st/return",
}

// addSchemaExamples gives every object schema of the document that has
// none an example composed from its properties' own examples (struct tags
// `example:"..."`), following $refs and arrays. The document then shows a
// whole request or response body for each operation — what readers and
// generators of clients look for first — and the examples stay in step
// with the fields: a field's example changes in one place. A required
// property with nothing to show is left out, which TestOpenAPIIsDocumented
// reports by name. Schemas whose assembled example would contradict itself
// get a whole one from handExamples (examples_hand.go) first.
func addSchemaExamples(oapi *huma.OpenAPI) {
	if oapi.Components == nil || oapi.Components.Schemas == nil {
		return
	}
	all := oapi.Components.Schemas.Map()
	for name, examples := range handExamples() {
		if s := all[name]; s != nil {
			s.Examples = examples
		}
	}
	visiting := map[string]bool{}
	var of func(s *huma.Schema) (any, bool)
	object := func(s *huma.Schema) map[string]any {
		ex := map[string]any{}
		for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
			if v, ok := of(s.Properties[name]); ok {
				ex[name] = v
			}
		}
		return ex
	}
	of = func(s *huma.Schema) (any, bool) {
		switch {
		case s == nil:
			return nil, false
		case s.Ref != "":
			name := strings.TrimPrefix(s.Ref, "#/components/schemas/")
			target := all[name]
			if target == nil || visiting[name] {
				return nil, false
			}
			visiting[name] = true
			defer delete(visiting, name)
			return of(target)
		case len(s.Examples) > 0:
			return s.Examples[0], true
		case s.Default != nil:
			return s.Default, true
		case len(s.Enum) > 0:
			return s.Enum[0], true
		}
		switch s.Type {
		case "boolean":
			return false, true
		case "string":
			v, ok := formatExamples[s.Format]
			return v, ok
		case "array":
			if s.Items != nil && s.Items.Ref != "" {
				// A list shows every shape its items' schema has an
				// example for (a failed and a succeeded fulfilment).
				if t := all[strings.TrimPrefix(s.Items.Ref, "#/components/schemas/")]; t != nil && len(t.Examples) > 1 {
					return slices.Clone(t.Examples), true
				}
			}
			if v, ok := of(s.Items); ok {
				return []any{v}, true
			}
			if s.MinItems == nil || *s.MinItems == 0 {
				return []any{}, true
			}
		case "object":
			if s.Properties != nil {
				return object(s), true
			}
			if _, isMap := s.AdditionalProperties.(*huma.Schema); isMap {
				return map[string]any{}, true
			}
		}
		return nil, false
	}
	for _, name := range slices.Sorted(maps.Keys(all)) {
		s := all[name]
		if s.Type != "object" || len(s.Properties) == 0 || len(s.Examples) > 0 {
			continue
		}
		visiting[name] = true
		s.Examples = []any{object(s)}
		delete(visiting, name)
	}
}
