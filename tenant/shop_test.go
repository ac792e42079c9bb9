package tenant_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/tenant"
)

func TestEnvCarriesBasicAuthAndCallbacks(t *testing.T) {
	t.Parallel()
	b := setupEnv(t, 0)
	ctx := context.Background()

	env, err := b.svc.Env(ctx, "acme", tenant.Staging)
	require.NoError(t, err)
	require.Empty(t, env.BasicAuthUsername)
	require.Empty(t, env.BasicAuthPassword)
	require.Equal(t, tenant.Callbacks{}, env.Callbacks)

	_, err = b.svc.SetCredentials(ctx, b.acme, tenant.Staging, tenant.Credentials{
		BasicAuthUsername: strp("apiuser"), BasicAuthPassword: strp("apipassword")})
	require.NoError(t, err)
	_, err = b.svc.UpdateEnvironment(ctx, b.acme, tenant.Staging, tenant.EnvPatch{
		CallbackSuccessURL: strp("https://game.example/ok"), CallbackPendingURL: strp("https://game.example/wait")})
	require.NoError(t, err)

	env, err = b.svc.Env(ctx, "acme", tenant.Staging) // the writes forgot the cached one
	require.NoError(t, err)
	require.Equal(t, "apiuser", env.BasicAuthUsername)
	require.Equal(t, "apipassword", env.BasicAuthPassword)
	require.Equal(t, tenant.Callbacks{Success: "https://game.example/ok", Pending: "https://game.example/wait"}, env.Callbacks)

	// Sealed at rest, and per environment.
	var sealed []byte
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT basic_auth_password FROM environments
		WHERE tenant_id = $1 AND name = 'staging'`, b.acme.ID).Scan(&sealed))
	require.NotContains(t, string(sealed), "apipassword")
	prod, err := b.svc.Env(ctx, "acme", tenant.Production)
	require.NoError(t, err)
	require.Empty(t, prod.BasicAuthPassword)

	// Never in logs.
	require.NotContains(t, env.LogValue().String(), "apipassword")
}
