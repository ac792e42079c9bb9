package pay1st

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestErrorBodyWireShape(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(ErrorBody{ErrorMessage: "unknown partner", ErrorCode: CodeNotFound, SessionID: "s-1"})
	require.NoError(t, err)
	require.JSONEq(t, `{"errorMessage":"unknown partner","errorCode":"NOT_FOUND","sessionId":"s-1"}`, string(b))
}

func TestErrorCodesAreDistinct(t *testing.T) {
	t.Parallel()
	codes := []string{CodeNotFound, CodeUnauthorized, CodeMalformed, CodeInvalidField,
		CodePayloadTooLarge, CodeTenantMismatch, CodeUnavailable, CodeInternal, CodeRateLimited, CodeUserNotFound,
		CodeUnknownBundle, CodeNotSuccessful, CodeReferenceTaken, CodePluginFailed}
	seen := map[string]bool{}
	for _, c := range codes {
		require.NotEmpty(t, c)
		require.False(t, seen[c], c)
		seen[c] = true
	}
}
