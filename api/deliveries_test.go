package api_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/tenant"
)

func TestDeliveriesLog(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	key := b.createTenant(t, "acme", 1042)
	acme, err := b.tenants.Get(ctx, "acme")
	require.NoError(t, err)
	viewer, err := b.tenants.CreateTenantKey(ctx, acme, tenant.RoleViewer, "v")
	require.NoError(t, err)

	good := eventBody(t, "acme", 1042, "C-LOG-1-P", nil)
	st, _, _ := b.post(t, "/pay1st/staging/acme/payment-events", good, signedHeaders(key, good, time.Now()))
	require.Equal(t, http.StatusOK, st)
	for i := range 3 {
		body := eventBody(t, "acme", 1042, "C-LOG-BAD-"+strconv.Itoa(i)+"-P", nil)
		st, _, _ := b.post(t, "/pay1st/staging/acme/payment-events", body, signedHeaders("wrong", body, time.Now()))
		require.Equal(t, http.StatusUnauthorized, st)
	}
	st, _, _ = b.post(t, "/pay1st/staging/ghost/payment-events", good, signedHeaders(key, good, time.Now()))
	require.Equal(t, http.StatusNotFound, st)

	base := "/v1/tenants/acme/environments/staging/deliveries"
	status, _, all := b.call(t, http.MethodGet, base, viewer, nil)
	require.Equal(t, http.StatusOK, status, all)
	require.Len(t, all["items"], 4, "the unknown tenant's call is not acme's")

	// Rejected only, two per page, followed to the end.
	var seen []string
	path := base + "?verdict=rejected&limit=2"
	for path != "" {
		status, _, page := b.call(t, http.MethodGet, path, viewer, nil)
		require.Equal(t, http.StatusOK, status, page)
		for _, it := range page["items"].([]any) {
			d := it.(map[string]any)
			require.Equal(t, "rejected", d["verdict"])
			require.Equal(t, "signature does not match", d["reason"])
			require.NotContains(t, d, "body", "lists carry no bodies")
			seen = append(seen, d["sessionId"].(string))
		}
		path = ""
		if next, ok := page["nextCursor"].(string); ok {
			path = base + "?verdict=rejected&limit=2&cursor=" + url.QueryEscape(next)
		}
	}
	require.Len(t, seen, 3)

	status, _, byRef := b.call(t, http.MethodGet, base+"?reference=C-LOG-1-P", viewer, nil)
	require.Equal(t, http.StatusOK, status)
	items := byRef["items"].([]any)
	require.Len(t, items, 1)
	id := int64(items[0].(map[string]any)["id"].(float64))

	status, _, one := b.call(t, http.MethodGet, base+"/"+strconv.FormatInt(id, 10), viewer, nil)
	require.Equal(t, http.StatusOK, status, one)
	require.Equal(t, string(good), one["body"], "the raw body as received")
	require.Equal(t, "utf-8", one["bodyEncoding"])
	require.Contains(t, one["headers"], "X-Signature")

	status, _, _ = b.call(t, http.MethodGet, base+"?verdict=maybe", viewer, nil)
	require.Equal(t, http.StatusUnprocessableEntity, status)
	status, _, _ = b.call(t, http.MethodGet, "/v1/deliveries", viewer, nil)
	require.Equal(t, http.StatusForbidden, status, "operators only")
	status, _, ghost := b.call(t, http.MethodGet, "/v1/deliveries?partnerCode=ghost", b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status, ghost)
	require.Len(t, ghost["items"], 1, "calls for codes no tenant has are kept too")
}
