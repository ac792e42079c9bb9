package tenant_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/pgtest"
	"github.com/partnerhub/partnerhub/internal/seal"
	"github.com/partnerhub/partnerhub/tenant"
)

// clock is a settable time source for grace periods.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type envBundle struct {
	bundle
	clk  *clock
	acme tenant.Tenant
}

// setupEnv is setup with a settable clock and a grace period, and one
// tenant, acme.
func setupEnv(t *testing.T, grace time.Duration) envBundle {
	t.Helper()
	pool := pgtest.New(t)
	box, err := seal.New(bytes.Repeat([]byte{1}, 32))
	require.NoError(t, err)
	clk := &clock{t: time.Date(2026, 3, 17, 8, 0, 0, 0, time.UTC)}
	svc := tenant.NewService(pool, box, tenant.WithClock(clk.Now), tenant.WithSecretGrace(grace))
	c, err := svc.Create(context.Background(), tenant.CreateParams{PartnerCode: "acme", PartnerID: 1, Name: "Acme"})
	require.NoError(t, err)
	return envBundle{bundle: bundle{pool: pool, svc: svc}, clk: clk, acme: c.Tenant}
}

func strp(v string) *string { return &v }

func TestEnvironmentsAfterCreate(t *testing.T) {
	t.Parallel()
	b := setupEnv(t, time.Hour)
	envs, err := b.svc.Environments(context.Background(), b.acme)
	require.NoError(t, err)
	require.Len(t, envs, 2)
	require.Equal(t, tenant.Staging, envs[0].Name)
	require.Equal(t, tenant.Production, envs[1].Name)
	for _, e := range envs {
		require.Equal(t, tenant.AuthSignature, e.AuthMode)
		require.Empty(t, e.IPAllowList)
		require.Equal(t, tenant.Callbacks{}, e.Callbacks)
		require.False(t, e.Credentials.APIKey.Set)
		require.False(t, e.Credentials.WebhookToken.Set)
	}
	require.True(t, envs[0].Credentials.SigningKey.Set, "staging gets a Signing Key at creation")
	require.False(t, envs[0].Credentials.SigningKey.UpdatedAt.IsZero(), "set at creation")
	require.False(t, envs[1].Credentials.SigningKey.Set)

	_, err = b.svc.Environment(context.Background(), b.acme, "sandbox")
	require.ErrorIs(t, err, tenant.ErrNotFound)
}

func TestSetCredentialsSealedAndWriteOnly(t *testing.T) {
	t.Parallel()
	b := setupEnv(t, time.Hour)
	ctx := context.Background()
	secrets := map[string]string{
		"api_key": "pk-live-1111aaaa", "api_secret": "sk-live-2222bbbb", "signing_key": "sign-3333cccc-dddd",
		"basic_auth_username": "apiuser-4444", "basic_auth_password": "apipassword-5555",
	}
	e, err := b.svc.SetCredentials(ctx, b.acme, tenant.Production, tenant.Credentials{
		APIKey: strp(secrets["api_key"]), APISecret: strp(secrets["api_secret"]), SigningKey: strp(secrets["signing_key"]),
		BasicAuthUsername: strp(secrets["basic_auth_username"]), BasicAuthPassword: strp(secrets["basic_auth_password"]),
	})
	require.NoError(t, err)
	now := b.clk.Now()
	for name, st := range map[string]tenant.SecretState{
		"apiKey": e.Credentials.APIKey, "apiSecret": e.Credentials.APISecret, "signingKey": e.Credentials.SigningKey,
		"basicAuthUsername": e.Credentials.BasicAuthUsername, "basicAuthPassword": e.Credentials.BasicAuthPassword,
	} {
		require.True(t, st.Set, name)
		require.True(t, now.Equal(st.UpdatedAt), name)
	}
	require.True(t, e.Credentials.PreviousSigningKeyUntil.IsZero(), "production had no key to replace")

	// At rest: sealed, never the clear value, and bound to its column.
	for col, secret := range secrets {
		var stored []byte
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT `+col+` FROM environments WHERE tenant_id = $1 AND name = 'production'`, b.acme.ID).Scan(&stored))
		require.NotEmpty(t, stored, col)
		require.False(t, bytes.Contains(stored, []byte(secret)), col)
	}
	_, err = b.pool.Exec(ctx, `UPDATE environments SET signing_key = api_key WHERE tenant_id = $1 AND name = 'production'`, b.acme.ID)
	require.NoError(t, err)
	_, err = b.svc.Env(ctx, "acme", tenant.Production)
	require.ErrorIs(t, err, seal.ErrOpen, "a value moved to another column does not open")
	require.NotContains(t, err.Error(), secrets["api_key"])

	// Nothing secret in the audit log; the fields set are named.
	var details string
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT details::text FROM audit_log WHERE action = $1`, tenant.ActionEnvCredentialsSet).Scan(&details))
	require.Contains(t, details, "basicAuthPassword")
	for _, secret := range secrets {
		require.NotContains(t, details, secret)
	}
}

