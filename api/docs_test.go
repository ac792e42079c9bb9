package api

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOpenAPIIsDocumented walks the published document (what OpenAPI
// writes as YAML, read here as JSON) and names every gap a generated client or the
// reference at /docs would show as a blank. The rules:
//   - an operation has a summary and a description;
//   - a parameter has a description, and an example unless its values say
//     what they are (an enum, a boolean, a default);
//   - every property of every schema, nested ones included, has a description;
//   - a request or response body whose schema is an object (directly or by
//     $ref), error answers' included, has an example, on its schema or its
//     media type, and that example is valid against the schema and shows
//     every property, nested objects' and array items' included (an array
//     of objects shows at least one): a reader sees every field with a
//     value, not `{}`. A request leaves out readOnly properties, a response
//     writeOnly ones; secrets show clearly fake values;
//   - an error answer (4xx, 5xx) has a description and a body schema; an
//     operation behind the bearer key documents 401; one with path
//     parameters documents 404 (an unknown or invisible resource); one with
//     parameters or a JSON body that Huma validates documents 422.
func TestOpenAPIIsDocumented(t *testing.T) {
	t.Parallel()
	raw, err := newAPI(http.NewServeMux(), Deps{}).OpenAPI().MarshalJSON()
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	gaps := openAPIGaps(doc)
	require.Empty(t, gaps, "%d documentation gaps in openapi.yaml:\n%s", len(gaps), strings.Join(gaps, "\n"))
}

// TestOpenAPIGapsAreFound keeps the walker honest: each rule fires on a
// document that breaks it.
func TestOpenAPIGapsAreFound(t *testing.T) {
	t.Parallel()
	doc := map[string]any{
		"paths": map[string]any{
			"/v1/things/{id}": map[string]any{
				"post": map[string]any{
					"operationId": "make-thing",
					"security":    []any{map[string]any{"bearer": []any{}}},
					"parameters": []any{
						map[string]any{"name": "id", "in": "path", "schema": map[string]any{"type": "string"}},
						map[string]any{"name": "dry", "in": "query", "description": "Only check.", "schema": map[string]any{"type": "boolean"}},
					},
					"requestBody": map[string]any{"content": map[string]any{"application/json": map[string]any{
						"schema": map[string]any{"$ref": "#/components/schemas/Thing"},
					}}},
					"responses": map[string]any{
						"200": map[string]any{"description": "OK", "content": map[string]any{"application/json": map[string]any{
							"schema":  map[string]any{"$ref": "#/components/schemas/Thing"},
							"example": map[string]any{"name": 7},
						}}},
						"409": map[string]any{"description": "Conflict"},
						"500": map[string]any{"description": "Internal error", "content": map[string]any{"application/problem+json": map[string]any{
							"schema":  map[string]any{"$ref": "#/components/schemas/Problem"},
							"example": map[string]any{"title": "Internal Server Error"},
						}}},
					},
				},
			},
			"/v1/shapes": map[string]any{
				"post": map[string]any{
					"operationId": "make-shape", "summary": "Make a shape", "description": "Makes one.",
					"requestBody": map[string]any{"content": map[string]any{"application/json": map[string]any{
						"schema": map[string]any{"$ref": "#/components/schemas/Shape"},
					}}},
					"responses": map[string]any{
						"200": map[string]any{"description": "OK", "content": map[string]any{"application/json": map[string]any{
							"schema": map[string]any{"type": "object", "properties": map[string]any{
								"items": map[string]any{"type": "array", "description": "Shapes.", "items": map[string]any{"$ref": "#/components/schemas/Shape"}},
							}, "example": map[string]any{"items": []any{}}},
						}}},
						"422": map[string]any{"description": "Invalid", "content": map[string]any{"application/problem+json": map[string]any{
							"schema":  map[string]any{"$ref": "#/components/schemas/Problem"},
							"example": map[string]any{"title": "Unprocessable Entity", "detail": "bad"},
						}}},
					},
				},
			},
		},
		"components": map[string]any{"schemas": map[string]any{
			"Problem": map[string]any{"type": "object", "properties": map[string]any{
				"title":  map[string]any{"type": "string", "description": "Title."},
				"detail": map[string]any{"type": "string", "description": "Detail."},
			}},
			// Two shapes between them show a and b, never c; id is
			// readOnly, so a request need not show it; secret is writeOnly.
			"Shape": map[string]any{"type": "object", "properties": map[string]any{
				"a":      map[string]any{"type": "string", "description": "A."},
				"b":      map[string]any{"type": "string", "description": "B."},
				"c":      map[string]any{"type": "string", "description": "C."},
				"id":     map[string]any{"type": "integer", "description": "Id.", "readOnly": true},
				"secret": map[string]any{"type": "string", "description": "Secret.", "writeOnly": true},
			}, "examples": []any{map[string]any{"a": "x", "secret": "s"}, map[string]any{"b": "y", "secret": "s"}}},
			"Thing": map[string]any{"type": "object", "properties": map[string]any{
				"name": map[string]any{"type": "string"},
				"tags": map[string]any{"type": "array", "description": "Labels.", "items": map[string]any{
					"type": "object", "properties": map[string]any{"key": map[string]any{"type": "string"}},
				}},
			}},
		}},
	}
	want := []string{
		"POST /v1/things/{id} (make-thing): no summary",
		"POST /v1/things/{id} (make-thing): no description",
		"POST /v1/things/{id} (make-thing): path parameter id: no description",
		"POST /v1/things/{id} (make-thing): path parameter id: no example",
		"POST /v1/things/{id} (make-thing): request body application/json: no example on the schema or the media type",
		`POST /v1/things/{id} (make-thing): 200 response application/json: example is not valid against the schema: name: expected string`,
		"POST /v1/things/{id} (make-thing): 409 response: no body schema",
		"POST /v1/things/{id} (make-thing): 401 not documented (bearer key)",
		"POST /v1/things/{id} (make-thing): 404 not documented (path parameters)",
		"POST /v1/things/{id} (make-thing): 422 not documented (validated input)",
		"schema Thing: property name: no description",
		"schema Thing: property tags[].key: no description",
		"POST /v1/things/{id} (make-thing): 500 response application/problem+json: example does not show detail",
		"POST /v1/shapes (make-shape): request body application/json: example does not show c",
		"POST /v1/shapes (make-shape): 200 response application/json: example does not show items[] (an empty list of objects)",
	}
	got := openAPIGaps(doc)
	for _, w := range want {
		require.Contains(t, got, w)
	}
	require.Len(t, got, len(want), "%s", strings.Join(got, "\n"))
}

// openAPIGaps returns one line per gap, sorted.
func openAPIGaps(doc map[string]any) []string {
	var gaps []string
	gap := func(format string, args ...any) { gaps = append(gaps, fmt.Sprintf(format, args...)) }
	schemas := asMap(asMap(doc["components"])["schemas"])
	for name, s := range schemas {
		propertyGaps(asMap(s), "", func(prop, what string) { gap("schema %s: property %s: %s", name, prop, what) })
	}
	methods := []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}
	for path, item := range asMap(doc["paths"]) {
		for _, m := range methods {
			op := asMap(asMap(item)[m])
			if op == nil {
				continue
			}
			at := fmt.Sprintf("%s %s (%s)", strings.ToUpper(m), path, op["operationId"])
			if str(op["summary"]) == "" {
				gap("%s: no summary", at)
			}
			if str(op["description"]) == "" {
				gap("%s: no description", at)
			}
			hasPath, validated := false, false
			for _, p := range asSlice(op["parameters"]) {
				p := asMap(p)
				where := fmt.Sprintf("%s: %s parameter %s", at, p["in"], p["name"])
				if p["in"] == "path" {
					hasPath = true
				}
				validated = true
				if str(p["description"]) == "" {
					gap("%s: no description", where)
				}
				if !selfExplaining(asMap(p["schema"])) && !hasExample(p) && !hasExample(asMap(p["schema"])) {
					gap("%s: no example", where)
				}
			}
			if body := asMap(op["requestBody"]); body != nil {
				for mt, media := range asMap(body["content"]) {
					if strings.Contains(mt, "json") {
						validated = true
					}
					bodyExampleGaps(doc, asMap(media), inRequest, func(what string) { gap("%s: request body %s: %s", at, mt, what) })
				}
			}
			responses := asMap(op["responses"])
			for code, r := range responses {
				r := asMap(r)
				if code >= "400" || code == "default" {
					if str(r["description"]) == "" {
						gap("%s: %s response: no description", at, code)
					}
					if len(asMap(r["content"])) == 0 {
						gap("%s: %s response: no body schema", at, code)
					}
				}
				for mt, media := range asMap(r["content"]) {
					bodyExampleGaps(doc, asMap(media), inResponse, func(what string) { gap("%s: %s response %s: %s", at, code, mt, what) })
				}
			}
			needs := func(code, why string) {
				if _, ok := responses[code]; !ok {
					gap("%s: %s not documented (%s)", at, code, why)
				}
			}
			if slices.ContainsFunc(asSlice(op["security"]), func(s any) bool { _, ok := asMap(s)["bearer"]; return ok }) {
				needs("401", "bearer key")
			}
			if hasPath {
				needs("404", "path parameters")
			}
			if validated && strings.HasPrefix(path, "/v1/") {
				needs("422", "validated input")
			}
		}
	}
	sort.Strings(gaps)
	return gaps
}

