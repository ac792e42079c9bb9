package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// catalogAPI serves one product with one bundle whose Pay1st id is 4711,
// and counts the writes.
func catalogAPI(t *testing.T) (*atomic.Int32, string) {
	t.Helper()
	var writes atomic.Int32
	srv := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method != http.MethodGet:
			writes.Add(1)
			w.WriteHeader(http.StatusOK)
			fmt.Fprint(w, `{}`)
		case strings.HasSuffix(r.URL.Path, "/products"):
			fmt.Fprint(w, `{"items":[{"id":1,"name":"Gold","fulfilmentMethod":"manual","countries":["NG"]}]}`)
		case strings.HasSuffix(r.URL.Path, "/bundles"):
			fmt.Fprint(w, `{"items":[{"id":9,"productId":1,"sku":"gold-100","name":"100 Gold","quantity":"100",`+
				`"digitalCurrency":{"code":"GLD","name":"Gold"},"pay1stProductBundleId":4711,`+
				`"prices":[{"countryCode":"NG","currencyCode":"NGN","amount":"1500"}]}]}`)
		default:
			http.NotFound(w, r)
		}
	})
	return &writes, srv.URL
}

// Export leaves Pay1st ids out (each environment's Console has its own):
// a file imported elsewhere keeps the target's. --with-pay1st-ids keeps
// them, for a backup of the same environment.
func TestCatalogExportLeavesPay1stIDsOut(t *testing.T) {
	t.Parallel()
	_, url := catalogAPI(t)
	e, out, _ := testEnv(t, url, false)
	require.NoError(t, catalogExport(context.Background(), e, []string{"--tenant", "acme", "--env", "staging"}))
	require.Contains(t, out.String(), "sku: gold-100")
	require.NotContains(t, out.String(), "pay1stProductBundleId")
	require.NotContains(t, out.String(), "4711")

	e, out, _ = testEnv(t, url, true)
	require.NoError(t, catalogExport(context.Background(), e, []string{"--tenant", "acme", "--env", "staging", "--with-pay1st-ids"}))
	var doc catalogDoc
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc), out.String())
	require.Equal(t, int64(4711), *doc.Products[0].Bundles[0].Pay1stProductBundleID)

	// Re-importing an export without ids changes nothing: absent keeps.
	file := filepath.Join(t.TempDir(), "c.yaml")
	e, out, _ = testEnv(t, url, false)
	require.NoError(t, catalogExport(context.Background(), e, []string{"--tenant", "acme", "--env", "staging", "--file", file}))
	require.Empty(t, out.String())
	e, out, _ = testEnv(t, url, false)
	require.NoError(t, catalogImport(context.Background(), e, []string{"--tenant", "acme", "--env", "staging", "--file", file, "--check"}))
	require.Contains(t, out.String(), "No changes")
}

// catalog import with --output json on a terminal shows the diff on
// stderr before asking; a no applies nothing (exit 1).
func TestCatalogImportJSONShowsDiffBeforeAsking(t *testing.T) {
	t.Parallel()
	writes, url := catalogAPI(t)
	file := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(file, []byte("products:\n  - name: Gold\n    description: new\n    fulfilmentMethod: manual\n    countries: [NG]\n"), 0o644))
	e, out, errb := testEnv(t, url, true)
	e.inTerminal, e.in = true, strings.NewReader("n\n")
	err := catalogImport(context.Background(), e, []string{"--tenant", "acme", "--env", "staging", "--file", file})
	require.Equal(t, ExitFailed, ExitCode(err), "%v", err)
	require.ErrorContains(t, err, "not applied")
	stderr := errb.String()
	diff, question := strings.Index(stderr, "change  product  Gold  description"), strings.Index(stderr, "[y/N]")
	require.True(t, diff >= 0 && question > diff, "the diff before the question:\n%s", stderr)
	require.Empty(t, out.String())
	require.Zero(t, writes.Load())
}