func TestCredentialValidationNeverQuotesTheValue(t *testing.T) {
	t.Parallel()
	b := setupEnv(t, time.Hour)
	tests := []struct {
		name  string
		creds tenant.Credentials
		field string
	}{
		{"empty", tenant.Credentials{APIKey: strp("")}, "apiKey"},
		{"too long", tenant.Credentials{APISecret: strp(strings.Repeat("s", tenant.MaxCredentialLen+1))}, "apiSecret"},
		{"control character", tenant.Credentials{SigningKey: strp("secret\nvalue")}, "signingKey"},
		{"surrounding space", tenant.Credentials{BasicAuthPassword: strp(" secret-value")}, "basicAuthPassword"},
		{"colon in username", tenant.Credentials{BasicAuthUsername: strp("secret:value")}, "basicAuthUsername"},
		{"invalid UTF-8", tenant.Credentials{APIKey: strp("secret\xffvalue")}, "apiKey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.svc.SetCredentials(context.Background(), b.acme, tenant.Staging, tt.creds)
			var fe *tenant.FieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tt.field, fe.Field)
			require.NotContains(t, err.Error(), "secret")
		})
	}
	_, err := b.svc.SetCredentials(context.Background(), b.acme, "sandbox", tenant.Credentials{APIKey: strp("k")})
	require.ErrorIs(t, err, tenant.ErrNotFound)
}

func TestSigningKeyRotationGrace(t *testing.T) {
	t.Parallel()
	b := setupEnv(t, time.Hour)
	ctx := context.Background()
	set := func(key string) tenant.EnvSettings {
		t.Helper()
		e, err := b.svc.SetCredentials(ctx, b.acme, tenant.Production, tenant.Credentials{SigningKey: strp(key)})
		require.NoError(t, err)
		return e
	}
	keys := func() []string {
		t.Helper()
		env, err := b.svc.Env(ctx, "acme", tenant.Production)
		require.NoError(t, err)
		return env.SigningKeys(b.clk.Now())
	}
	set("key-A-0000000000")
	require.Equal(t, []string{"key-A-0000000000"}, keys())

	b.clk.Add(time.Minute)
	e := set("key-B-0000000000")
	require.True(t, b.clk.Now().Add(time.Hour).Equal(e.Credentials.PreviousSigningKeyUntil), e.Credentials.PreviousSigningKeyUntil)
	require.Equal(t, []string{"key-B-0000000000", "key-A-0000000000"}, keys(), "changes are seen at once on this node")

	e = set("key-B-0000000000")
	require.False(t, e.Credentials.PreviousSigningKeyUntil.IsZero(), "setting the same key again changes nothing")

	b.clk.Add(59 * time.Minute)
	require.Equal(t, []string{"key-B-0000000000", "key-A-0000000000"}, keys(), "still within the grace period")
	b.clk.Add(time.Minute)
	require.Equal(t, []string{"key-B-0000000000"}, keys(), "the grace period is over")
	e, err := b.svc.Environment(ctx, b.acme, tenant.Production)
	require.NoError(t, err)
	require.True(t, e.Credentials.PreviousSigningKeyUntil.IsZero())

	r, err := b.svc.RotateSigningKey(ctx, b.acme, tenant.Production)
	require.NoError(t, err)
	require.Len(t, r.Secret, 43)
	require.Equal(t, []string{r.Secret, "key-B-0000000000"}, keys())

	var actions []string
	rows, err := b.pool.Query(ctx, `SELECT action FROM audit_log WHERE tenant_id = $1 AND target = 'environment:production' ORDER BY id`, b.acme.ID)
	require.NoError(t, err)
	for rows.Next() {
		var a string
		require.NoError(t, rows.Scan(&a))
		actions = append(actions, a)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{tenant.ActionEnvCredentialsSet, tenant.ActionEnvCredentialsSet, tenant.ActionEnvCredentialsSet, tenant.ActionSigningKeyRotate}, actions)
}