// propertyGaps reports each property of s (recursively through arrays,
// nested objects and combinators) without a description.
func propertyGaps(s map[string]any, prefix string, report func(prop, what string)) {
	if s == nil {
		return
	}
	for name, p := range asMap(s["properties"]) {
		p := asMap(p)
		if str(p["description"]) == "" && p["$ref"] == nil {
			report(prefix+name, "no description")
		}
		propertyGaps(p, prefix+name+".", report)
	}
	if items := asMap(s["items"]); items != nil {
		propertyGaps(items, strings.TrimSuffix(prefix, ".")+"[].", report)
	}
	if ap := asMap(s["additionalProperties"]); ap != nil {
		propertyGaps(ap, strings.TrimSuffix(prefix, ".")+"{}.", report)
	}
	for _, k := range []string{"oneOf", "anyOf", "allOf"} {
		for _, sub := range asSlice(s[k]) {
			propertyGaps(asMap(sub), prefix, report)
		}
	}
}

// direction says which way a body goes: a request's example leaves out
// readOnly properties, a response's writeOnly ones.
type direction int

const (
	inRequest direction = iota
	inResponse
)

// bodyExampleGaps checks a media type whose schema is an object: it needs
// an example (schema or media level) that the schema accepts and that
// shows every property.
func bodyExampleGaps(doc map[string]any, media map[string]any, dir direction, report func(string)) {
	schema := resolve(doc, asMap(media["schema"]))
	if schema == nil || !isType(schema, "object") {
		return
	}
	var examples []any
	if ex, ok := media["example"]; ok {
		examples = append(examples, ex)
	}
	for _, ex := range asMap(media["examples"]) {
		examples = append(examples, asMap(ex)["value"])
	}
	examples = append(examples, asSlice(schema["examples"])...)
	if ex, ok := schema["example"]; ok {
		examples = append(examples, ex)
	}
	if len(examples) == 0 {
		report("no example on the schema or the media type")
		return
	}
	// A property is missing when no example shows it: a schema may carry
	// one example per shape (failed and succeeded), each field shown in the
	// shape where it is set.
	var missing []string
	for i, ex := range examples {
		if err := exampleError(doc, schema, ex, ""); err != "" {
			report("example is not valid against the schema: " + err)
			continue
		}
		m := exampleMissing(doc, asMap(media["schema"]), ex, dir, "", map[string]bool{})
		if i == 0 {
			missing = m
		} else {
			missing = slices.DeleteFunc(missing, func(p string) bool { return !slices.Contains(m, p) })
		}
	}
	name := strings.TrimPrefix(str(asMap(media["schema"])["$ref"]), "#/components/schemas/")
	for _, m := range missing {
		if !slices.Contains(neverShown[name], m) {
			report("example does not show " + m)
		}
	}
}

