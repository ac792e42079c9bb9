package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// --bundle is always a SKU, even all digits; --bundle-id is the id.
func TestTestTxBundleSKUOrID(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got map[string]any
	srv := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = nil
		_ = json.NewDecoder(r.Body).Decode(&got)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"partnerReference":"t-1","status":"succeeded","steps":[]}`))
	})
	for _, tc := range []struct {
		args []string
		key  string
		want any
	}{
		{[]string{"--bundle", "12345"}, "sku", "12345"},
		{[]string{"--bundle", "gold-100"}, "sku", "gold-100"},
		{[]string{"--bundle-id", "12"}, "bundleId", float64(12)},
	} {
		e, _, _ := testEnv(t, srv.URL, false)
		require.NoError(t, testTxRun(context.Background(), e, append([]string{"--tenant", "acme", "--player", "1"}, tc.args...)))
		mu.Lock()
		require.Equal(t, tc.want, got[tc.key], tc.args)
		require.Len(t, got, 2, "only the player and the bundle: %v", got)
		mu.Unlock()
	}
}