func TestSigningKeyRotationWithoutGrace(t *testing.T) {
	t.Parallel()
	b := setupEnv(t, 0)
	ctx := context.Background()
	before, err := b.svc.Env(ctx, "acme", tenant.Staging)
	require.NoError(t, err)
	r, err := b.svc.RotateSigningKey(ctx, b.acme, tenant.Staging)
	require.NoError(t, err)
	require.NotEqual(t, before.SigningKey, r.Secret)
	after, err := b.svc.Env(ctx, "acme", tenant.Staging)
	require.NoError(t, err)
	require.Equal(t, []string{r.Secret}, after.SigningKeys(b.clk.Now()), "no grace: the old key stops at once")
	require.Empty(t, after.PreviousSigningKey)
}

func TestAuthModes(t *testing.T) {
	t.Parallel()
	b := setupEnv(t, time.Hour)
	ctx := context.Background()
	update := func(env string, p tenant.EnvPatch) (tenant.EnvChanged, error) {
		return b.svc.UpdateEnvironment(ctx, b.acme, env, p)
	}

	_, err := update(tenant.Production, tenant.EnvPatch{AuthMode: strp(tenant.AuthNone)})
	var fe *tenant.FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "authMode", fe.Field)
	_, err = update(tenant.Staging, tenant.EnvPatch{AuthMode: strp("open")})
	require.ErrorAs(t, err, &fe)
	c, err := update(tenant.Staging, tenant.EnvPatch{AuthMode: strp(tenant.AuthNone)})
	require.NoError(t, err)
	require.Equal(t, tenant.AuthNone, c.AuthMode)
	require.Empty(t, c.WebhookToken)

	_, err = b.svc.RotateWebhookToken(ctx, b.acme, tenant.Production)
	require.ErrorAs(t, err, &fe, "no token outside token mode")
	require.Equal(t, "authMode", fe.Field)

	c, err = update(tenant.Production, tenant.EnvPatch{AuthMode: strp(tenant.AuthToken)})
	require.NoError(t, err)
	require.Len(t, c.WebhookToken, 43)
	require.True(t, c.Credentials.WebhookToken.Set)
	first := c.WebhookToken
	env, err := b.svc.Env(ctx, "acme", tenant.Production)
	require.NoError(t, err)
	require.True(t, env.ValidWebhookToken(first, b.clk.Now()))
	require.False(t, env.ValidWebhookToken(first[:42], b.clk.Now()))
	require.False(t, env.ValidWebhookToken("", b.clk.Now()))

	c, err = update(tenant.Production, tenant.EnvPatch{AuthMode: strp(tenant.AuthToken)})
	require.NoError(t, err)
	require.Empty(t, c.WebhookToken, "already token mode: the token stays")

	r, err := b.svc.RotateWebhookToken(ctx, b.acme, tenant.Production)
	require.NoError(t, err)
	require.NotEqual(t, first, r.Secret)
	env, err = b.svc.Env(ctx, "acme", tenant.Production)
	require.NoError(t, err)
	require.True(t, env.ValidWebhookToken(r.Secret, b.clk.Now()))
	require.True(t, env.ValidWebhookToken(first, b.clk.Now()), "the replaced token verifies during the grace period")
	b.clk.Add(time.Hour)
	require.False(t, env.ValidWebhookToken(first, b.clk.Now()))

	c, err = update(tenant.Production, tenant.EnvPatch{AuthMode: strp(tenant.AuthSignature)})
	require.NoError(t, err)
	require.False(t, c.Credentials.WebhookToken.Set, "leaving token mode drops the token")
	env, err = b.svc.Env(ctx, "acme", tenant.Production)
	require.NoError(t, err)
	require.Empty(t, env.WebhookToken)
	require.Empty(t, env.PreviousWebhookToken)
}