// neverShown are properties of a body schema that the answer it documents
// never carries, so its example cannot show them truthfully: the schema is
// shared with other answers (or comes from Huma) and the field is set only
// there.
var neverShown = map[string][]string{
	// A key just created has never been used nor revoked.
	"CreatedAPIKey": {"lastUsedAt", "revokedAt"},
	// Releasing a hold always answers a payment no longer held.
	"ReleaseHoldOutputBody": {"heldAt", "holdReason"},
	// The body of a delivery is only in get-delivery, not in lists.
	"DeliveryList": {"items[].body"},
	// Requeued records were failed: none has succeeded.
	"RetryFulfilmentsOutputBody": {"requeued[].resultReference", "requeued[].succeededAt"},
	// Huma's problem type: partnerhub never sets instance.
	"ErrorModel": {"instance"},
}

// exampleMissing lists the properties of s (by path) that the example v
// leaves out, following $refs, nested objects and array items; an array of
// objects must show one. seen stops at a schema already on the way down
// (a recursive schema need not be shown to infinity).
func exampleMissing(doc, s map[string]any, v any, dir direction, at string, seen map[string]bool) []string {
	if ref := str(s["$ref"]); ref != "" {
		if seen[ref] {
			return nil
		}
		seen[ref] = true
		defer delete(seen, ref)
	}
	s = resolve(doc, s)
	if s == nil {
		return nil
	}
	name := func(n string) string {
		if at == "" {
			return n
		}
		return at + "." + n
	}
	var missing []string
	switch v := v.(type) {
	case map[string]any:
		props := asMap(s["properties"])
		for _, k := range slices.Sorted(maps.Keys(props)) {
			p := resolve(doc, asMap(props[k]))
			if (dir == inRequest && p["readOnly"] == true) || (dir == inResponse && p["writeOnly"] == true) {
				continue
			}
			pv, ok := v[k]
			if !ok {
				missing = append(missing, name(k))
				continue
			}
			missing = append(missing, exampleMissing(doc, asMap(props[k]), pv, dir, name(k), seen)...)
		}
	case []any:
		// As across examples: missing when no item shows it.
		items := asMap(s["items"])
		if len(v) == 0 {
			if isType(resolve(doc, items), "object") && len(asMap(resolve(doc, items)["properties"])) > 0 {
				missing = append(missing, at+"[] (an empty list of objects)")
			}
			return missing
		}
		inAll := exampleMissing(doc, items, v[0], dir, at+"[]", seen)
		for _, item := range v[1:] {
			m := exampleMissing(doc, items, item, dir, at+"[]", seen)
			inAll = slices.DeleteFunc(inAll, func(p string) bool { return !slices.Contains(m, p) })
		}
		missing = append(missing, inAll...)
	}
	return missing
}

