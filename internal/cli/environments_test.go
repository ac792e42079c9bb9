package cli

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/client"
)

func TestParseCredentials(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	for _, tc := range []struct {
		name string
		in   string
		want client.SetCredentialsBody
		ok   bool
	}{
		{"yaml", "apiKey: k\napiSecret: s3cr3t\n", client.SetCredentialsBody{ApiKey: s("k"), ApiSecret: s("s3cr3t")}, true},
		{"json", `{"signingKey":"sk","basicAuthUsername":"u","basicAuthPassword":"p"}`, client.SetCredentialsBody{SigningKey: s("sk"), BasicAuthUsername: s("u"), BasicAuthPassword: s("p")}, true},
		{"empty", "", client.SetCredentialsBody{}, false},
		{"empty mapping", "{}", client.SetCredentialsBody{}, false},
		{"typo", "apiSecrett: x\n", client.SetCredentialsBody{}, false},
		{"not a mapping", "- a\n- b\n", client.SetCredentialsBody{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseCredentials([]byte(tc.in))
			if !tc.ok {
				require.Equal(t, ExitUsage, ExitCode(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// A malformed document's error must not quote it: it holds secrets.
func TestParseCredentialsErrorHidesInput(t *testing.T) {
	t.Parallel()
	_, err := parseCredentials([]byte("apiSecret: [top-secret-value\n"))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "top-secret-value")
}