func TestUpdateEnvironmentSettings(t *testing.T) {
	t.Parallel()
	b := setupEnv(t, time.Hour)
	ctx := context.Background()
	c, err := b.svc.UpdateEnvironment(ctx, b.acme, tenant.Staging, tenant.EnvPatch{
		IPAllowList:        &[]string{"203.0.113.0/24", "2001:db8::/32", "198.51.100.7", "203.0.113.0/24"},
		CallbackSuccessURL: strp("http://localhost:3000/ok"),
		CallbackCancelURL:  strp("https://game.example.com/cancel?x=1"),
	})
	require.NoError(t, err)
	require.Equal(t, []netip.Prefix{
		netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("198.51.100.7/32"),
	}, c.IPAllowList, "single addresses become /32, duplicates go")
	require.Equal(t, tenant.Callbacks{Success: "http://localhost:3000/ok", Cancel: "https://game.example.com/cancel?x=1"}, c.Callbacks)

	// Absent fields stay; "" and [] clear.
	c, err = b.svc.UpdateEnvironment(ctx, b.acme, tenant.Staging, tenant.EnvPatch{CallbackSuccessURL: strp(""), IPAllowList: &[]string{}})
	require.NoError(t, err)
	require.Empty(t, c.IPAllowList)
	require.Equal(t, tenant.Callbacks{Cancel: "https://game.example.com/cancel?x=1"}, c.Callbacks)

	_, err = b.svc.UpdateEnvironment(ctx, b.acme, tenant.Production, tenant.EnvPatch{CallbackFailureURL: strp("http://game.example.com/f")})
	var fe *tenant.FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "callbackFailureUrl", fe.Field)
	e, err := b.svc.Environment(ctx, b.acme, tenant.Production)
	require.NoError(t, err)
	require.Empty(t, e.Callbacks.Failure, "a refused change writes nothing")
}

func TestValidCallbackURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env, url string
		ok       bool
	}{
		{tenant.Production, "https://game.example.com/pay/success", true},
		{tenant.Production, "https://game.example.com:8443/p?a=b#frag", true},
		{tenant.Production, "", true},
		{tenant.Staging, "http://localhost:3000/ok", true},
		{tenant.Production, "http://game.example.com/ok", false},
		{tenant.Production, "HTTP://game.example.com/ok", false},
		{tenant.Staging, "ftp://game.example.com/ok", false},
		{tenant.Staging, "javascript:alert(1)", false},
		{tenant.Staging, "/relative/path", false},
		{tenant.Staging, "game.example.com/ok", false},
		{tenant.Staging, "https:///no-host", false},
		{tenant.Staging, "https://user:pass@game.example.com/", false},
		{tenant.Staging, "https://game.example.com/a b", false},
		{tenant.Staging, "https://game.example.com/\n", false},
		{tenant.Staging, "https://game.example.com/" + strings.Repeat("a", tenant.MaxCallbackURLLen), false},
		{tenant.Staging, "https://game.example.com/" + strings.Repeat("a", tenant.MaxCallbackURLLen-len("https://game.example.com/")), true},
	}
	for _, tt := range tests {
		problem := tenant.ValidCallbackURL(tt.env, tt.url)
		require.Equal(t, tt.ok, problem == "", "%s %.60q: %s", tt.env, tt.url, problem)
	}
}

func TestParseAllowList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		entry string
		want  string // the prefix, or the field error's field
		ok    bool
	}{
		{"203.0.113.0/24", "203.0.113.0/24", true},
		{"203.0.113.9", "203.0.113.9/32", true},
		{"2001:db8::/32", "2001:db8::/32", true},
		{"2001:db8::1", "2001:db8::1/128", true},
		{"0.0.0.0/0", "0.0.0.0/0", true},
		{"203.0.113.9/24", "ipAllowList[0]", false},
		{"203.0.113.0/33", "ipAllowList[0]", false},
		{"not-an-ip", "ipAllowList[0]", false},
		{"fe80::1%eth0", "ipAllowList[0]", false},
		{"::ffff:203.0.113.9", "ipAllowList[0]", false},
		{"", "ipAllowList[0]", false},
	}
	for _, tt := range tests {
		got, err := tenant.ParseAllowList([]string{tt.entry})
		if tt.ok {
			require.NoError(t, err, tt.entry)
			require.Equal(t, []netip.Prefix{netip.MustParsePrefix(tt.want)}, got)
			continue
		}
		var fe *tenant.FieldError
		require.ErrorAs(t, err, &fe, tt.entry)
		require.Equal(t, tt.want, fe.Field)
	}
	_, err := tenant.ParseAllowList(make([]string, tenant.MaxAllowListEntries+1))
	var fe *tenant.FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "ipAllowList", fe.Field)
	list := make([]string, tenant.MaxAllowListEntries)
	for i := range list {
		list[i] = netip.AddrFrom4([4]byte{10, 0, byte(i), 0}).String() + "/24"
	}
	got, err := tenant.ParseAllowList(list)
	require.NoError(t, err)
	require.Len(t, got, tenant.MaxAllowListEntries)
}