// exampleError is a structural check of v against s: types, required and
// unknown properties, enums. It is what a reader would trip on; Spectral's
// oas3-valid-*-example rules run a full JSON Schema validator in CI.
func exampleError(doc map[string]any, s map[string]any, v any, at string) string {
	s = resolve(doc, s)
	if s == nil {
		return ""
	}
	name := func(n string) string {
		if at == "" {
			return n
		}
		return at + "." + n
	}
	if v == nil {
		if isType(s, "null") || len(types(s)) == 0 {
			return ""
		}
		return fmt.Sprintf("%s: null where %v is expected", strings.TrimPrefix(at, "."), types(s))
	}
	if len(types(s)) == 0 {
		return "" // no type: any value
	}
	if enum := asSlice(s["enum"]); enum != nil && !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
		return fmt.Sprintf("%s: %v not in enum", at, v)
	}
	switch v := v.(type) {
	case map[string]any:
		if !isType(s, "object") {
			return fmt.Sprintf("%s: an object where %v is expected", at, types(s))
		}
		props := asMap(s["properties"])
		for _, r := range asSlice(s["required"]) {
			if _, ok := v[str(r)]; !ok {
				return fmt.Sprintf("%s: required property missing", name(str(r)))
			}
		}
		for k, pv := range v {
			p, ok := props[k]
			if !ok {
				if s["additionalProperties"] == false {
					return fmt.Sprintf("%s: not a property", name(k))
				}
				p = s["additionalProperties"]
			}
			if err := exampleError(doc, asMap(p), pv, name(k)); err != "" {
				return err
			}
		}
	case []any:
		if !isType(s, "array") {
			return fmt.Sprintf("%s: an array where %v is expected", at, types(s))
		}
		for i, item := range v {
			if err := exampleError(doc, asMap(s["items"]), item, fmt.Sprintf("%s[%d]", at, i)); err != "" {
				return err
			}
		}
	case string:
		if !isType(s, "string") {
			return fmt.Sprintf("%s: expected %s", at, strings.Join(types(s), " or "))
		}
	case bool:
		if !isType(s, "boolean") {
			return fmt.Sprintf("%s: expected %s", at, strings.Join(types(s), " or "))
		}
	case int, int64, float64, uint64:
		if !isType(s, "number") && !isType(s, "integer") {
			return fmt.Sprintf("%s: expected %s", at, strings.Join(types(s), " or "))
		}
	}
	return ""
}

