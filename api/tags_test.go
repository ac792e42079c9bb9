package api

import (
	"net/http"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/require"
)

// TestEveryOperationTagIsDefined keeps Spectral's operation-tag-defined rule
// green: a new resource's tag needs a description in apiTags.
func TestEveryOperationTagIsDefined(t *testing.T) {
	t.Parallel()
	oapi := newAPI(http.NewServeMux(), Deps{}).OpenAPI()
	defined := map[string]bool{}
	for _, tag := range oapi.Tags {
		require.NotEmpty(t, tag.Description, "tag %q needs a description", tag.Name)
		require.False(t, defined[tag.Name], "tag %q defined twice", tag.Name)
		defined[tag.Name] = true
	}
	used := map[string]bool{}
	for path, item := range oapi.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Options, item.Head, item.Patch, item.Trace} {
			if op == nil {
				continue
			}
			require.NotEmpty(t, op.Tags, "%s %s has no tag", op.OperationID, path)
			for _, tag := range op.Tags {
				require.True(t, defined[tag], "%s uses tag %q, not in apiTags", op.OperationID, tag)
				used[tag] = true
			}
		}
	}
	for name := range defined {
		require.True(t, used[name], "tag %q is defined but no operation uses it", name)
	}
}