func TestEnvChecks(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 17, 8, 0, 0, 0, time.UTC)
	e := tenant.Env{
		SigningKey: "new", PreviousSigningKey: "old", PreviousSigningKeyUntil: now.Add(time.Second),
		WebhookToken: "tok-new-0123456789", PreviousWebhookToken: "tok-old-0123456789", PreviousWebhookTokenUntil: now,
		IPAllowList: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::/32")},
	}
	require.Equal(t, []string{"new", "old"}, e.SigningKeys(now))
	require.Equal(t, []string{"new"}, e.SigningKeys(now.Add(time.Second)))
	require.Empty(t, tenant.Env{}.SigningKeys(now))
	require.True(t, e.ValidWebhookToken("tok-new-0123456789", now))
	require.False(t, e.ValidWebhookToken("tok-old-0123456789", now), "expired at now")

	for addr, want := range map[string]bool{
		"203.0.113.1": true, "203.0.114.1": false, "::ffff:203.0.113.1": true, "2001:db8::5": true,
		"2001:db9::5": false, "127.0.0.1": false, "fe80::1%eth0": false,
	} {
		require.Equal(t, want, e.AllowsAddr(netip.MustParseAddr(addr)), addr)
	}
	require.True(t, tenant.Env{}.AllowsAddr(netip.MustParseAddr("192.0.2.1")), "empty list: anyone")

	body := []byte(`{"partnerWebhookUrl":"https://hub/pay1st/staging/acme/payment-events?token=tok-new-0123456789","x":"tok-old-0123456789"}`)
	red := string(e.RedactWebhookTokens(body))
	require.NotContains(t, red, "tok-new")
	require.NotContains(t, red, "tok-old")
	require.Contains(t, red, "?token="+tenant.RedactedToken)
	same := []byte(`{"a":1}`)
	require.Equal(t, same, tenant.Env{}.RedactWebhookTokens(same))
}

func TestIntegrationURLs(t *testing.T) {
	t.Parallel()
	urls := tenant.IntegrationURLs("https://hub.example.com/", "acme", tenant.Production, tenant.AuthSignature)
	got := map[string]string{}
	var names []string
	for _, u := range urls {
		got[u.Key] = u.URL
		names = append(names, u.Name)
		require.NotEmpty(t, u.Description)
	}
	base := "https://hub.example.com/pay1st/production/acme"
	require.Equal(t, map[string]string{
		"webhookUrl":         base + "/payment-events",
		"callbackSuccessUrl": base + "/return/success",
		"callbackFailureUrl": base + "/return/failure",
		"callbackPendingUrl": base + "/return/pending",
		"callbackCancelUrl":  base + "/return/cancel",
		"summaryWebhookUrl":  base + "/summary",
		"userInfoWebhookUrl": base + "/user-info",
	}, got)
	require.Equal(t, []string{"Webhook URL", "Success Callback URL", "Failure Callback URL", "Pending Callback URL",
		"Cancel Callback URL", "Summary Webhook URL", "User Info Webhook URL"}, names, "the seed's names, in its order")

	tok := tenant.IntegrationURLs("https://hub.example.com", "acme", tenant.Staging, tenant.AuthToken)
	require.Equal(t, "https://hub.example.com/pay1st/staging/acme/payment-events?token=<your webhook token>", tok[0].URL)
	require.Contains(t, tok[0].Description, "<your webhook token>")
	require.Contains(t, tok[1].Description, "issue 4")
}

func TestEnvLogValueHidesSecrets(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	env := tenant.Env{PartnerCode: "acme", Name: "staging", AuthMode: "token", SigningKey: "sk-SECRET",
		PreviousSigningKey: "old-SECRET", WebhookToken: "tok-SECRET", PreviousWebhookToken: "oldtok-SECRET"}
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("resolved", "env", env)
	require.Contains(t, buf.String(), `"partner_code":"acme"`)
	require.NotContains(t, buf.String(), "SECRET")
}