// selfExplaining is a parameter schema whose values need no example.
func selfExplaining(s map[string]any) bool {
	return s["enum"] != nil || isType(s, "boolean") || s["default"] != nil
}

func hasExample(m map[string]any) bool {
	return m["example"] != nil || len(asSlice(m["examples"])) > 0 || len(asMap(m["examples"])) > 0
}

// resolve follows a local $ref.
func resolve(doc, s map[string]any) map[string]any {
	for s != nil && s["$ref"] != nil {
		name := strings.TrimPrefix(str(s["$ref"]), "#/components/schemas/")
		s = asMap(asMap(asMap(doc["components"])["schemas"])[name])
	}
	return s
}

func types(s map[string]any) []string {
	switch t := s["type"].(type) {
	case string:
		return []string{t}
	case []any:
		out := make([]string, 0, len(t))
		for _, x := range t {
			out = append(out, str(x))
		}
		return out
	}
	if s["properties"] != nil {
		return []string{"object"}
	}
	return nil
}

func isType(s map[string]any, t string) bool {
	ts := types(s)
	return slices.Contains(ts, t) || (t == "number" && slices.Contains(ts, "integer"))
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// TestPaymentTimelineSchemaIsItsOwn guards against a schema name collision:
// webhookdoc.go publishes Pay1st's webhook body as "PaymentEvent" straight
// into the registry, so a Go type of that name silently took its schema and
// generated clients dropped the timeline's applied/flagged/receivedAt.
func TestPaymentTimelineSchemaIsItsOwn(t *testing.T) {
	t.Parallel()
	raw, err := newAPI(http.NewServeMux(), Deps{}).OpenAPI().MarshalJSON()
	require.NoError(t, err)
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Items struct {
						Ref string `json:"$ref"`
					} `json:"items"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	schemas := doc.Components.Schemas
	ref := schemas["PaymentTimeline"].Properties["events"].Items.Ref
	require.NotEmpty(t, ref, "PaymentTimeline.events items")
	events := schemas[strings.TrimPrefix(ref, "#/components/schemas/")]
	for _, field := range []string{"status", "updatedDate", "applied", "flagged", "receivedAt"} {
		require.Contains(t, events.Properties, field, "%s: the timeline event's schema", ref)
	}
	require.Contains(t, schemas["PaymentEvent"].Properties, "reference", "PaymentEvent: Pay1st's webhook body")
}
