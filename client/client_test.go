package client_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/api"
	"github.com/partnerhub/partnerhub/client"
)

// TestClientUpToDate fails when the committed 3.0 document or client.gen.go
// differ from what `go generate ./client` makes from the API now. It runs the
// pinned generator (the tool directive in go.mod) into a temporary directory.
func TestClientUpToDate(t *testing.T) {
	t.Parallel()
	doc, err := api.OpenAPI30()
	require.NoError(t, err)
	committedDoc, err := os.ReadFile("openapi-3.0.yaml")
	require.NoError(t, err)
	// True, not Equal: a diff of thousands of lines helps nobody here.
	require.True(t, bytes.Equal(doc, committedDoc), "client/openapi-3.0.yaml is stale: run `go generate ./client`")

	dir := t.TempDir()
	in, out := filepath.Join(dir, "openapi-3.0.yaml"), filepath.Join(dir, "client.gen.go")
	require.NoError(t, os.WriteFile(in, doc, 0o600))
	cmd := exec.CommandContext(t.Context(), "go", "tool", "oapi-codegen", "-config", "oapi-codegen.yaml", "-o", out, in)
	output, err := cmd.CombinedOutput()
	require.NoError(t, err, "oapi-codegen: %s", output)
	fresh, err := os.ReadFile(out)
	require.NoError(t, err)
	committed, err := os.ReadFile("client.gen.go")
	require.NoError(t, err)
	require.True(t, bytes.Equal(fresh, committed), "client/client.gen.go is stale: run `go generate ./client`")
}

// TestClientDecodesProblems shows that the API's documented errors arrive
// typed: a /v1 call without a key gets the 401 problem, not just a status.
func TestClientDecodesProblems(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(api.New(api.Deps{}))
	t.Cleanup(srv.Close)
	c, err := client.NewClientWithResponses(srv.URL)
	require.NoError(t, err)

	health, err := c.GetHealthWithResponse(context.Background())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, health.StatusCode())
	require.NotNil(t, health.JSON200)
	require.Equal(t, client.HealthOutputBodyStatus("ok"), health.JSON200.Status)

	list, err := c.ListTenantsWithResponse(context.Background(), &client.ListTenantsParams{})
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, list.StatusCode())
	require.Nil(t, list.JSON200)
	require.NotNil(t, list.ApplicationproblemJSON401, "body: %s", list.Body)
	require.NotNil(t, list.ApplicationproblemJSON401.Status)
	require.EqualValues(t, http.StatusUnauthorized, *list.ApplicationproblemJSON401.Status)
}
