package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/api"
	"github.com/partnerhub/partnerhub/internal/config"
)

// TestOpenAPIUpToDate fails when openapi.yaml drifts from the code.
// Regenerate with: go run ./cmd/partnerhub openapi > openapi.yaml
func TestOpenAPIUpToDate(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"openapi"}, &out, &bytes.Buffer{}))
	committed, err := os.ReadFile(filepath.Join("..", "..", "openapi.yaml"))
	require.NoError(t, err)
	require.Equal(t, string(committed), out.String(),
		"openapi.yaml is stale: run `go run ./cmd/partnerhub openapi > openapi.yaml`")
}

// TestOpenAPI30 checks the document client/ is generated from: the same
// API, downgraded (go generate ./client runs `openapi --3.0`).
func TestOpenAPI30(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"openapi", "--3.0"}, &out, &bytes.Buffer{}))
	want, err := api.OpenAPI30()
	require.NoError(t, err)
	require.Equal(t, string(want), out.String())
	require.Contains(t, out.String(), "openapi: 3.0.3")
}

func TestRunRejectsBadCommandsAndConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
	}{
		{"no command", nil},
		{"unknown command", []string{"launch"}},
		{"unknown flag", []string{"migrate", "--nope"}},
		{"bad value", []string{"serve", "--max-body-bytes", "-1"}},
		{"unknown openapi flag", []string{"openapi", "--3.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := run(context.Background(), tt.args, &bytes.Buffer{}, &bytes.Buffer{})
			require.ErrorIs(t, err, config.ErrInvalid)
		})
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"version"}, &out, &bytes.Buffer{}))
	require.Regexp(t, `^partnerhub .*\(api \d+\.\d+\.\d+\)\n$`, out.String())
}
